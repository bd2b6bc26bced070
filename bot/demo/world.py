"""The demo's world: the real app on waitress, a simulated Slack workspace and Jira site.

Slack people act through signed HTTP requests into /slack/events, exactly as Slack sends them;
Jira people act on the in-memory Jira, whose changes reach /jira/webhook as signed deliveries.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import socket
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import requests
from cryptography.fernet import Fernet
from sqlalchemy import func, select

from bot.container import Runtime, build_bolt_app, build_runtime, build_web_app, build_worker
from bot.server import WebServer
from bot.settings import Settings
from bot.worker import Worker
from models import NotificationOutbox, ProcessedDelivery
from models.delivery import PENDING, SENDING
from simulators.atlassian.server import FakeAtlassian
from simulators.jira_site.memory import InMemoryJira
from simulators.jira_site.sample import with_sample_data
from simulators.jira_site.server import FakeJiraServer
from simulators.jira_site.webhooks import JiraWebhookEmitter
from simulators.slack_workspace.memory import InMemorySlack
from simulators.slack_workspace.server import FakeSlackServer

TEAM = "T0DEMO"
PEOPLE = {  # Slack user id → (handle, name, e-mail); the e-mails are the sample Jira users'
    "U0ALICE": ("alice", "Alice Adams", "alice@example.com"),
    "U0BOB": ("bob", "Bob Baker", "bob@example.com"),
    "U0CAROL": ("carol", "Carol Chen", "carol@example.com"),
}
CHANNELS = {"C0SUPPORT": "support", "C0OPS": "ops"}


class DemoWorld:
    """`user_mode`: JIRA_AUTH_MODE=user, each person connecting their own Jira account. The
    in-memory Jira is then also served over HTTP with the Atlassian sign-in and API gateway in
    front of it (simulators.atlassian), whose consent page approves whoever the browser is."""

    def __init__(self, database_url: str | None = None, *, user_mode: bool = False) -> None:
        self.user_mode = user_mode
        self.jira_server: FakeJiraServer | None = None
        self.atlassian: FakeAtlassian | None = None
        self._tmp = tempfile.TemporaryDirectory(prefix="connect-demo-")
        self.database_url = database_url or f"sqlite:///{Path(self._tmp.name) / 'demo.db'}"
        self.slack = InMemorySlack(team_id=TEAM, team_domain="demo")
        for user_id, (handle, name, email) in PEOPLE.items():
            self.slack.add_user(user_id, handle, real_name=name, email=email)
        for channel_id, name in CHANNELS.items():
            self.slack.add_channel(channel_id, name, members=list(PEOPLE))
        self.jira = with_sample_data(InMemoryJira())
        self.signing_secret = secrets.token_hex(16)
        self.webhook_secret = secrets.token_hex(16)
        self.slack_server = FakeSlackServer(slack=self.slack, token=secrets.token_hex(8))
        self.runtime: Runtime | None = None
        self.server: WebServer | None = None
        self.worker: Worker | None = None
        self.emitter: JiraWebhookEmitter | None = None
        self._triggers = 0

    # -- lifecycle ----------------------------------------------------------------------------

    def start(self) -> DemoWorld:
        self.slack_server.start()
        values: dict[str, Any] = {
            "slack_bot_token": self.slack_server.token,
            "slack_signing_secret": self.signing_secret,
            "slack_api_url": self.slack_server.api_url,
            "jira_url": self.jira.server_info().base_url,
            "jira_pat": "in-memory",  # the demo's Jira is in this process: no credentials
            "jira_webhook_secret": self.webhook_secret,
            "database_url": self.database_url,
            "connect_poll_interval": 0,
        }
        port = 0
        if self.user_mode:
            port = _free_port()  # Jira sends the browser back to CONNECT_PUBLIC_URL
            values.update(self._user_mode_settings(port))
        settings = Settings.model_validate(values)
        self.runtime = build_runtime(settings, jira=self.jira)
        app = build_web_app(self.runtime, build_bolt_app(self.runtime))
        self.server = WebServer(app, host="127.0.0.1", port=port)
        threading.Thread(target=self.server.run, name="demo-web", daemon=True).start()
        self.worker = build_worker(self.runtime)
        self.worker.start()
        self.emitter = JiraWebhookEmitter(self.jira, self._deliver_webhook).start()
        return self

    def stop(self) -> None:
        if self.emitter:
            self.emitter.stop()
        if self.worker:
            self.worker.stop()
        if self.server:
            self.server.close()
        if self.runtime:
            self.runtime.close()
        self.slack_server.stop()
        if self.atlassian:
            self.atlassian.stop()
        if self.jira_server:
            self.jira_server.stop()
        self._tmp.cleanup()

    def _user_mode_settings(self, port: int) -> dict[str, Any]:
        self.jira_server = FakeJiraServer(self.jira).start()
        self.atlassian = FakeAtlassian(self.jira_server).start()
        return {
            "jira_url": self.jira_server.url,
            "jira_pat": None,
            "jira_email": self.jira_server.email,
            "jira_api_token": self.jira_server.api_token,
            "jira_auth_mode": "user",
            "jira_oauth_client_id": self.atlassian.client_id,
            "jira_oauth_client_secret": self.atlassian.client_secret,
            "jira_oauth_auth_url": self.atlassian.url,
            "jira_oauth_api_url": self.atlassian.url,
            "connect_public_url": f"http://127.0.0.1:{port}",
            "connect_encryption_key": Fernet.generate_key().decode(),
        }

    def browse(self, url: str, *, signed_in_as: str) -> requests.Response:
        """A person's browser, signed in to Atlassian, opening a link Connect gave them: it
        follows the redirects through Jira's consent screen back to Connect."""
        assert self.atlassian is not None
        return self.atlassian.browser(signed_in_as).get(url, timeout=10)

    @property
    def url(self) -> str:
        assert self.server is not None
        return self.server.url

    # -- Slack people -------------------------------------------------------------------------

    def say(self, user: str, channel: str, text: str, *, thread_ts: str | None = None) -> str:
        """A person posts; Slack stores it and sends Connect the message event."""
        message = self.slack.add_message(channel, text, user=user, thread_ts=thread_ts)
        event: dict[str, Any] = {
            "type": "message",
            "channel": channel,
            "user": user,
            "text": text,
            "ts": message.ts,
            "channel_type": "channel",
            "event_ts": message.ts,
        }
        if thread_ts:
            event["thread_ts"] = thread_ts
        self._post_json(
            {
                "token": "demo",
                "team_id": TEAM,
                "api_app_id": "A0CONNECT",
                "type": "event_callback",
                "event_id": f"Ev{secrets.token_hex(6).upper()}",
                "event_time": int(time.time()),
                "authorizations": [
                    {"team_id": TEAM, "user_id": self.slack.bot_user_id, "is_bot": True}
                ],
                "event": event,
            }
        )
        return message.ts

    def slash(self, user: str, channel: str, text: str) -> list[dict[str, Any]]:
        """`/jira text`; returns what only this person sees (the ack and the response URL)."""
        response_url = self.slack_server.response_url()
        form = {
            "team_id": TEAM,
            "team_domain": "demo",
            "channel_id": channel,
            "channel_name": CHANNELS.get(channel, channel),
            "user_id": user,
            "user_name": PEOPLE[user][0],
            "command": "/jira",
            "text": text,
            "api_app_id": "A0CONNECT",
            "response_url": response_url,
            "trigger_id": self._trigger(),
        }
        answer = self._post_form(urlencode(form).encode())
        replies = [answer.json()] if answer.text.strip() else []
        self.settle()
        return replies + self.slack_server.responses(response_url)

    def message_shortcut(self, user: str, callback_id: str, channel: str, ts: str) -> str:
        """A message shortcut; returns the trigger id, which names the modal it opens."""
        message = self.slack.message(channel, ts)
        trigger = self._trigger()
        payload = {
            "type": "message_action",
            "callback_id": callback_id,
            "trigger_id": trigger,
            "team": {"id": TEAM, "domain": "demo"},
            "user": {"id": user, "team_id": TEAM},
            "channel": {"id": channel, "name": CHANNELS.get(channel, channel)},
            "message": {
                "type": "message",
                "user": message.user if message else None,
                "ts": ts,
                "text": message.text if message else "",
            },
            "message_ts": ts,
            "response_url": self.slack_server.response_url(),
        }
        self._post_form(urlencode({"payload": json.dumps(payload)}).encode())
        return trigger

    def press(self, user: str, channel: str, message_ts: str, action_id: str, value: str) -> None:
        """A person presses a button on one of Connect's messages."""
        message = self.slack.message(channel, message_ts)
        if message is None:
            raise ValueError(f"no message {message_ts} in {channel}")
        button = {"action_id": action_id, "value": value, "type": "button", "action_ts": "1.0"}
        payload = {
            "type": "block_actions",
            "team": {"id": TEAM, "domain": "demo"},
            "user": {"id": user, "team_id": TEAM},
            "api_app_id": "A0CONNECT",
            "container": {"type": "message", "channel_id": channel, "message_ts": message_ts},
            "channel": {"id": channel, "name": CHANNELS.get(channel, channel)},
            "message": message.to_api(),
            "response_url": self.slack_server.response_url(),
            "trigger_id": self._trigger(),
            "actions": [button],
        }
        self._post_form(urlencode({"payload": json.dumps(payload)}).encode())
        self.settle()

    def modal(
        self, trigger: str, *, ready_block: str = "summary", timeout: float = 10
    ) -> dict[str, Any]:
        """The modal a trigger opened, once Connect has filled it."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for view in list(self.slack_server.views.by_id.values()):
                opened_by_it = str(view.get("external_id", "")).endswith(trigger)
                filled = any(b.get("block_id") == ready_block for b in view.get("blocks", []))
                if opened_by_it and filled:
                    return view
            time.sleep(0.05)
        raise TimeoutError("the modal did not fill in time")

    def submit(self, user: str, view: dict[str, Any], values: dict[str, Any]) -> dict[str, Any]:
        payload = {
            "type": "view_submission",
            "team": {"id": TEAM},
            "user": {"id": user, "team_id": TEAM},
            "api_app_id": "A0CONNECT",
            "view": {**view, "state": {"values": values}},
        }
        answer = self._post_form(urlencode({"payload": json.dumps(payload)}).encode())
        self.settle()
        return answer.json() if answer.text.strip() else {}

    # -- Jira people --------------------------------------------------------------------------

    @contextmanager
    def in_jira_as(self, email: str) -> Iterator[InMemoryJira]:
        with self.jira.act_as(email):
            yield self.jira
        self.settle()

    def move(self, key: str, status: str) -> None:
        """Whoever is acting moves the issue by transition or target status name."""
        wanted = status.casefold()
        for transition in self.jira.transitions(key):
            if wanted in (transition.name.casefold(), transition.to_status.casefold()):
                self.jira.transition_issue(key, transition.id)
                return
        raise ValueError(f"{key} cannot move to {status}")

    # -- waiting for the dust -----------------------------------------------------------------

    def settle(self, timeout: float = 15.0) -> None:
        """Until Jira's webhooks are in and Connect has nothing left to process or send."""
        assert self.runtime is not None and self.emitter is not None
        deadline = time.monotonic() + timeout
        time.sleep(0.1)
        while time.monotonic() < deadline:
            self.emitter.flush(timeout=deadline - time.monotonic())
            with self.runtime.services.uow() as work:
                busy = (
                    work.session.scalar(
                        select(func.count())
                        .select_from(NotificationOutbox)
                        .where(NotificationOutbox.status.in_((PENDING, SENDING)))
                    )
                    or 0
                )
                busy += (
                    work.session.scalar(
                        select(func.count())
                        .select_from(ProcessedDelivery)
                        .where(ProcessedDelivery.status == PENDING)
                    )
                    or 0
                )
            if not busy and self.runtime.after_ack.in_flight == 0:
                time.sleep(0.2)  # modals opened after the ack, and what they hand over
                return
            time.sleep(0.1)

    # -- plumbing -----------------------------------------------------------------------------

    def click(self, user: str, channel: str, button: dict[str, Any]) -> list[dict[str, Any]]:
        """A person presses a message button (block_actions); what only they see after."""
        response_url = self.slack_server.response_url()
        payload = {
            "type": "block_actions",
            "team": {"id": TEAM, "domain": "demo"},
            "user": {"id": user, "team_id": TEAM},
            "api_app_id": "A0CONNECT",
            "channel": {"id": channel},
            "container": {"type": "message", "channel_id": channel},
            "trigger_id": self._trigger(),
            "response_url": response_url,
            "actions": [{**button, "action_ts": str(time.time())}],
        }
        self._post_form(urlencode({"payload": json.dumps(payload)}).encode())
        self.settle()
        return self.slack_server.responses(response_url)

    def _trigger(self) -> str:
        self._triggers += 1
        return f"{self._triggers}.{int(time.time())}.demo{secrets.token_hex(4)}"

    def _signed(self, body: bytes, content_type: str) -> dict[str, str]:
        stamp = str(int(time.time()))
        digest = hmac.new(
            self.signing_secret.encode(), b"v0:" + stamp.encode() + b":" + body, hashlib.sha256
        )
        return {
            "Content-Type": content_type,
            "X-Slack-Request-Timestamp": stamp,
            "X-Slack-Signature": "v0=" + digest.hexdigest(),
        }

    def _post_form(self, body: bytes) -> requests.Response:
        headers = self._signed(body, "application/x-www-form-urlencoded")
        return requests.post(f"{self.url}/slack/events", data=body, headers=headers, timeout=10)

    def _post_json(self, payload: dict[str, Any]) -> requests.Response:
        body = json.dumps(payload).encode()
        headers = self._signed(body, "application/json")
        return requests.post(f"{self.url}/slack/events", data=body, headers=headers, timeout=10)

    def _deliver_webhook(self, payload: dict[str, Any]) -> None:
        body = json.dumps(payload).encode()
        signature = hmac.new(self.webhook_secret.encode(), body, hashlib.sha256).hexdigest()
        requests.post(
            f"{self.url}/jira/webhook",
            data=body,
            timeout=10,
            headers={"Content-Type": "application/json", "X-Hub-Signature": f"sha256={signature}"},
        )


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])
