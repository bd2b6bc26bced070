"""A reply in a synced thread, as Connect stores it: posted, edited or deleted.

`reply_change` decides from the event alone (no database, no Jira) whether a message event
can matter to a synced thread; `ReplyIntake` then asks the database whether the thread is
synced and stores the change before Slack's event is acknowledged. Its key is the reply's own
(channel, ts, and the edit's ts), so Slack's retries and a repeat after a restart are one row.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError

from models import JiraSlackLink, ProcessedDelivery, SyncedReply
from services.unit_of_work import UnitOfWorkFactory

REPLY_SOURCE = "slack_reply"
# A person's own words in a thread: plain replies, replies with files, and replies also sent
# to the channel. Joins, bot posts and Connect's own messages are not.
PERSON_SUBTYPES = frozenset({None, "file_share", "thread_broadcast"})
MAX_REPLY_CHARS = 40_000  # Slack's own cap on a message's text

ReplyKind = Literal["posted", "edited", "deleted"]


@dataclass(frozen=True, slots=True)
class ReplyFile:
    id: str
    name: str
    size: int
    url: str  # url_private_download (or url_private): read with the bot token
    mimetype: str = ""

    @classmethod
    def from_slack(cls, raw: Mapping[str, Any]) -> ReplyFile | None:
        url = raw.get("url_private_download") or raw.get("url_private")
        if not isinstance(raw.get("id"), str) or not isinstance(url, str):
            return None
        name = raw.get("name") or raw.get("title") or raw["id"]
        size = raw.get("size")
        return cls(
            raw["id"],
            str(name)[:255],
            size if isinstance(size, int) else 0,
            url,
            str(raw.get("mimetype") or ""),
        )


@dataclass(frozen=True, slots=True)
class ReplyChange:
    kind: ReplyKind
    team_id: str
    channel_id: str
    thread_ts: str
    ts: str  # the reply's own ts (for an edit or deletion: the reply edited or deleted)
    user_id: str = ""
    text: str = ""
    edited_ts: str = ""
    files: tuple[ReplyFile, ...] = field(default=())

    @property
    def thread_key(self) -> str:
        return f"{self.team_id}:{self.channel_id}:{self.thread_ts}:"

    @property
    def dedupe_key(self) -> str:
        suffix = f"edited:{self.edited_ts}" if self.kind == "edited" else self.kind
        return f"{self.thread_key}{self.ts}:{suffix}"[:255]

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> ReplyChange:
        files = tuple(ReplyFile(**item) for item in raw.get("files") or ())
        return cls(**{**raw, "files": files})


def reply_change(
    team_id: str, event: Mapping[str, Any], *, bot_user_id: str | None
) -> ReplyChange | None:
    """What a `message` event changes in a thread, if it is a person's reply; None otherwise.

    Connect's own posts, other bots' (their thread broadcasts included) and top-level
    messages are never replies to sync."""
    subtype = event.get("subtype")
    channel = event.get("channel")
    if not isinstance(channel, str):
        return None
    if subtype == "message_changed":
        message = event.get("message")
        if not isinstance(message, Mapping) or not _by_person(message, bot_user_id):
            return None
        edited = message.get("edited")
        thread_ts, ts = message.get("thread_ts"), message.get("ts")
        if not isinstance(edited, Mapping) or not _is_reply(thread_ts, ts):
            return None  # a parent's reply count, an unfurl: no edit of the words
        previous = event.get("previous_message")
        if (
            isinstance(previous, Mapping)
            and previous.get("text") == message.get("text")
            and previous.get("files") == message.get("files")
        ):
            return None
        return ReplyChange(
            "edited",
            team_id,
            channel,
            str(thread_ts),
            str(ts),
            str(message.get("user")),
            _text(message),
            str(edited.get("ts") or event.get("ts") or ""),
            _files(message),
        )
    if subtype == "message_deleted":
        previous = event.get("previous_message")
        deleted_ts = event.get("deleted_ts")
        thread_ts = previous.get("thread_ts") if isinstance(previous, Mapping) else None
        if not _is_reply(thread_ts, deleted_ts):
            return None
        return ReplyChange("deleted", team_id, channel, str(thread_ts), str(deleted_ts))
    if subtype not in PERSON_SUBTYPES or event.get("hidden"):
        return None
    thread_ts, ts = event.get("thread_ts"), event.get("ts")
    if not _is_reply(thread_ts, ts) or not _by_person(event, bot_user_id):
        return None
    return ReplyChange(
        "posted",
        team_id,
        channel,
        str(thread_ts),
        str(ts),
        str(event.get("user")),
        _text(event),
        files=_files(event),
    )


def _is_reply(thread_ts: Any, ts: Any) -> bool:
    if not isinstance(thread_ts, str) or not isinstance(ts, str):
        return False
    return bool(thread_ts) and thread_ts != ts


def _by_person(message: Mapping[str, Any], bot_user_id: str | None) -> bool:
    user = message.get("user")
    if not isinstance(user, str) or not user or message.get("bot_id"):
        return False
    return not (bot_user_id and user == bot_user_id)


def _text(message: Mapping[str, Any]) -> str:
    text = message.get("text")
    return text[:MAX_REPLY_CHARS] if isinstance(text, str) else ""


def _files(message: Mapping[str, Any]) -> tuple[ReplyFile, ...]:
    raw = message.get("files")
    if not isinstance(raw, list):
        return ()
    found = (ReplyFile.from_slack(item) for item in raw[:20] if isinstance(item, Mapping))
    return tuple(item for item in found if item is not None)


def synced_link_query(team_id: str, channel_id: str, thread_ts: str) -> Any:
    """The active, synced link whose thread this is (the linked message's own thread)."""
    return (
        select(JiraSlackLink)
        .where(
            JiraSlackLink.team_id == team_id,
            JiraSlackLink.channel_id == channel_id,
            JiraSlackLink.message_ts != "",
            JiraSlackLink.retired_at.is_(None),
            JiraSlackLink.sync_replies.is_(True),
            or_(
                JiraSlackLink.thread_ts == thread_ts,
                (JiraSlackLink.thread_ts.is_(None) & (JiraSlackLink.message_ts == thread_ts)),
            ),
        )
        .order_by(JiraSlackLink.id)
    )


class ReplyIntake:
    """Stores a thread's reply changes before the ack; only for synced threads."""

    def __init__(self, uow: UnitOfWorkFactory) -> None:
        self.uow = uow

    def accept(self, change: ReplyChange) -> str:
        """`accepted`, `duplicate` (a retry or repeat) or `ignored` (not a synced thread)."""
        with self.uow() as work:
            synced = work.session.scalars(
                synced_link_query(change.team_id, change.channel_id, change.thread_ts).limit(1)
            ).first()
            if synced is None and change.kind != "posted":
                # Sync turned off since: the comments already made still follow their reply.
                synced = work.session.scalars(
                    select(SyncedReply.id).where(
                        SyncedReply.team_id == change.team_id,
                        SyncedReply.channel_id == change.channel_id,
                        SyncedReply.message_ts == change.ts,
                    )
                ).first()
            if synced is None:
                return "ignored"
        try:
            with self.uow() as work:
                work.session.add(
                    ProcessedDelivery(
                        team_id=change.team_id,
                        source=REPLY_SOURCE,
                        dedupe_key=change.dedupe_key,
                        payload=change.to_json(),
                    )
                )
                work.commit()
        except IntegrityError:
            return "duplicate"
        return "accepted"
