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
from models.delivery import DONE, FAILED, JIRA_SOURCE, PENDING
from services.jira_changes.detector import detect
from services.jira_changes.events import IssueSnapshot, JiraEvent, parse_webhook
from services.jira_changes.known_issues import known_issue_for, refresh_known_issue, with_security
from services.jira_changes.outages import describe, is_outage, outage_delay
from services.jira_changes.wall import ProjectWall
from services.log_context import log_context
from services.notifications.fan_out import Notifier
from services.notifications.personal import concerned_accounts
from services.policy import ConnectPolicy
from services.unit_of_work import UnitOfWorkFactory, exclusive_claims

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
                    errors = self._process_teams(
                        work.session, parse_webhook(delivery.payload or {})
                    )
                except Exception as exc:  # one poisoned delivery must not stop the others
                    log.exception("processing Jira delivery %s failed", delivery.dedupe_key)
                    errors = [exc]
                self._settle(delivery, errors, now)
                work.commit()
        return True

    def _settle(self, delivery: ProcessedDelivery, errors: list[Exception], now: datetime) -> None:
        """Done; or held (an outage: no attempt spent); or tried again later, FAILED after
        MAX_ATTEMPTS. Workspaces already done are not announced twice: their changes are in
        their announced state, so the next run detects nothing new for them."""
        if not errors:
            delivery.status, delivery.processed_at = DONE, now
            delivery.outages = 0
            return
        delivery.last_error = "; ".join(describe(error) for error in errors)[:2000]
        if all(is_outage(error) for error in errors):
            delivery.outages += 1
            delivery.available_at = now + outage_delay(delivery.outages)
            log.warning(
                "Jira delivery %s waits for Jira or Slack (outage %d): %s",
                delivery.dedupe_key,
                delivery.outages,
                delivery.last_error,
            )
            return
        delivery.attempts += 1
        delivery.outages = 0
        delivery.available_at = now + timedelta(seconds=5 * 2**delivery.attempts)
        if delivery.attempts >= MAX_ATTEMPTS:
            delivery.status, delivery.processed_at = FAILED, now
            log.error(
                "Jira delivery %s failed for good after %d attempts: %s (`python -m bot failed`)",
                delivery.dedupe_key,
                delivery.attempts,
                delivery.last_error,
            )

    def process(self, session: Session, event: JiraEvent) -> None:
        """Detect what changed for each workspace that links the issue or follows it by
        subscription, and queue the news; the first workspace's error is raised after all
        the others have been served."""
        errors = self._process_teams(session, event)
        if errors:
            raise errors[0]

    def _process_teams(self, session: Session, event: JiraEvent) -> list[Exception]:
        """Each workspace in a savepoint of its own: one that fails (Jira down for its
        subscription check, a bad stored filter) is rolled back alone; the errors."""
        issue = event.issue
        if issue is None or self.wall.retire_if_outside(session, issue):
            return []  # moved out of JIRA_PROJECTS (or its project was): retired, never told
        links = session.scalars(
            select(JiraSlackLink).where(
                JiraSlackLink.issue_id == issue.id, JiraSlackLink.retired_at.is_(None)
            )
        ).all()
        teams = {link.team_id for link in links} | self.notifier.subscribed_teams(session, issue)
        teams |= self.notifier.personal_teams(session, concerned_accounts(event))
        errors: list[Exception] = []
        for team_id in sorted(teams):
            team_links = [link for link in links if link.team_id == team_id]
            try:
                with session.begin_nested():
                    self._process_for_team(session, team_id, event, issue, team_links)
            except Exception as exc:
                if not is_outage(exc):
                    log.exception("a Jira delivery failed for workspace %s", team_id)
                errors.append(exc)
        return errors

    def _process_for_team(
        self,
        session: Session,
        team_id: str,
        event: JiraEvent,
        issue: IssueSnapshot,
        links: Sequence[JiraSlackLink],
    ) -> None:
        known = known_issue_for(session, team_id, issue)
        detection = detect(event, known.announced or None)
        known.announced = dict(detection.state)
        refresh_known_issue(known, issue)
        issue = with_security(issue, known)
        self.notifier.announce(session, team_id, issue, detection.changes, actor=event.actor)
