"""The message shortcuts' payloads, and the source message their modals carry along.

Slack sends the picked message in the `message_action` payload; the modal's submission
comes later (possibly to another Connect process), so what it needs of the message travels
in the view's `private_metadata` (at most 3,000 characters).
"""

from __future__ import annotations

import json
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from handlers.payloads import ResponseUrl, SlackPayload

METADATA_LIMIT = 3000  # Slack's limit for a view's private_metadata
# Slack names private channels, DMs and group DMs like this in interaction payloads.
PRIVATE_CHANNEL_NAMES = frozenset({"privategroup", "directmessage"})


class _Team(SlackPayload):
    id: str


class _User(SlackPayload):
    id: str
    team_id: str | None = None


class _Channel(SlackPayload):
    id: str
    name: str | None = None

    @property
    def is_dm(self) -> bool:
        return self.id.startswith("D") or self.name == "directmessage"

    @property
    def looks_private(self) -> bool:
        """What the payload tells: `privategroup`, `directmessage`, `mpdm-…`, or a G/D id."""
        name = self.name or ""
        return (
            self.id.startswith(("G", "D"))
            or name in PRIVATE_CHANNEL_NAMES
            or name.startswith("mpdm-")
        )


class _BotProfile(SlackPayload):
    name: str | None = None


class _Message(SlackPayload):
    ts: str
    text: str | None = ""
    user: str | None = None
    bot_id: str | None = None
    username: str | None = None
    bot_profile: _BotProfile | None = None
    thread_ts: str | None = None


class MessageShortcut(SlackPayload):
    """A `message_action`: a shortcut from a message's "…" menu."""

    type: Literal["message_action"]
    callback_id: str
    trigger_id: str
    team: _Team | None = None  # null for some org-wide installs; user.team_id is then used
    user: _User
    channel: _Channel
    message: _Message
    response_url: ResponseUrl | None = None

    @property
    def team_id(self) -> str:
        return (self.team.id if self.team else None) or self.user.team_id or ""


class _Option(SlackPayload):
    value: str


class _Element(SlackPayload):
    type: str | None = None
    selected_option: _Option | None = None


class _State(SlackPayload):
    values: dict[str, dict[str, _Element]] = Field(default_factory=dict)


class _View(SlackPayload):
    id: str
    hash: str | None = None
    callback_id: str | None = None
    private_metadata: str = ""
    state: _State = Field(default_factory=_State)


class PickerSubmission(SlackPayload):
    """A `view_submission` of one of the issue-picker modals."""

    type: Literal["view_submission"]
    team: _Team | None = None
    user: _User
    view: _View

    def picked(self, block_id: str, action_id: str) -> str | None:
        element = self.view.state.values.get(block_id, {}).get(action_id)
        option = element.selected_option if element else None
        return option.value if option else None


class BlockSuggestion(SlackPayload):
    """An external select asking for options as the user types."""

    type: Literal["block_suggestion"]
    action_id: str
    block_id: str | None = None
    value: str = ""
    user: _User
    team: _Team | None = None

    @property
    def team_id(self) -> str:
        return self.team.id if self.team else (self.user.team_id or "")


class SourceMessage(BaseModel):
    """The message a shortcut was used on, as its modal's private_metadata carries it."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    team_id: str
    channel_id: str
    message_ts: str
    thread_ts: str | None = None
    author_id: str | None = None
    author_name: str | None = None  # an app's name, for messages without a user
    dm: bool = False
    private: bool = False
    text: str = ""
    text_complete: bool = True  # False: `text` was cut to fit; the rest is in Slack
    # Messages in the thread the message is in or starts (0: none); over 1 offers it whole.
    thread_size: int = 0

    @classmethod
    def from_shortcut(cls, shortcut: MessageShortcut, *, with_text: bool) -> SourceMessage:
        message = shortcut.message
        bot = message.bot_profile.name if message.bot_profile else None
        return cls(
            team_id=shortcut.team_id,
            channel_id=shortcut.channel.id,
            message_ts=message.ts,
            thread_ts=message.thread_ts if message.thread_ts != message.ts else None,
            author_id=message.user,
            author_name=None if message.user else (bot or message.username),
            dm=shortcut.channel.is_dm,
            private=shortcut.channel.looks_private,
            text=(message.text or "") if with_text else "",
        )

    @property
    def reply_ts(self) -> str:
        """Where replies about the message go: its thread, or a new thread under it."""
        return self.thread_ts or self.message_ts

    def to_metadata(self, limit: int = METADATA_LIMIT) -> str:
        """JSON within `limit` characters; a text too long is cut and marked incomplete."""
        data = self.model_dump(exclude_defaults=True)
        whole = _json(data)
        if len(whole) <= limit:
            return whole
        data.update(text="", text_complete=False)
        budget = limit - len(_json(data))
        kept, used = [], 0
        for char in self.text:
            cost = len(_json(char)) - 2  # `"` becomes `\"`, a newline `\n`
            if used + cost > budget:
                break
            kept.append(char)
            used += cost
        data["text"] = "".join(kept)
        return _json(data)

    @classmethod
    def from_metadata(cls, raw: str) -> SourceMessage:
        return cls.model_validate_json(raw)


def _json(value: object) -> str:
    # ASCII only: however Slack counts the 3,000 (characters or bytes), the count is the same.
    return json.dumps(value, separators=(",", ":"))
