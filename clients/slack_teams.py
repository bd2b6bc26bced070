"""Slack in multi-workspace mode: one SlackClient whose calls go out with the bot token of the
workspace being served.

Which workspace that is travels in a context variable: the Bolt middleware sets it for each
Slack request (lazy listeners inherit it through bot.context_executor.ContextExecutor), and
the worker sets it per outbox row with `team_scope`. A call made outside any workspace is a
bug, reported as SlackError("no_workspace") rather than sent with a wrong token.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from pydantic import SecretStr

from clients.observe import CallObserver
from clients.slack_client import (
    Blocks,
    PostedMessage,
    SlackChannel,
    SlackError,
    SlackUser,
    SlackWebApiClient,
)

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


class TeamRoutedSlack:
    """SlackClient that picks the installed workspace's token for every call."""

    def __init__(
        self,
        tokens: TokenLookup,
        *,
        base_url: str,
        observer: CallObserver | None = None,
        clock: Callable[[], float] = time.monotonic,
        ttl: float = TOKEN_TTL,
    ) -> None:
        self._tokens = tokens
        self._base_url = base_url
        self._observer = observer
        self._clock = clock
        self._ttl = ttl
        self._clients: dict[str, tuple[float, SlackWebApiClient]] = {}
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"TeamRoutedSlack(base_url={self._base_url!r})"

    def forget(self, team_id: str) -> None:
        """Drop the cached client of a workspace (uninstalled, or its token was refused)."""
        with self._lock:
            self._clients.pop(team_id, None)

    def for_team(self, team_id: str) -> SlackWebApiClient:
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
        client = SlackWebApiClient(token, base_url=self._base_url, observer=self._observer)
        with self._lock:
            self._clients[team_id] = (now, client)
        return client

    def _client(self) -> tuple[str, SlackWebApiClient]:
        team_id = current_team.get()
        if not team_id:
            raise SlackError("no_workspace", "a Slack call was made outside any workspace")
        return team_id, self.for_team(team_id)

    def _run(self, call: Callable[[SlackWebApiClient], Any]) -> Any:
        team_id, client = self._client()
        try:
            return call(client)
        except SlackError as exc:
            if exc.error in DEAD_TOKEN_ERRORS:
                self.forget(team_id)
            raise

    # -- SlackClient --------------------------------------------------------------------------

    def post_message(
        self,
        channel: str,
        *,
        text: str,
        blocks: Blocks | None = None,
        thread_ts: str | None = None,
        metadata: Mapping[str, Any] | None = None,
        unfurl: bool = False,
    ) -> PostedMessage:
        posted: PostedMessage = self._run(
            lambda c: c.post_message(
                channel,
                text=text,
                blocks=blocks,
                thread_ts=thread_ts,
                metadata=metadata,
                unfurl=unfurl,
            )
        )
        return posted

    def update_message(
        self, channel: str, ts: str, *, text: str, blocks: Blocks | None = None
    ) -> None:
        self._run(lambda c: c.update_message(channel, ts, text=text, blocks=blocks))

    def post_ephemeral(
        self,
        channel: str,
        user: str,
        *,
        text: str,
        blocks: Blocks | None = None,
        thread_ts: str | None = None,
    ) -> None:
        self._run(
            lambda c: c.post_ephemeral(channel, user, text=text, blocks=blocks, thread_ts=thread_ts)
        )

    def get_permalink(self, channel: str, ts: str) -> str:
        link: str = self._run(lambda c: c.get_permalink(channel, ts))
        return link

    def user_info(self, user_id: str) -> SlackUser:
        user: SlackUser = self._run(lambda c: c.user_info(user_id))
        return user

    def channel_info(self, channel: str) -> SlackChannel:
        info: SlackChannel = self._run(lambda c: c.channel_info(channel))
        return info

    def is_member(self, channel: str, user_id: str) -> bool:
        return bool(self._run(lambda c: c.is_member(channel, user_id)))

    def open_dm(self, user_id: str) -> str:
        return str(self._run(lambda c: c.open_dm(user_id)))

    def find_message_by_metadata(
        self,
        channel: str,
        *,
        event_type: str,
        key_field: str,
        key: str,
        thread_ts: str | None = None,
        oldest: str | None = None,
    ) -> str | None:
        found: str | None = self._run(
            lambda c: c.find_message_by_metadata(
                channel,
                event_type=event_type,
                key_field=key_field,
                key=key,
                thread_ts=thread_ts,
                oldest=oldest,
            )
        )
        return found

    def unfurl(self, channel: str, ts: str, unfurls: Mapping[str, Any]) -> None:
        self._run(lambda c: c.unfurl(channel, ts, unfurls))
