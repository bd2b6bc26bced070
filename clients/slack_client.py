"""Connect's one interface to Slack: domain types, errors and the `SlackClient` protocol.

Implementations: `clients.slack_web_api.SlackWebApiClient` (slack_sdk, over HTTP),
`clients.slack_teams.TeamRoutedSlack` (one bot token per workspace) and
`simulators.slack_workspace.memory.InMemorySlack` (tests and the offline demo).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

Blocks = Sequence[Mapping[str, Any]]

NOT_IN_CHANNEL_ERRORS = frozenset({"not_in_channel", "channel_not_found"})
# Slack answers these with HTTP 200 and ok=false; they say "try again later", not "you erred".
UNAVAILABLE_ERRORS = frozenset(
    {"ratelimited", "service_unavailable", "internal_error", "fatal_error", "request_timeout"}
)


@dataclass(frozen=True)
class SlackUser:
    id: str
    team_id: str
    name: str
    real_name: str
    display_name: str
    email: str | None
    is_bot: bool
    deleted: bool


@dataclass(frozen=True)
class PostedMessage:
    channel: str
    ts: str


@dataclass(frozen=True)
class SlackChannel:
    id: str
    name: str
    is_private: bool
    is_im: bool
    is_member: bool


class SlackError(Exception):
    """Slack refused a call; `error` is Slack's error code, e.g. "channel_not_found"."""

    def __init__(self, error: str, message: str | None = None) -> None:
        super().__init__(message or error)
        self.error = error


class SlackNotInChannel(SlackError):
    """The bot cannot post in or read the channel: it has to be invited first."""


class SlackUnavailable(SlackError):
    """Slack could not be reached, failed (5xx) or rate-limited us beyond our retries."""

    def __init__(
        self, error: str, message: str | None = None, *, retry_after: float | None = None
    ) -> None:
        super().__init__(error, message)
        self.retry_after = retry_after


def error_for(error: str, message: str | None = None) -> SlackError:
    """The exception Connect raises for one of Slack's error codes."""
    if error in NOT_IN_CHANNEL_ERRORS:
        return SlackNotInChannel(error, message)
    if error in UNAVAILABLE_ERRORS:
        return SlackUnavailable(error, message)
    return SlackError(error, message)


def metadata_matches(metadata: Any, *, event_type: str, key_field: str, key: str) -> bool:
    """True when a message's metadata is `event_type` with `event_payload[key_field] == key`."""
    if not isinstance(metadata, Mapping) or metadata.get("event_type") != event_type:
        return False
    payload = metadata.get("event_payload")
    return isinstance(payload, Mapping) and str(payload.get(key_field)) == key


class SlackClient(Protocol):
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
        """Post a message; `metadata` is {"event_type": ..., "event_payload": {...}}."""

    def update_message(
        self, channel: str, ts: str, *, text: str, blocks: Blocks | None = None
    ) -> None: ...

    def post_ephemeral(
        self,
        channel: str,
        user: str,
        *,
        text: str,
        blocks: Blocks | None = None,
        thread_ts: str | None = None,
    ) -> None: ...

    def get_permalink(self, channel: str, ts: str) -> str: ...

    def user_info(self, user_id: str) -> SlackUser: ...

    def channel_info(self, channel: str) -> SlackChannel: ...

    def is_member(self, channel: str, user_id: str) -> bool: ...

    def open_dm(self, user_id: str) -> str: ...

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
        """The ts of a message (in the thread, or else the channel) carrying this metadata key."""

    def unfurl(self, channel: str, ts: str, unfurls: Mapping[str, Any]) -> None: ...

    def unfurl_in_composer(self, unfurl_id: str, source: str, unfurls: Mapping[str, Any]) -> None:
        """Unfurl links in a message still being written (link_shared with `unfurl_id`)."""

    def thread_messages(
        self, channel: str, thread_ts: str, *, oldest: str | None = None, limit: int = 1000
    ) -> list[Mapping[str, Any]]:
        """The thread's parent, then its replies from `oldest` on (inclusive), at most `limit`
        messages in all, as Slack describes them (the parent with its `reply_count`)."""

    def update_view(
        self,
        view: Mapping[str, Any],
        *,
        view_id: str | None = None,
        external_id: str | None = None,
        hash: str | None = None,
    ) -> None:
        """Replace an open modal, found by `view_id` or `external_id`; with `hash`, only if it
        has not changed since (else SlackError "hash_conflict")."""

    def publish_home(self, user_id: str, view: Mapping[str, Any]) -> None:
        """Publish `view` as the App Home that `user_id` sees (views.publish)."""

    def respond(self, response_url: str, message: Mapping[str, Any]) -> None:
        """Answer a command or action through its response_url (e.g. an ephemeral message)."""
