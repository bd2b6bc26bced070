"""Forget finished work after a while, so the dedupe and outbox tables stay small."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete

from models import NotificationOutbox, ProcessedDelivery, utcnow
from models.delivery import DONE, SENT
from services.unit_of_work import UnitOfWorkFactory

# Jira and Slack retry for hours at most; a week of dedupe keys covers any redelivery.
RETENTION = timedelta(days=7)


def purge_finished_work(uow: UnitOfWorkFactory, *, now: datetime | None = None) -> int:
    """Delete deliveries processed and notifications sent before the retention window."""
    cutoff = (now or utcnow()) - RETENTION
    with uow() as work:
        deliveries = work.session.execute(
            delete(ProcessedDelivery).where(
                ProcessedDelivery.status == DONE, ProcessedDelivery.processed_at < cutoff
            )
        )
        notifications = work.session.execute(
            delete(NotificationOutbox).where(
                NotificationOutbox.status == SENT, NotificationOutbox.sent_at < cutoff
            )
        )
        work.commit()
    return int(getattr(deliveries, "rowcount", 0)) + int(getattr(notifications, "rowcount", 0))
