"""Work that failed for good (SPEC §7): listed, counted and re-run on an operator's word.

Ids name the table: `d12` is Jira delivery 12, `n34` is notification 34.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select

from models import NotificationOutbox, ProcessedDelivery, utcnow
from models.delivery import FAILED, HELD, JIRA_SOURCE, PENDING, SENDING
from services.unit_of_work import UnitOfWorkFactory

DELIVERY = "delivery"
NOTIFICATION = "notification"
_PREFIX = {DELIVERY: "d", NOTIFICATION: "n"}


@dataclass(frozen=True, slots=True)
class FailedItem:
    id: str
    kind: str  # delivery | notification
    destination: str
    error: str
    failed_at: datetime | None


@dataclass(frozen=True, slots=True)
class WorkCounts:
    failed: dict[str, int]
    held: dict[str, int]  # waiting for Jira or Slack to come back


class UnknownWork(ValueError):
    pass


class FailedWork:
    def __init__(self, uow: UnitOfWorkFactory, *, clock: Callable[[], datetime] = utcnow) -> None:
        self.uow = uow
        self.clock = clock

    def items(self) -> list[FailedItem]:
        """Everything that failed for good, oldest first."""
        items: list[FailedItem] = []
        with self.uow() as work:
            for delivery in work.session.scalars(
                select(ProcessedDelivery)
                .where(ProcessedDelivery.status == FAILED)
                .order_by(ProcessedDelivery.id)
            ):
                items.append(
                    FailedItem(
                        f"d{delivery.id}",
                        DELIVERY,
                        _delivery_destination(delivery),
                        delivery.last_error or "",
                        delivery.processed_at,
                    )
                )
            for row in work.session.scalars(
                select(NotificationOutbox)
                .where(NotificationOutbox.status == FAILED)
                .order_by(NotificationOutbox.id)
            ):
                where = row.channel_id + (f" thread {row.thread_ts}" if row.thread_ts else "")
                items.append(
                    FailedItem(
                        f"n{row.id}", NOTIFICATION, where, row.last_error or "", row.failed_at
                    )
                )
        return items

    def retry(self, ids: Sequence[str] = ()) -> list[str]:
        """Queue failed work again with a fresh retry budget (all of it when `ids` is empty);
        the ids queued. A notification is looked up in Slack before it is sent again."""
        wanted = {DELIVERY: set[int](), NOTIFICATION: set[int]()}
        for raw in ids:
            wanted[_kind_of(raw)].add(int(raw.strip()[1:]))
        now = self.clock()
        queued: list[str] = []
        with self.uow() as work:
            deliveries = select(ProcessedDelivery).where(ProcessedDelivery.status == FAILED)
            rows = select(NotificationOutbox).where(NotificationOutbox.status == FAILED)
            if ids:
                deliveries = deliveries.where(ProcessedDelivery.id.in_(wanted[DELIVERY]))
                rows = rows.where(NotificationOutbox.id.in_(wanted[NOTIFICATION]))
            for delivery in work.session.scalars(deliveries.with_for_update()):
                delivery.status, delivery.attempts, delivery.outages = PENDING, 0, 0
                delivery.available_at, delivery.processed_at = now, None
                queued.append(f"d{delivery.id}")
            for row in work.session.scalars(rows.with_for_update()):
                # As an expired claim: the dispatcher first looks for an earlier post of it.
                row.status, row.attempts, row.outages = SENDING, 0, 0
                row.claimed_by, row.claimed_until = None, now
                row.available_at, row.failed_at = now, None
                queued.append(f"n{row.id}")
            work.commit()
        return queued

    def counts(self) -> WorkCounts:
        with self.uow() as work:
            session = work.session
            failed_deliveries = session.scalar(
                select(func.count()).where(ProcessedDelivery.status == FAILED)
            )
            failed_rows = session.scalar(
                select(func.count()).where(NotificationOutbox.status == FAILED)
            )
            held_deliveries = session.scalar(
                select(func.count()).where(
                    ProcessedDelivery.status == PENDING, ProcessedDelivery.outages > 0
                )
            )
            held_rows = session.scalar(
                select(func.count()).where(
                    (NotificationOutbox.status == HELD)
                    | (
                        NotificationOutbox.status.in_((PENDING, SENDING))
                        & (NotificationOutbox.outages > 0)
                    )
                )
            )
        return WorkCounts(
            failed={DELIVERY: int(failed_deliveries or 0), NOTIFICATION: int(failed_rows or 0)},
            held={DELIVERY: int(held_deliveries or 0), NOTIFICATION: int(held_rows or 0)},
        )


def _kind_of(raw: str) -> str:
    text = raw.strip().lower()
    for kind, prefix in _PREFIX.items():
        if text.startswith(prefix) and text[1:].isdigit():
            return kind
    raise UnknownWork(f"not a failed work id: {raw!r} (ids look like d12 or n34)")


def _delivery_destination(delivery: ProcessedDelivery) -> str:
    if delivery.source != JIRA_SOURCE:
        return delivery.source
    payload = delivery.payload if isinstance(delivery.payload, dict) else {}
    issue = payload.get("issue")
    key = issue.get("key") if isinstance(issue, dict) else None
    return f"Jira issue {key}" if key else "Jira"
