"""What a Slack channel asked of Connect: subscriptions and settings."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, String, Text, UniqueConstraint, false
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, TeamScoped, UTCDateTime, utcnow

EVENT_KINDS = ("created", "transitioned", "commented", "assigned", "resolved")
NOTIFY_LEVELS = ("all", "important")


class ChannelSubscription(TeamScoped, Base):
    """A channel following a project and/or a JQL filter for some event kinds."""

    __tablename__ = "channel_subscriptions"
    __table_args__ = (UniqueConstraint("team_id", "channel_id", "number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    channel_id: Mapped[str] = mapped_column(String(32), index=True)
    # The small per-channel number people type in `/jira unsubscribe N`.
    number: Mapped[int] = mapped_column()
    project_key: Mapped[str | None] = mapped_column(String(64))
    jql: Mapped[str | None] = mapped_column(Text)
    event_kinds: Mapped[str] = mapped_column(String(255), default=",".join(EVENT_KINDS))
    created_by: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    active: Mapped[bool] = mapped_column(Boolean, default=True)

    @property
    def kinds(self) -> tuple[str, ...]:
        return tuple(kind for kind in self.event_kinds.split(",") if kind)


class SubscriptionThread(TeamScoped, Base):
    """Where a subscribed channel talks about one issue: its first post, whose thread the
    later events join. `thread_ts` stays None until that post is out."""

    __tablename__ = "subscription_threads"
    __table_args__ = (UniqueConstraint("team_id", "channel_id", "issue_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    channel_id: Mapped[str] = mapped_column(String(32))
    issue_id: Mapped[str] = mapped_column(String(32))
    # The outbox row that makes the first post; its ts becomes `thread_ts` once sent.
    first_outbox_key: Mapped[str | None] = mapped_column(String(255))
    thread_ts: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class ChannelSettings(TeamScoped, Base):
    __tablename__ = "channel_settings"
    __table_args__ = (UniqueConstraint("team_id", "channel_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    channel_id: Mapped[str] = mapped_column(String(32))
    previews_enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    notify_level: Mapped[str] = mapped_column(String(16), default="all")
    # Links made here afterwards sync their thread's replies with Jira (SPEC §13).
    sync_default: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    updated_by: Mapped[str | None] = mapped_column(String(32))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)
