"""Slack in multi-workspace mode: one SlackClient whose calls go out with the bot token of the
workspace being served.

Which workspace that is travels in a context variable: the Bolt middleware sets it for each
Slack request (the work after its ack inherits it: bot.context_executor.ContextExecutor), and
the worker sets it per outbox row with `team_scope`. A call made outside any workspace is a
bug, reported as SlackError("no_workspace") rather than sent with a wrong token.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from pydantic import SecretStr
from slack_sdk import WebClient
from slack_sdk.web import SlackResponse

from clients.call_observer import CallObserver
from clients.slack_client import SlackError
from clients.slack_transport import SlackTransport
from clients.slack_web_api import SlackWebApiClient

current_team: ContextVar[str | None] = ContextVar("connect_slack_team", default=None)

# Slack's answers meaning "this token is no longer any good": forget it and look again.
DEAD_TOKEN_ERRORS = frozenset(
    {"invalid_auth", "token_revoked", "account_inactive", "not_authed", "token_expired"}
)
TOKEN_TTL = 60.0

TokenLookup = Callable[[str], SecretStr | None]


class SlackNotInstalled(SlackError):
    """Connect has no installation (bot token) for this workspace."""


@contextmanager
def team_scope(team_id: str | None) -> Iterator[None]:
    reset = current_team.set(team_id)
    try:
        yield
    finally:
        current_team.reset(reset)


class TeamRoutedSlack(SlackWebApiClient):
    """The same calls, retries and error mapping as SlackWebApiClient; each call goes through
    a WebClient holding the token of the workspace in `current_team`."""

    def __init__(
        self,
        tokens: TokenLookup,
        *,
        base_url: str = "https://slack.com/api/",
        observer: CallObserver | None = None,
        clock: Callable[[], float] = time.monotonic,
        ttl: float = TOKEN_TTL,
        transport: SlackTransport | None = None,
    ) -> None:
        super().__init__(None, base_url=base_url, observer=observer, transport=transport)
        self._tokens = tokens
        self._clock = clock
        self._ttl = ttl
        self._clients: dict[str, tuple[float, WebClient]] = {}
        self._lock = threading.Lock()

    def forget(self, team_id: str) -> None:
        """Drop the cached client of a workspace (uninstalled, or its token was refused)."""
        with self._lock:
            self._clients.pop(team_id, None)

    @property
    def web_client(self) -> WebClient:
        team_id = current_team.get()
        if not team_id:
            raise SlackError("no_workspace", "a Slack call was made outside any workspace")
        now = self._clock()
        with self._lock:
            cached = self._clients.get(team_id)
        if cached is not None and now - cached[0] < self._ttl:
            return cached[1]
        token = self._tokens(team_id)
        if token is None:
            self.forget(team_id)
            raise SlackNotInstalled(
                "not_installed", f"Connect is not installed in Slack workspace {team_id}"
            )
        client = self.transport.client(token.get_secret_value())
        with self._lock:
            self._clients[team_id] = (now, client)
        return client

    def _call(self, method: str, send: Callable[[], SlackResponse]) -> SlackResponse:
        try:
            return super()._call(method, send)
        except SlackError as exc:
            team_id = current_team.get()
            if exc.error in DEAD_TOKEN_ERRORS and team_id:
                self.forget(team_id)
            raise
