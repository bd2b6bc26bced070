"""Slack and Jira for the benchmarks: the shipped Slack stand-in and the fake Jira REST server,
both over real HTTP on 127.0.0.1, port 0.

The fake Jira lives in tests/fakes (tests are not shipped); the benchmarks run from the
repository root (`make bench`), where it is importable.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Iterable
from pathlib import Path
from types import TracebackType
from typing import Any

from bot.settings import Settings
from simulators.jira_site.memory import InMemoryJira
from simulators.jira_site.server import DEFAULT_API_TOKEN, DEFAULT_EMAIL, FakeJiraServer
from simulators.slack_workspace.memory import InMemorySlack
from simulators.slack_workspace.server import FakeSlackServer, RecordedCall

# Fresh per run, like the demo's: nothing fixed that looks like a credential.
SIGNING_SECRET = secrets.token_hex(16)
WEBHOOK_SECRET = secrets.token_hex(16)
TEAM = "T0BENCH"
PEOPLE = {  # Slack user id → (handle, e-mail of the sample Jira user)
    "U0ALICE": ("alice", "alice@example.com"),
    "U0BOB": ("bob", "bob@example.com"),
    "U0CAROL": ("carol", "carol@example.com"),
}
GENERAL = "C0GENERAL"
LISTEN_BACKLOG = 512


def seeded_workspace() -> InMemorySlack:
    """The benchmarks' Slack workspace: three people in #general."""
    slack = InMemorySlack(team_id=TEAM, team_domain="bench")
    for user_id, (handle, email) in PEOPLE.items():
        slack.add_user(user_id, handle, real_name=handle.title(), email=email)
    slack.add_channel(GENERAL, "general", members=list(PEOPLE))
    return slack


def listen_widely(server: FakeSlackServer | FakeJiraServer) -> None:
    """A started fake, made fit for load."""
    httpd: Any = server.httpd  # handle_error is replaced below
    # socketserver listens with a backlog of 5: under load the kernel drops SYNs and the
    # client retries after 1 s, a stall of the fake, not of the server under test.
    httpd.socket.listen(LISTEN_BACKLOG)
    # A server under test killed mid-call resets its connections: not news here.
    httpd.handle_error = lambda *_: None


class Sites:
    """A fake Slack workspace and a fake Jira site; Slack calls are time-stamped on arrival."""

    def __init__(self, *, jira: InMemoryJira | None = None, jira_delay: float = 0.0) -> None:
        self.slack = seeded_workspace()
        self.slack_server = FakeSlackServer(slack=self.slack)
        self.jira_server = FakeJiraServer(jira)
        self.jira_server.delay_seconds = jira_delay
        self._stamps: list[tuple[float, RecordedCall]] = []
        self._stamps_lock = threading.Lock()
        record = self.slack_server._record

        def stamped(call: RecordedCall) -> None:  # when each Slack call arrived
            with self._stamps_lock:
                self._stamps.append((time.perf_counter(), call))
            record(call)

        self.slack_server._record = stamped  # type: ignore[method-assign]
        # Slack's Web API takes 100-300 ms in real life; the stand-in answers at once.
        self.slack_delay = 0.0
        call = self.slack_server.api.call

        def slowed(method: str, params: dict[str, Any], *, token: str | None) -> dict[str, Any]:
            if self.slack_delay:
                time.sleep(self.slack_delay)
            return call(method, params, token=token)

        self.slack_server.api.call = slowed  # type: ignore[method-assign]

    @property
    def jira(self) -> InMemoryJira:
        return self.jira_server.jira

    def start(self) -> Sites:
        self.slack_server.start()
        self.jira_server.start()
        listen_widely(self.slack_server)
        listen_widely(self.jira_server)
        return self

    def stop(self) -> None:
        self.slack_server.stop()
        self.jira_server.stop()

    def __enter__(self) -> Sites:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- seeding -------------------------------------------------------------------------------

    def add_channels(self, channel_ids: Iterable[str]) -> None:
        for channel_id in channel_ids:
            self.slack.add_channel(channel_id, channel_id.lower(), members=list(PEOPLE))

    # -- reading back --------------------------------------------------------------------------

    def slack_calls(self, method: str | None = None) -> list[tuple[float, RecordedCall]]:
        with self._stamps_lock:
            return [(t, c) for t, c in self._stamps if method in (None, c.method)]

    def jira_request_count(self) -> int:
        return len(self.jira_server.requests)

    # -- how Connect is pointed at them --------------------------------------------------------

    def env(self, database: Path, **extra: str) -> dict[str, str]:
        """Environment for `python -m bot serve` (or benchmarks.target) against these sites."""
        return {
            "SLACK_BOT_TOKEN": self.slack_server.token,
            "SLACK_SIGNING_SECRET": SIGNING_SECRET,
            "SLACK_API_URL": self.slack_server.api_url,
            "JIRA_URL": self.jira_server.url,
            "JIRA_EMAIL": DEFAULT_EMAIL,
            "JIRA_API_TOKEN": DEFAULT_API_TOKEN,
            "JIRA_WEBHOOK_SECRET": WEBHOOK_SECRET,
            "DATABASE_URL": f"sqlite:///{database}",
            "CONNECT_LOG_LEVEL": "WARNING",
            **extra,
        }

    def settings(self, database: Path, **extra: Any) -> Settings:
        values = {key.lower(): value for key, value in self.env(database).items()}
        return Settings(_env_file=None, **{**values, **extra})  # type: ignore[call-arg]
