"""Stored Jira deliveries, processed once: detect what changed, queue the news.

Everything a delivery causes (the announced state, the outbox rows, the delivery's own status)
is committed in one transaction, so a crash leaves either all of it or none of it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from models import JiraSlackLink, ProcessedDelivery, utcnow
from models.delivery import DONE, FAILED, PENDING
from services.change_detector import detect
from services.jira_events import IssueSnapshot, JiraEvent, parse_webhook
from services.log_context import log_context
from services.notifications import Notifier
from services.policy import ConnectPolicy
from services.project_wall import ProjectWall
from services.tickets import refresh_ticket, ticket_for, with_security
from services.unit_of_work import UnitOfWorkFactory, exclusive_claims
from services.webhook_intake import JIRA_SOURCE

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 5


class DeliveryProcessor:
    """Claims pending deliveries one at a time (row locks on PostgreSQL) and processes them."""

    def __init__(
        self,
        uow: UnitOfWorkFactory,
        notifier: Notifier,
        *,
        clock: Callable[[], datetime] = utcnow,
        wall: ProjectWall | None = None,
    ) -> None:
        self.uow = uow
        self.notifier = notifier
        self.clock = clock
        self.wall = wall or ProjectWall(ConnectPolicy())

    def run_once(self, limit: int = 50) -> int:
        done = 0
        while done < limit and self._process_next():
            done += 1
        return done

    def _process_next(self) -> bool:
        now = self.clock()
        with self.uow() as work, exclusive_claims(work):
            delivery = work.session.scalars(
                select(ProcessedDelivery)
                .where(
                    ProcessedDelivery.source == JIRA_SOURCE,
                    ProcessedDelivery.status == PENDING,
                    ProcessedDelivery.available_at <= now,
                )
                .order_by(ProcessedDelivery.id)
                .limit(1)
                .with_for_update(skip_locked=True)
            ).first()
            if delivery is None:
                return False
            with log_context(delivery_id=delivery.dedupe_key):
                try:
                    with work.session.begin_nested():
                        self.process(work.session, parse_webhook(delivery.payload or {}))
                    delivery.status, delivery.processed_at = DONE, now
                except Exception as exc:  # one poisoned delivery must not stop the others
                    log.exception("processing Jira delivery %s failed", delivery.dedupe_key)
                    delivery.attempts += 1
                    delivery.last_error = f"{type(exc).__name__}: {exc}"[:2000]
                    delivery.status = FAILED if delivery.attempts >= MAX_ATTEMPTS else PENDING
                    delivery.available_at = now + timedelta(seconds=5 * 2**delivery.attempts)
                work.commit()
        return True

    def process(self, session: Session, event: JiraEvent) -> None:
        """Detect what changed for each workspace that links the issue or follows it by
        subscription, and queue the news."""
        issue = event.issue
        if issue is None or self.wall.retire_if_outside(session, issue):
            return  # moved out of JIRA_PROJECTS (or its project was): retired, never told
        links = session.scalars(
            select(JiraSlackLink).where(
                JiraSlackLink.issue_id == issue.id, JiraSlackLink.retired_at.is_(None)
            )
        ).all()
        teams = {link.team_id for link in links} | self.notifier.subscribed_teams(session, issue)
        for team_id in sorted(teams):
            team_links = [link for link in links if link.team_id == team_id]
            self._process_for_team(session, team_id, event, issue, team_links)

    def _process_for_team(
        self,
        session: Session,
        team_id: str,
        event: JiraEvent,
        issue: IssueSnapshot,
        links: Sequence[JiraSlackLink],
    ) -> None:
        ticket = ticket_for(session, team_id, issue)
        detection = detect(event, ticket.announced or None)
        ticket.announced = dict(detection.state)
        refresh_ticket(ticket, issue)
        issue = with_security(issue, ticket)
        self.notifier.announce(session, team_id, issue, detection.changes, actor=event.actor)
