"""Load: Slack and Jira requests built and signed the way Slack and Jira build them, sent with
a fixed number in flight, each timed from the first byte sent to the last byte answered."""

from __future__ import annotations

import gc
import hashlib
import hmac
import itertools
import json
import math
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import pycurl
import requests

from benchmarks.sites import GENERAL, SIGNING_SECRET, TEAM, WEBHOOK_SECRET
from clients.jira_client import JiraIssue, JiraUser
from simulators.jira_site.webhooks import issue_json, user_json

FORM = "application/x-www-form-urlencoded"
JSON = "application/json"
_ids = itertools.count(1)


@dataclass(frozen=True)
class SlackRequest:
    body: bytes
    content_type: str = FORM
    headers: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Sample:
    sent: float  # perf_counter when the request went out
    latency: float
    status: int


def unique(prefix: str) -> str:
    return f"{prefix}{next(_ids):07d}"


# -- bodies -----------------------------------------------------------------------------------


def slash_command(
    text: str, *, response_url: str, channel: str = GENERAL, user: str = "U0ALICE"
) -> SlackRequest:
    form = {
        "token": "deprecated",
        "team_id": TEAM,
        "team_domain": "bench",
        "channel_id": channel,
        "channel_name": channel.lower(),
        "user_id": user,
        "user_name": "alice",
        "command": "/jira",
        "text": text,
        "api_app_id": "A0CONNECT",
        "is_enterprise_install": "false",
        "response_url": response_url,
        "trigger_id": unique("1337.42.trigger"),
    }
    return SlackRequest(urlencode(form).encode())


def interaction(payload: dict[str, Any]) -> SlackRequest:
    return SlackRequest(urlencode({"payload": json.dumps(payload)}).encode())


def global_shortcut(callback_id: str = "create_issue", user: str = "U0ALICE") -> SlackRequest:
    return interaction(
        {
            "type": "shortcut",
            "callback_id": callback_id,
            "trigger_id": unique("4242.42.trigger"),
            "team": {"id": TEAM, "domain": "bench"},
            "user": {"id": user, "team_id": TEAM},
            "api_app_id": "A0CONNECT",
            "token": "deprecated",
        }
    )


def create_submission(view_id: str, view_hash: str, *, user: str = "U0ALICE") -> SlackRequest:
    """The create modal submitted: project OPS, a Task, a summary."""
    values = {
        "project": {"create_project": {"selected_option": {"value": "OPS"}}},
        "issue_type": {"create_issue_type": {"selected_option": {"value": "10001"}}},
        "summary": {"summary": {"type": "plain_text_input", "value": "Benchmark issue"}},
    }
    metadata = json.dumps({"source": "global", "team_id": TEAM, "user_id": user})
    return interaction(
        {
            "type": "view_submission",
            "team": {"id": TEAM, "domain": "bench"},
            "user": {"id": user, "team_id": TEAM},
            "api_app_id": "A0CONNECT",
            "view": {
                "id": view_id,
                "hash": view_hash,
                "type": "modal",
                "callback_id": "create_issue_modal",
                "private_metadata": metadata,
                "state": {"values": values},
            },
        }
    )


def event_callback(event: dict[str, Any], *, event_id: str | None = None) -> dict[str, Any]:
    return {
        "token": "deprecated",
        "team_id": TEAM,
        "api_app_id": "A0CONNECT",
        "type": "event_callback",
        "event_id": event_id or unique("Ev"),
        "event_time": int(time.time()),
        "authorizations": [{"team_id": TEAM, "user_id": "UCONNECTBOT", "is_bot": True}],
        "event": event,
    }


def link_shared_event(url: str, *, channel: str = GENERAL, user: str = "U0BOB") -> SlackRequest:
    ts = f"{time.time():.6f}"
    event = {
        "type": "link_shared",
        "channel": channel,
        "user": user,
        "message_ts": ts,
        "event_ts": ts,
        "unfurl_id": unique("Uf"),
        "source": "conversations_history",
        "links": [{"url": url, "domain": url.split("/")[2]}],
    }
    return SlackRequest(json.dumps(event_callback(event)).encode(), JSON)


def message_event(
    text: str,
    *,
    channel: str = GENERAL,
    user: str = "U0BOB",
    ts: str | None = None,
    thread_ts: str | None = None,
    event_id: str | None = None,
    retry: int | None = None,
) -> SlackRequest:
    ts = ts or f"{time.time():.6f}"
    event: dict[str, Any] = {
        "type": "message",
        "channel": channel,
        "user": user,
        "text": text,
        "ts": ts,
        "event_ts": ts,
        "channel_type": "channel",
    }
    if thread_ts:
        event["thread_ts"] = thread_ts
    envelope = event_callback(event, event_id=event_id)
    headers = (("X-Slack-Retry-Num", str(retry)), ("X-Slack-Retry-Reason", "http_timeout"))
    return SlackRequest(json.dumps(envelope).encode(), JSON, headers if retry else ())


def issue_updated_webhook(
    issue: JiraIssue, *, actor: JiraUser, field: str, old: str | None, new: str | None
) -> dict[str, Any]:
    """A Jira Cloud `jira:issue_updated` delivery with a one-item changelog."""
    return {
        "timestamp": int(time.time() * 1000),
        "webhookEvent": "jira:issue_updated",
        "issue_event_type_name": "issue_generic",
        "user": user_json(actor, cloud=True),
        "issue": issue_json(issue, cloud=True),
        "changelog": {
            "id": str(100_000 + next(_ids)),
            "items": [
                {
                    "field": field,
                    "fieldtype": "jira",
                    "fieldId": field,
                    "from": None,
                    "fromString": old,
                    "to": None,
                    "toString": new,
                }
            ],
        },
    }


def comment_created_webhook(issue: JiraIssue, *, actor: JiraUser, body: str) -> dict[str, Any]:
    """A Jira Cloud `comment_created` delivery for a new comment on `issue`."""
    number = next(_ids)
    moment = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime()) + f".{number % 1000:03d}+0000"
    author = user_json(actor, cloud=True)
    return {
        "timestamp": int(time.time() * 1000),
        "webhookEvent": "comment_created",
        "user": author,
        "issue": issue_json(issue, cloud=True),
        "comment": {
            "id": str(500_000 + number),
            "body": body,
            "author": author,
            "updateAuthor": author,
            "created": moment,
            "updated": moment,
        },
    }


# -- sending ----------------------------------------------------------------------------------


def slack_headers(request: SlackRequest, secret: str = SIGNING_SECRET) -> dict[str, str]:
    stamp = str(int(time.time()))
    base = b"v0:" + stamp.encode() + b":" + request.body
    signature = "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()
    return {
        "Content-Type": request.content_type,
        "X-Slack-Request-Timestamp": stamp,
        "X-Slack-Signature": signature,
        **dict(request.headers),
    }


def post_slack(
    url: str, request: SlackRequest, session: requests.Session | None = None
) -> requests.Response:
    sender = session or requests
    return sender.post(
        f"{url}/slack/events", data=request.body, headers=slack_headers(request), timeout=30
    )


def post_webhook(
    url: str, payload: dict[str, Any], session: requests.Session | None = None
) -> requests.Response:
    """A delivery signed the way Jira Cloud signs it."""
    body = json.dumps(payload).encode()
    digest = hmac.new(WEBHOOK_SECRET.encode(), body, hashlib.sha256).hexdigest()
    headers = {"Content-Type": JSON, "X-Hub-Signature": f"sha256={digest}"}
    sender = session or requests
    return sender.post(f"{url}/jira/webhook", data=body, headers=headers, timeout=30)


def run_load(url: str, batch: Sequence[SlackRequest], *, in_flight: int) -> list[Sample]:
    """Send every request of `batch` to `url`'s /slack/events, `in_flight` at a time, and time
    each (see `Load`)."""
    with Load(url, in_flight=in_flight) as load:
        return load.send(batch)


class Load:
    """`in_flight` kept-alive connections to `url`'s /slack/events, sending requests in a closed
    loop (each answer sends the next) and timing each.

    One thread drives libcurl's multi interface, and each request is timed by libcurl itself
    (TOTAL_TIME: from the moment it went out to its answer's last byte). With twenty Python
    threads sending through `requests`, the load generator needed more CPU per request than the
    server under test: the batch went at the harness's pace, and the time a load thread waited
    for this process's GIL to read its answer was timed as the server's. The connections stay
    open from one `send` to the next, so a warm-up sent first leaves none to be opened.

    The harness's own garbage collector is off while requests are out: its full collections (the
    fakes in this process keep every call they answered) paused the loop for up to 120 ms."""

    def __init__(self, url: str, *, in_flight: int) -> None:
        self._target = f"{url}/slack/events"
        self._handles = [pycurl.Curl() for _ in range(in_flight)]
        self._multi = pycurl.CurlMulti()

    def send(self, batch: Iterable[SlackRequest], *, duration: float | None = None) -> list[Sample]:
        """Every request of `batch`; or, given `duration` (seconds), as many as go out in
        that long, from an iterable that does not run dry first. Each is signed as it goes
        out, as Slack signs it."""
        pending = iter(batch)
        stop_at = math.inf if duration is None else time.perf_counter() + duration
        samples: list[Sample] = []
        multi = self._multi
        sent_at: dict[pycurl.Curl, float] = {}

        def send(handle: pycurl.Curl) -> None:
            if time.perf_counter() >= stop_at:
                return
            request = next(pending, None)
            if request is None:
                return
            headers = [f"{k}: {v}" for k, v in slack_headers(request).items()] + ["Expect:"]
            handle.setopt(pycurl.URL, self._target)
            handle.setopt(pycurl.POSTFIELDSIZE, len(request.body))
            handle.setopt(pycurl.COPYPOSTFIELDS, request.body)
            handle.setopt(pycurl.HTTPHEADER, headers)
            handle.setopt(pycurl.WRITEFUNCTION, len)  # the answer's body is not kept
            handle.setopt(pycurl.NOSIGNAL, 1)
            handle.setopt(pycurl.TIMEOUT, 30)
            sent_at[handle] = time.perf_counter()
            multi.add_handle(handle)

        def finished(handle: pycurl.Curl, status: int) -> None:
            multi.remove_handle(handle)
            latency = float(handle.getinfo(pycurl.TOTAL_TIME))
            samples.append(Sample(sent_at.pop(handle), latency, status))
            send(handle)

        collecting = gc.isenabled()
        gc.disable()
        try:
            for handle in self._handles:
                send(handle)
            while sent_at:
                while multi.perform()[0] == pycurl.E_CALL_MULTI_PERFORM:
                    pass
                before = len(samples)
                while True:
                    queued, answered, failed = multi.info_read()
                    for handle in answered:
                        finished(handle, int(handle.getinfo(pycurl.RESPONSE_CODE)))
                    for handle, _code, _message in failed:
                        finished(handle, 0)
                    if not queued:
                        break
                if len(samples) == before:  # nothing came back: wait for a socket
                    multi.select(0.05)
        finally:
            for handle in list(sent_at):
                multi.remove_handle(handle)
            if collecting:
                gc.enable()
        return samples

    def close(self) -> None:
        for handle in self._handles:
            handle.close()
        self._multi.close()

    def __enter__(self) -> Load:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
