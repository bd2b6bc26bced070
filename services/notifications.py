"""From detected changes to notification rows: fan out to links and subscribed channels,
coalesce bursts, keep quiet where a change was made from Slack."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from clients.jira_client import JiraClient, JiraError, JiraUser
from models import (
    ChannelSettings,
    ConnectAction,
    JiraSlackLink,
    NotificationOutbox,
    utcnow,
)
from models.delivery import PENDING
from services.change_detector import Change
from services.jira_events import IssueSnapshot
from services.subscription_routing import SubscriptionRouter
from services.subscription_threads import MARKER, open_thread
from services.unit_of_work import UnitOfWorkFactory

log = logging.getLogger(__name__)

BURST_WINDOW = timedelta(seconds=2)
OWN_ACTION_WINDOW = timedelta(minutes=10)
MAX_ATTEMPTS = 5
SUBSCRIPTION_SCOPE = "subscription"


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


@dataclass(frozen=True, slots=True)
class Destination:
    """Where one change is posted. A subscription's rows are keyed by the subscription (its
    thread may not be known yet) and name their thread for the outbox (`thread_id`)."""

    channel_id: str
    thread_ts: str | None
    key_scope: str | None = None
    thread_id: int | None = None

    @property
    def scope(self) -> str | None:
        return self.key_scope or self.thread_ts


class Notifier:
    """Fans detected changes out to a workspace's linked threads and subscribed channels, as
    outbox rows."""

    def __init__(
        self,
        *,
        connect_account: Callable[[], str | None],
        jira_base_url: str,
        clock: Callable[[], datetime] = utcnow,
        burst_window: timedelta = BURST_WINDOW,
        subscriptions: SubscriptionRouter | None = None,
    ) -> None:
        self.connect_account = connect_account
        self.jira_base_url = jira_base_url.rstrip("/")
        self.clock = clock
        self.burst_window = burst_window
        self.subscriptions = subscriptions

    def subscribed_teams(self, session: Session, issue: IssueSnapshot) -> set[str]:
        """Workspaces that follow the issue by subscription (whether or not they link it)."""
        if self.subscriptions is None:
            return set()
        return self.subscriptions.teams_for(session, issue)

    def announce(
        self,
        session: Session,
        team_id: str,
        issue: IssueSnapshot,
        changes: Sequence[Change],
        *,
        actor: JiraUser | None,
    ) -> None:
        """Queue each change for every active link of the issue in this workspace, and for
        the channels whose subscriptions it matches."""
        if not changes:
            return
        if self.subscriptions is not None:
            issue = self.subscriptions.known_issue(session, team_id, issue)
        links = session.scalars(
            select(JiraSlackLink).where(
                JiraSlackLink.team_id == team_id,
                JiraSlackLink.issue_id == issue.id,
                JiraSlackLink.retired_at.is_(None),
            )
        ).all()
        if not issue.key and links:  # Data Center comment events name the issue by id only
            issue = replace(issue, key=links[0].issue_key)
        now = self.clock()
        own = self._own_action(session, team_id, issue, actor, now)
        quiet = _quiet_channels(session, team_id, {link.channel_id for link in links})
        for change in changes:
            label = _actor_label(change, own)
            for link in links:
                if own is not None and _is_origin(link, own):
                    continue  # the person who did it from Slack already knows
                if link.channel_id in quiet and not change.important:
                    continue
                destination = Destination(link.channel_id, link.reply_thread_ts)
                self._enqueue(session, team_id, destination, issue, change, label, now)
            if change.kind == "moved" and change.new:
                for link in links:
                    link.issue_key = change.new
            if change.kind == "deleted":
                for link in links:
                    link.retired_at = now
        linked = {link.channel_id for link in links}
        self._announce_to_subscribers(session, team_id, issue, changes, linked, own, now)

    def _announce_to_subscribers(
        self,
        session: Session,
        team_id: str,
        issue: IssueSnapshot,
        changes: Sequence[Change],
        linked: set[str],
        own: ConnectAction | None,
        now: datetime,
    ) -> None:
        """One thread per issue in each subscribed channel; a channel that also links the
        issue hears of the change through its link only."""
        if self.subscriptions is None:
            return
        for route in self.subscriptions.routes(session, team_id, issue, changes):
            if route.channel_id in linked:
                continue
            thread = open_thread(session, team_id, route.channel_id, issue.id)
            if own is not None and (own.channel_id, own.thread_ts) == (
                route.channel_id,
                thread.thread_ts,
            ):
                continue  # the person who did it from Slack already knows
            destination = Destination(
                route.channel_id, thread.thread_ts, SUBSCRIPTION_SCOPE, thread.id
            )
            for change in route.changes:
                label = _actor_label(change, own)
                key = self._enqueue(session, team_id, destination, issue, change, label, now)
                thread.first_outbox_key = thread.first_outbox_key or key

    def _own_action(
        self,
        session: Session,
        team_id: str,
        issue: IssueSnapshot,
        actor: JiraUser | None,
        now: datetime,
    ) -> ConnectAction | None:
        own_account = self.connect_account()
        if actor is None or own_account is None or actor.account_id != own_account:
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
        destination: Destination,
        issue: IssueSnapshot,
        change: Change,
        actor: str,
        now: datetime,
    ) -> str:
        """Queue the change (into a pending row of the same burst when there is one); the
        idempotency key of the row that carries it."""
        thread_ts = destination.thread_ts
        line = change_line(change, actor)
        pending = session.scalars(
            select(NotificationOutbox)
            .where(
                NotificationOutbox.team_id == team_id,
                NotificationOutbox.channel_id == destination.channel_id,
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
            return pending.idempotency_key
        key = outbox_key(change, destination.channel_id, destination.scope)
        fresh: dict[str, Any] = {"issue": self._issue_payload(issue, None), "changes": [line]}
        if destination.thread_id is not None:
            fresh[MARKER] = destination.thread_id
        session.add(
            NotificationOutbox(
                team_id=team_id,
                idempotency_key=key,
                channel_id=destination.channel_id,
                thread_ts=thread_ts,
                issue_id=issue.id,
                payload=fresh,
                created_at=now,
                available_at=now + self.burst_window,
            )
        )
        session.flush()
        return key

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
