"""Durable work: deliveries received, notifications to send, and where the poller got to."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, TeamScoped, UTCDateTime, utcnow

PENDING = "pending"
SENDING = "sending"  # a notification claimed by an outbox dispatcher, until its lease ends
DONE = "done"
SENT = "sent"
FAILED = "failed"
JIRA_SOURCE = "jira"  # ProcessedDelivery.source of a Jira webhook delivery
# A notification waiting until Jira can say whether its subscription's filter matches.
HELD = "held"
# A held notification whose filter, once checked, did not match: nothing to post.
SKIPPED = "skipped"


class ProcessedDelivery(TeamScoped, Base):
    """A webhook or Slack event, stored before it is acknowledged; its key dedupes repeats."""

    __tablename__ = "processed_deliveries"
    __table_args__ = (
        UniqueConstraint("source", "dedupe_key"),
        Index("ix_processed_deliveries_claimable", "status", "available_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    source: Mapped[str] = mapped_column(String(32))
    dedupe_key: Mapped[str] = mapped_column(String(255))
    payload: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(16), default=PENDING)
    attempts: Mapped[int] = mapped_column(default=0)
    # Tries that met Jira or Slack unreachable: they spend no attempt, they lengthen the rest.
    outages: Mapped[int] = mapped_column(default=0, server_default="0")
    available_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    claimed_by: Mapped[str | None] = mapped_column(String(128))
    claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    received_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    processed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_error: Mapped[str | None] = mapped_column(Text)


class NotificationOutbox(TeamScoped, Base):
    """One message to post (or update) in Slack, written in the same transaction as its cause."""

    __tablename__ = "notification_outbox"
    __table_args__ = (
        UniqueConstraint("idempotency_key"),
        Index("ix_notification_outbox_claimable", "status", "available_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    idempotency_key: Mapped[str] = mapped_column(String(255))
    channel_id: Mapped[str] = mapped_column(String(32), index=True)
    thread_ts: Mapped[str | None] = mapped_column(String(32))
    issue_id: Mapped[str | None] = mapped_column(String(32))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(16), default=PENDING)
    attempts: Mapped[int] = mapped_column(default=0)
    outages: Mapped[int] = mapped_column(default=0, server_default="0")
    available_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    claimed_by: Mapped[str | None] = mapped_column(String(128))
    claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    posted_ts: Mapped[str | None] = mapped_column(String(32))
    # Changes joined since the row was queued (a burst), and how many of them the message in
    # Slack shows: a row whose revision is ahead is due again, as an edit of `posted_ts`.
    revision: Mapped[int] = mapped_column(default=0, server_default="0")
    sent_revision: Mapped[int | None] = mapped_column()
    # Where the message went when that differs from `channel_id` (a DM's channel id).
    posted_channel: Mapped[str | None] = mapped_column(String(32))
    failed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_error: Mapped[str | None] = mapped_column(Text)


class PollCursor(TeamScoped, Base):
    """How far the Jira poller has read, per scope ("linked", "project:OPS", …)."""

    __tablename__ = "poll_cursors"
    __table_args__ = (UniqueConstraint("team_id", "scope"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    scope: Mapped[str] = mapped_column(String(128))
    cursor_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)
