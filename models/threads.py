"""Synced threads (SPEC §13): which Slack reply became which Jira comment."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, TeamScoped, UTCDateTime, utcnow


class SyncedReply(TeamScoped, Base):
    """A reply in a synced thread and the Jira comment it became. A row with no comment and
    `deleted_at` set is a reply deleted before its comment was made: it is never made."""

    __tablename__ = "synced_replies"
    __table_args__ = (UniqueConstraint("team_id", "channel_id", "message_ts"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    channel_id: Mapped[str] = mapped_column(String(32))
    message_ts: Mapped[str] = mapped_column(String(32))
    thread_ts: Mapped[str] = mapped_column(String(32))
    issue_id: Mapped[str] = mapped_column(String(32), index=True)
    issue_key: Mapped[str] = mapped_column(String(64))
    slack_user_id: Mapped[str] = mapped_column(String(32))
    # The Jira comment; its id is how Jira's echo of it is kept out of this thread.
    comment_id: Mapped[str | None] = mapped_column(String(64), index=True)
    # The reply's permalink, which ends the comment: how Jira's echo is known before its id is.
    permalink: Mapped[str | None] = mapped_column(String(512), index=True)
    # The edit (Slack's `edited.ts`) the comment now shows, so an older edit never wins.
    edited_ts: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
