"""One thread per issue in a subscribed channel: the first post is top-level, the rest reply.

The first post's ts is only known once the outbox has sent it, so the Notifier marks each
subscription row with its `SubscriptionThread` (payload `subscription_thread`), and the outbox
asks `SubscriptionThreads` before sending such a row (`hold`) and tells it after (`posted`).
A later row waits, pending, until the first post is out; then it is sent into its thread.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from models import NotificationOutbox, SubscriptionThread
from models.delivery import FAILED, SENT, SKIPPED

MARKER = "subscription_thread"
_IN_CHUNK = 500  # ids per SQL `IN (…)`


def open_thread(
    session: Session, team_id: str, channel_id: str, issue_id: str
) -> SubscriptionThread:
    """The channel's thread about the issue, created (without a post yet) when new."""
    thread = existing_threads(session, team_id, [(channel_id, issue_id)]).get(
        (channel_id, issue_id)
    )
    if thread is None:
        thread = new_thread(session, team_id, channel_id, issue_id)
        session.flush()
    return thread


def existing_threads(
    session: Session, team_id: str, wanted: Iterable[tuple[str, str]]
) -> dict[tuple[str, str], SubscriptionThread]:
    """The workspace's threads for these (channel, issue id) pairs that exist, locked."""
    pairs = set(wanted)
    found: dict[tuple[str, str], SubscriptionThread] = {}
    channels = sorted({channel for channel, _ in pairs})
    issues = sorted({issue for _, issue in pairs})
    for start in range(0, len(issues), _IN_CHUNK):
        for thread in session.scalars(
            select(SubscriptionThread)
            .where(
                SubscriptionThread.team_id == team_id,
                SubscriptionThread.channel_id.in_(channels),
                SubscriptionThread.issue_id.in_(issues[start : start + _IN_CHUNK]),
            )
            .order_by(SubscriptionThread.id)
            .with_for_update()
        ):
            if (thread.channel_id, thread.issue_id) in pairs:
                found.setdefault((thread.channel_id, thread.issue_id), thread)
    return found


def new_thread(
    session: Session, team_id: str, channel_id: str, issue_id: str
) -> SubscriptionThread:
    """A thread not posted yet (its id is known once flushed)."""
    thread = SubscriptionThread(team_id=team_id, channel_id=channel_id, issue_id=issue_id)
    session.add(thread)
    return thread


class SubscriptionThreads:
    """What the outbox dispatcher asks about rows that belong to a subscription thread.

    `hold` only reads the thread (the claim holds row locks it must not wait behind);
    `posted` writes it, in the transaction that marks the row sent."""

    def hold(self, session: Session, row: NotificationOutbox) -> bool:
        """True while the row must wait for its thread's first post; else it may be sent, and
        `row.thread_ts` is set when it is to go into the thread."""
        thread = self._thread(session, row)
        if thread is None:
            return False
        if thread.thread_ts is not None:
            row.thread_ts = thread.thread_ts
            return False
        if thread.first_outbox_key in (None, row.idempotency_key):
            return False
        first = session.scalars(
            select(NotificationOutbox).where(
                NotificationOutbox.idempotency_key == thread.first_outbox_key
            )
        ).first()
        if first is None or first.status in (FAILED, SKIPPED):
            return False  # that post never made it: this one starts the thread
        if first.status == SENT and first.posted_ts:
            row.thread_ts = first.posted_ts
            return False
        return True

    def posted(self, session: Session, row: NotificationOutbox, ts: str) -> None:
        """After a send: the first top-level post about the issue gives the thread its ts."""
        thread = self._thread(session, row)
        if thread is not None and thread.thread_ts is None:
            thread.thread_ts = ts

    def _thread(self, session: Session, row: NotificationOutbox) -> SubscriptionThread | None:
        if row.thread_ts is not None:
            return None  # already in its thread (or not a subscription row at all)
        thread_id = _marker(row.payload)
        if thread_id is None:
            return None
        return session.get(SubscriptionThread, thread_id)


def _marker(payload: Any) -> int | None:
    value = payload.get(MARKER) if isinstance(payload, dict) else None
    return value if isinstance(value, int) and not isinstance(value, bool) else None
