"""A Slack Web API stand-in over real HTTP: the offline demo's Slack, and the tests'.

    with FakeSlackServer() as slack:
        client = WebClient(token=slack.token, base_url=slack.api_url)
        client.chat_postMessage(channel="C1", text="hi")
        call = slack.wait_for("chat.postMessage")

State lives in an `InMemorySlack` (`server.slack`): seed users and channels there and read
back what was posted. Every request is recorded (`calls`), failures can be injected per method
(`fail_next`), and `response_url()` hands out URLs like the ones Slack puts in interactions.
"""

from __future__ import annotations

import base64
import itertools
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from clients.slack_limits import message_violation
from simulators.local_http import LocalHTTPStandIn
from simulators.slack_workspace.memory import InMemorySlack
from simulators.slack_workspace.views import FakeViews
from simulators.slack_workspace.web_api import FakeSlackApi, Identity, decode_params

RESPONSE_URL = "response_url"
DEFAULT_TOKEN = "xoxb-test-token"  # noqa: S105 - the stand-in's own, not a secret


@dataclass(frozen=True)
class RecordedCall:
    """One request: Slack method (or "response_url"), decoded params, headers and our answer."""

    method: str
    params: dict[str, Any]
    headers: dict[str, str]
    path: str
    status: int
    answer: Any = None

    @property
    def token(self) -> str | None:
        auth = self.headers.get("Authorization", "")
        return auth.removeprefix("Bearer ") if auth.startswith("Bearer ") else None


@dataclass
class _Failure:
    status: int
    error: str | None
    retry_after: float | None
    remaining: int
    applied: bool = False


@dataclass
class _ResponseUrl:
    id: str
    posts: list[dict[str, Any]] = field(default_factory=list)


class FakeSlackServer(LocalHTTPStandIn):
    thread_name = "fake-slack"

    def __init__(
        self,
        *,
        slack: InMemorySlack | None = None,
        token: str = DEFAULT_TOKEN,
        client_id: str | None = None,
        client_secret: str | None = None,
    ) -> None:
        self.slack = slack or InMemorySlack()
        self.api = FakeSlackApi(self.slack)
        self.api.client_id, self.api.client_secret = client_id, client_secret
        self.token = token
        self.api.add_token(token)
        self._calls: list[RecordedCall] = []
        self._failures: dict[str, list[_Failure]] = {}
        self._responses: dict[str, _ResponseUrl] = {}
        self._ids = itertools.count(1)
        self._changed = threading.Condition()
        # Files people shared, served at their url_private_download to a bearer of a token.
        self.files: dict[str, tuple[str, bytes]] = {}
        self.file_downloads: list[str] = []  # file ids, each time one was read

    # -- lifecycle ----------------------------------------------------------------------------

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        return _Handler

    @property
    def api_url(self) -> str:
        """The base_url for WebClient / SLACK_API_URL."""
        return f"{self.url}/api/"

    # -- configuration ------------------------------------------------------------------------

    def add_token(self, token: str, identity: Identity | None = None) -> None:
        self.api.add_token(token, identity)

    def set_oauth_answer(self, answer: dict[str, Any] | None) -> None:
        """What oauth.v2.access answers (None: a bot token for this workspace)."""
        self.api.oauth_answer = answer

    def fail_next(
        self,
        method: str,
        *,
        status: int = 200,
        error: str | None = None,
        retry_after: float | None = None,
        times: int = 1,
        applied: bool = False,
    ) -> None:
        """The next `times` calls to `method` fail: HTTP 429 (with Retry-After), a 5xx, or
        HTTP 200 with {"ok": false, "error": error}. `applied`: the call takes effect first
        (the message is posted) and only the answer is the failure, as when Slack or a proxy
        in front of it fails after doing the work: the caller cannot tell whether it did."""
        if status == 200 and error is None:
            raise ValueError("fail_next needs an HTTP status other than 200 or an error code")
        if status == 429 and retry_after is None:
            retry_after = 1
        with self._changed:
            self._failures.setdefault(method, []).append(
                _Failure(status, error, retry_after, times, applied)
            )

    def add_file(
        self,
        channel: str,
        name: str,
        content: bytes,
        *,
        user: str,
        text: str = "",
        thread_ts: str | None = None,
        declared_size: int | None = None,
    ) -> tuple[Any, dict[str, Any]]:
        """A message with a file someone shared (kept in the workspace) and the file as Slack
        describes it; `declared_size` is what Slack says the size is (default: the real one)."""
        file_id = f"F{len(self.files) + 1:07d}"
        self.files[file_id] = (name, content)
        url = f"{self.url}/files-pri/{self.slack.team_id}-{file_id}/download/{name}"
        described = {
            "id": file_id,
            "name": name,
            "title": name,
            "mimetype": "application/octet-stream",
            "size": len(content) if declared_size is None else declared_size,
            "url_private": url.replace("/download/", "/"),
            "url_private_download": url,
        }
        message = self.slack.add_message(
            channel, text, user=user, thread_ts=thread_ts, files=[described]
        )
        return message, described

    def response_url(self) -> str:
        """A fresh response URL; what is POSTed to it is recorded under method "response_url"."""
        response_id = f"T{next(self._ids):06d}"
        with self._changed:
            self._responses[response_id] = _ResponseUrl(response_id)
        return f"{self.url}/response/{response_id}"

    # -- reading back -------------------------------------------------------------------------

    @property
    def views(self) -> FakeViews:
        """Modals by view id (`views.by_id`) and published App Homes by user (`views.home`)."""
        return self.api.views

    @property
    def calls(self) -> list[RecordedCall]:
        with self._changed:
            return list(self._calls)

    def calls_to(self, method: str) -> list[RecordedCall]:
        return [call for call in self.calls if call.method == method]

    def responses(self, url: str | None = None) -> list[dict[str, Any]]:
        """Bodies POSTed to one response URL (or to all of them), oldest first."""
        wanted = url.rsplit("/", 1)[-1] if url else None
        with self._changed:
            return [
                post
                for rid, response in self._responses.items()
                if wanted in (None, rid)
                for post in response.posts
            ]

    def wait_for(
        self,
        method: str,
        predicate: Callable[[RecordedCall], bool] | None = None,
        timeout: float = 5,
    ) -> RecordedCall:
        """The first recorded call to `method` matching `predicate`, waiting up to `timeout` s."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                for call in self._calls:
                    if call.method == method and (predicate is None or predicate(call)):
                        return call
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    seen = ", ".join(c.method for c in self._calls) or "none"
                    raise AssertionError(f"no {method} call within {timeout} s; calls: {seen}")
                self._changed.wait(remaining)

    def reset_calls(self) -> None:
        with self._changed:
            self._calls.clear()

    # -- serving (called from handler threads) -------------------------------------------------

    def _take_failure(self, method: str) -> _Failure | None:
        with self._changed:
            queue = self._failures.get(method) or []
            if not queue:
                return None
            failure = queue[0]
            failure.remaining -= 1
            if failure.remaining <= 0:
                queue.pop(0)
            return failure

    def _record(self, call: RecordedCall) -> None:
        with self._changed:
            self._calls.append(call)
            self._changed.notify_all()

    def _post_response(self, response_id: str, body: dict[str, Any]) -> bool:
        with self._changed:
            response = self._responses.get(response_id)
            if response is None:
                return False
            response.posts.append(body)
            return True


class _Handler(BaseHTTPRequestHandler):
    fake: FakeSlackServer
    protocol_version = "HTTP/1.1"
    # Headers and body go out in separate writes: on a kept-alive connection Nagle's algorithm
    # would hold the body back until the client's delayed ACK, 40 ms later.
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: Any) -> None:
        return None  # keep test output quiet

    def do_GET(self) -> None:
        self._handle()

    def do_POST(self) -> None:
        self._handle()

    def _handle(self) -> None:
        split = urlsplit(self.path)
        if split.path.startswith("/files-pri/"):
            self._handle_file(split.path)
            return
        params, raw = self._params(split.query)
        headers = dict(self.headers.items())
        if split.path.startswith("/response/"):
            self._handle_response_url(split.path, raw, headers)
            return
        method = split.path.removeprefix("/api/").strip("/")
        failure = self.fake._take_failure(method)
        if failure is not None:
            if failure.applied:
                self.fake.api.call(method, dict(params), token=self._token(params))
            self._fail(method, params, headers, failure)
            return
        answer = self.fake.api.call(method, params, token=self._token(params))
        self.fake._record(RecordedCall(method, params, headers, split.path, 200, answer))
        extra = {"X-OAuth-Scopes": "commands,chat:write"} if method == "auth.test" else {}
        self._send(200, json.dumps(answer), extra)

    def _params(self, query: str) -> tuple[dict[str, Any], str]:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length).decode("utf-8") if length else ""
        params: dict[str, Any] = dict(parse_qsl(query, keep_blank_values=True))
        content_type = self.headers.get("Content-Type", "")
        if raw and (content_type.startswith("application/json") or raw.startswith("{")):
            try:
                body = json.loads(raw)
            except ValueError:
                body = None
            if isinstance(body, dict):
                params.update(body)
        elif raw:
            params.update(parse_qsl(raw, keep_blank_values=True))
        return decode_params(params), raw

    def _token(self, params: dict[str, Any]) -> str | None:
        auth = self.headers.get("Authorization", "")
        if auth.startswith("Bearer "):
            return auth.removeprefix("Bearer ").strip()
        if auth.startswith("Basic "):  # oauth.v2.access: client credentials, no token
            client = base64.b64decode(auth.removeprefix("Basic ")).decode()
            params["client_id"], _, params["client_secret"] = client.partition(":")
            return None
        token = params.pop("token", None)
        return str(token) if token else None

    def _fail(
        self, method: str, params: dict[str, Any], headers: dict[str, str], failure: _Failure
    ) -> None:
        extra: dict[str, str] = {}
        if failure.retry_after is not None:
            extra["Retry-After"] = str(int(failure.retry_after))
        if failure.status == 200 or failure.status == 429:
            answer: Any = {"ok": False, "error": failure.error or "ratelimited"}
            body = json.dumps(answer)
        else:  # Slack's 5xx pages are not JSON
            answer = body = (
                f"<html><body>{failure.status} {HTTPStatus(failure.status).phrase}</body></html>"
            )
            extra["Content-Type"] = "text/html"
        self.fake._record(RecordedCall(method, params, headers, self.path, failure.status, answer))
        self._send(failure.status, body, extra)

    def _handle_file(self, path: str) -> None:
        """A file's private URL: its bytes to a valid bot token, else Slack's login page."""
        token = self._token({})
        file_id = path.removeprefix("/files-pri/").split("/", 1)[0].rsplit("-", 1)[-1]
        found = self.fake.files.get(file_id)
        if found is None or token is None or token not in self.fake.api.tokens:
            self._send(
                302 if found else 404, "", {"Location": "/login", "Content-Type": "text/html"}
            )
            return
        self.fake.file_downloads.append(file_id)
        data = found[1]
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _handle_response_url(self, path: str, raw: str, headers: dict[str, str]) -> None:
        response_id = path.rsplit("/", 1)[-1]
        failure = self.fake._take_failure(RESPONSE_URL)
        try:
            body = json.loads(raw) if raw else {}
        except ValueError:
            body = {"_raw": raw}
        violation = _response_violation(body)
        if failure is not None:
            status, answer = failure.status, failure.error or "internal_error"
        elif violation is not None:  # Slack answers a response URL's bad message with a 400
            status, answer = 400, violation
        elif self.fake._post_response(response_id, body):
            status, answer = 200, "ok"
        else:
            status, answer = 404, "no_active_hooks"
        self.fake._record(RecordedCall(RESPONSE_URL, body, headers, path, status, answer))
        self._send(status, answer, {"Content-Type": "text/plain"})

    def _send(self, status: int, body: str, headers: dict[str, str]) -> None:
        data = body.encode("utf-8")
        self.send_response(status)
        headers = {"Content-Type": "application/json; charset=utf-8"} | headers
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


def _response_violation(body: Any) -> str | None:
    if not isinstance(body, dict):
        return None
    text, blocks = body.get("text"), body.get("blocks")
    return message_violation(
        text if isinstance(text, str) else None, blocks if isinstance(blocks, list) else None
    )
