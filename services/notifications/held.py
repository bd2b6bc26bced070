"""Notifications held while Jira could not check a subscription's filter (an outage): asked
again with a capped back-off, released to the outbox when the filter matches, skipped when it
does not. Checking them spends no attempt; nothing is dropped while Jira is away."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

from sqlalchemy import select

from clients.jira_client import JiraUnavailable
from models import NotificationOutbox, utcnow
from models.delivery import HELD, PENDING, SKIPPED
from services.jira_changes.outages import describe, outage_delay
from services.notifications.bursts import HELD_CHECK
from services.subscriptions.routing import HeldCheck, SubscriptionRouter
from services.unit_of_work import UnitOfWorkFactory, exclusive_claims

log = logging.getLogger(__name__)


class HeldNotifications:
    def __init__(
        self,
        uow: UnitOfWorkFactory,
        router: SubscriptionRouter,
        *,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.uow = uow
        self.router = router
        self.clock = clock

    def run_once(self, limit: int = 20) -> int:
        """Check the held rows that are due; the number settled (released or skipped)."""
        now = self.clock()
        settled = 0
        with self.uow() as work, exclusive_claims(work):
            rows = work.session.scalars(
                select(NotificationOutbox)
                .where(NotificationOutbox.status == HELD, NotificationOutbox.available_at <= now)
                .order_by(NotificationOutbox.available_at, NotificationOutbox.id)
                .limit(limit)
                .with_for_update(skip_locked=True)
            ).all()
            for index, row in enumerate(rows):
                check = HeldCheck.from_json(row.payload.get(HELD_CHECK))
                try:
                    wanted = check is not None and self.router.held_matches(
                        work.session, row.team_id, check
                    )
                except JiraUnavailable as exc:  # still away: these and the rest wait on
                    for waiting in rows[index:]:
                        waiting.outages += 1
                        waiting.last_error = describe(exc)
                        waiting.available_at = now + outage_delay(waiting.outages)
                    break
                payload = {k: v for k, v in row.payload.items() if k != HELD_CHECK}
                row.payload = payload
                row.status = PENDING if wanted else SKIPPED
                row.outages, row.last_error, row.available_at = 0, None, now
                settled += 1
            work.commit()
        if settled:
            log.info("%d held notification(s) checked with Jira", settled)
        return settled
