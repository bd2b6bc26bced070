"""Jira issues as Connect knows them, and where in Slack they are discussed."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Index, String, Text, UniqueConstraint, false
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, TeamScoped, UTCDateTime, utcnow


class KnownIssue(TeamScoped, Base):
    """The cached issue: its last known state, and what Connect last announced of it."""

    __tablename__ = "jira_tickets"  # the table kept its first name
    __table_args__ = (UniqueConstraint("team_id", "issue_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    issue_id: Mapped[str] = mapped_column(String(32))
    issue_key: Mapped[str] = mapped_column(String(64), index=True)
    project_key: Mapped[str] = mapped_column(String(64))
    summary: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str | None] = mapped_column(String(255))
    assignee_account_id: Mapped[str | None] = mapped_column(String(128))
    assignee_name: Mapped[str | None] = mapped_column(String(255))
    # Who reported it: comment events do not say, and the reporter may be DMed about them.
    reporter_account_id: Mapped[str | None] = mapped_column(String(128))
    priority: Mapped[str | None] = mapped_column(String(255))
    resolution: Mapped[str | None] = mapped_column(String(255))
    # The issue security level's name: comment events do not carry it, and while it is set
    # no summary, description or comment of the issue is shown in a channel (SPEC §7).
    security_level: Mapped[str | None] = mapped_column(String(255))
    jira_updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # The state the change detector last announced, so a change arriving twice is told once.
    announced: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    fetched_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class JiraSlackLink(TeamScoped, Base):
    """An issue tied to a Slack channel, or to one message's thread in it."""

    __tablename__ = "jira_slack_links"
    __table_args__ = (
        # message_ts is "" for a whole-channel link: NULLs would not be unique on every backend.
        UniqueConstraint("team_id", "issue_id", "channel_id", "message_ts"),
        Index("ix_jira_slack_links_active_issue", "team_id", "issue_id", "retired_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    issue_id: Mapped[str] = mapped_column(String(32))
    issue_key: Mapped[str] = mapped_column(String(64), index=True)
    channel_id: Mapped[str] = mapped_column(String(32), index=True)
    message_ts: Mapped[str] = mapped_column(String(32), default="")
    thread_ts: Mapped[str | None] = mapped_column(String(32))
    permalink: Mapped[str | None] = mapped_column(Text)
    created_by: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    retired_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Replies in the link's thread become Jira comments (SPEC §13).
    sync_replies: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())

    @property
    def is_channel_link(self) -> bool:
        return self.message_ts == ""

    @property
    def reply_thread_ts(self) -> str | None:
        """Where notifications go: the thread of the linked message, or the channel itself."""
        if self.is_channel_link:
            return None
        return self.thread_ts or self.message_ts


class ConnectAction(TeamScoped, Base):
    """A change Connect made in Jira for a Slack user: its webhook echo is credited to them and
    kept out of the conversation it came from."""

    __tablename__ = "connect_actions"
    __table_args__ = (Index("ix_connect_actions_recent", "issue_key", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    issue_key: Mapped[str] = mapped_column(String(64))
    channel_id: Mapped[str | None] = mapped_column(String(32))
    thread_ts: Mapped[str | None] = mapped_column(String(32))
    slack_user_id: Mapped[str] = mapped_column(String(32))
    actor_name: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
