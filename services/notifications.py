"""From stored Jira deliveries to notification rows: detect, fan out to links, coalesce bursts.

Everything a delivery causes (the announced state, the outbox rows, the delivery's own status)
is committed in one transaction, so a crash leaves either all of it or none of it.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from clients.jira_client import JiraClient, JiraError
from models import (
    ChannelSettings,
    ConnectAction,
    JiraSlackLink,
    JiraTicket,
    NotificationOutbox,
    ProcessedDelivery,
    utcnow,
)
from models.delivery import DONE, FAILED, PENDING
from services.change_detector import Change, detect
from services.jira_events import IssueSnapshot, JiraEvent, parse_webhook
from services.unit_of_work import UnitOfWorkFactory, exclusive_claims
from services.webhook_intake import JIRA_SOURCE

log = logging.getLogger(__name__)

BURST_WINDOW = timedelta(seconds=2)
OWN_ACTION_WINDOW = timedelta(minutes=10)
MAX_ATTEMPTS = 5


class ConnectAccount:
    """Connect's own Jira account id, asked once (None while Jira cannot say)."""

    def __init__(self, jira: JiraClient) -> None:
        self._jira = jira
        self._account_id: str | None = None

    def __call__(self) -> str | None:
        if self._account_id is None:
            try:
                self._account_id = self._jira.myself().account_id
            except JiraError as exc:
                log.warning("could not ask Jira for Connect's own account: %s", exc.message)
        return self._account_id


def remember_action(
    uow: UnitOfWorkFactory,
    *,
    team_id: str,
    issue_key: str,
    channel_id: str | None,
    thread_ts: str | None,
    slack_user_id: str,
    actor_name: str,
) -> None:
    """Before Connect changes an issue for someone: its echo is theirs, and not told back."""
    with uow() as work:
        work.session.add(
            ConnectAction(
                team_id=team_id,
                issue_key=issue_key.upper(),
                channel_id=channel_id,
                thread_ts=thread_ts,
                slack_user_id=slack_user_id,
                actor_name=actor_name[:255],
            )
        )
        work.commit()


def outbox_key(change: Change, channel_id: str, thread_ts: str | None) -> str:
    raw = f"{change.identity}|{channel_id}|{thread_ts or ''}"
    return hashlib.sha256(raw.encode()).hexdigest()


class DeliveryProcessor:
    """Claims pending deliveries one at a time (row locks on PostgreSQL) and processes them."""

    def __init__(
        self,
        uow: UnitOfWorkFactory,
        *,
        connect_account: Callable[[], str | None],
        jira_base_url: str,
        clock: Callable[[], datetime] = utcnow,
        burst_window: timedelta = BURST_WINDOW,
    ) -> None:
        self.uow = uow
        self.connect_account = connect_account
        self.jira_base_url = jira_base_url.rstrip("/")
        self.clock = clock
        self.burst_window = burst_window

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
        """Detect what changed for each workspace that links the issue, and queue the news."""
        issue = event.issue
        if issue is None:
            return
        links = session.scalars(
            select(JiraSlackLink).where(
                JiraSlackLink.issue_id == issue.id, JiraSlackLink.retired_at.is_(None)
            )
        ).all()
        for team_id in sorted({link.team_id for link in links}):
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
        ticket = _ticket(session, team_id, issue)
        detection = detect(event, ticket.announced or None)
        ticket.announced = dict(detection.state)
        _refresh_ticket(ticket, issue)
        if not detection.changes:
            return
        now = self.clock()
        own = self._own_action(session, team_id, issue, event, now)
        quiet = _quiet_channels(session, team_id, {link.channel_id for link in links})
        for change in detection.changes:
            actor = _actor_label(change, own)
            for link in links:
                if own is not None and _is_origin(link, own):
                    continue  # the person who did it from Slack already knows
                if link.channel_id in quiet and not change.important:
                    continue
                self._enqueue(session, team_id, link, issue, change, actor, now)
            if change.kind == "moved" and change.new:
                for link in links:
                    link.issue_key = change.new
            if change.kind == "deleted":
                for link in links:
                    link.retired_at = now

    def _own_action(
        self,
        session: Session,
        team_id: str,
        issue: IssueSnapshot,
        event: JiraEvent,
        now: datetime,
    ) -> ConnectAction | None:
        own_account = self.connect_account()
        if event.actor is None or own_account is None or event.actor.account_id != own_account:
            return None
        return session.scalars(
            select(ConnectAction)
            .where(
                ConnectAction.team_id == team_id,
                ConnectAction.issue_key == issue.key,
                ConnectAction.created_at >= now - OWN_ACTION_WINDOW,
            )
            .order_by(ConnectAction.created_at.desc())
            .limit(1)
        ).first()

    def _enqueue(
        self,
        session: Session,
        team_id: str,
        link: JiraSlackLink,
        issue: IssueSnapshot,
        change: Change,
        actor: str,
        now: datetime,
    ) -> None:
        thread_ts = link.reply_thread_ts
        line = change_line(change, actor)
        pending = session.scalars(
            select(NotificationOutbox)
            .where(
                NotificationOutbox.team_id == team_id,
                NotificationOutbox.channel_id == link.channel_id,
                NotificationOutbox.thread_ts.is_(None)
                if thread_ts is None
                else NotificationOutbox.thread_ts == thread_ts,
                NotificationOutbox.issue_id == issue.id,
                NotificationOutbox.status == PENDING,
                NotificationOutbox.attempts == 0,
                NotificationOutbox.created_at >= now - self.burst_window,
            )
            .with_for_update()
        ).first()
        if pending is not None:  # a burst: one message per thread for changes within the window
            payload = dict(pending.payload)
            payload["issue"] = self._issue_payload(issue, payload.get("issue"))
            payload["changes"] = [*payload.get("changes", []), line]
            pending.payload = payload
            return
        session.add(
            NotificationOutbox(
                team_id=team_id,
                idempotency_key=outbox_key(change, link.channel_id, thread_ts),
                channel_id=link.channel_id,
                thread_ts=thread_ts,
                issue_id=issue.id,
                payload={"issue": self._issue_payload(issue, None), "changes": [line]},
                created_at=now,
                available_at=now + self.burst_window,
            )
        )
        session.flush()

    def _issue_payload(self, issue: IssueSnapshot, before: Any) -> dict[str, Any]:
        known = dict(before) if isinstance(before, dict) else {}
        fresh = {
            "id": issue.id,
            "key": issue.key,
            "summary": issue.summary,
            "status": issue.status,
            "url": f"{self.jira_base_url}/browse/{issue.key}",
        }
        return {**known, **{k: v for k, v in fresh.items() if v}}


def change_line(change: Change, actor: str) -> dict[str, Any]:
    """What one change says, as plain data; handlers render it."""
    line: dict[str, Any] = {
        "kind": change.kind,
        "actor": actor,
        "old": change.old,
        "new": change.new,
    }
    if change.comment is not None:
        line["comment"] = change.comment.body[:3000]
        line["comment_id"] = change.comment.id
    return line


def _actor_label(change: Change, own: ConnectAction | None) -> str:
    if own is not None:
        return f"{own.actor_name} (via Slack)"
    return change.actor.display_name if change.actor else "Someone"


def _is_origin(link: JiraSlackLink, own: ConnectAction) -> bool:
    if link.channel_id != own.channel_id:
        return False
    if own.thread_ts is None:
        return link.is_channel_link
    return link.reply_thread_ts == own.thread_ts


def _quiet_channels(session: Session, team_id: str, channels: set[str]) -> set[str]:
    """Channels that asked for important changes only (SPEC §4 settings)."""
    rows = session.scalars(
        select(ChannelSettings.channel_id).where(
            ChannelSettings.team_id == team_id,
            ChannelSettings.channel_id.in_(channels),
            ChannelSettings.notify_level == "important",
        )
    ).all()
    return set(rows)


def _ticket(session: Session, team_id: str, issue: IssueSnapshot) -> JiraTicket:
    ticket = session.scalars(
        select(JiraTicket)
        .where(JiraTicket.team_id == team_id, JiraTicket.issue_id == issue.id)
        .with_for_update()
    ).first()
    if ticket is None:
        ticket = JiraTicket(
            team_id=team_id, issue_id=issue.id, issue_key=issue.key, project_key=issue.project_key
        )
        session.add(ticket)
    return ticket


def _refresh_ticket(ticket: JiraTicket, issue: IssueSnapshot) -> None:
    ticket.issue_key = issue.key or ticket.issue_key
    ticket.project_key = issue.project_key or ticket.project_key
    ticket.summary = issue.summary or ticket.summary or ""
    ticket.status = issue.status or ticket.status
    ticket.priority = issue.priority or ticket.priority
    ticket.resolution = issue.resolution or ticket.resolution
    if issue.assignee is not None:
        ticket.assignee_account_id = issue.assignee.account_id
        ticket.assignee_name = issue.assignee.display_name
    ticket.jira_updated_at = issue.updated or ticket.jira_updated_at
    ticket.fetched_at = utcnow()
