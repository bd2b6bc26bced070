"""From detected changes to notification rows: fan out to links, coalesce bursts, keep quiet
where a change was made from Slack."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Sequence
from dataclasses import replace
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
from services.unit_of_work import UnitOfWorkFactory

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


class Notifier:
    """Fans detected changes out to a workspace's linked threads, as outbox rows."""

    def __init__(
        self,
        *,
        connect_account: Callable[[], str | None],
        jira_base_url: str,
        clock: Callable[[], datetime] = utcnow,
        burst_window: timedelta = BURST_WINDOW,
    ) -> None:
        self.connect_account = connect_account
        self.jira_base_url = jira_base_url.rstrip("/")
        self.clock = clock
        self.burst_window = burst_window

    def announce(
        self,
        session: Session,
        team_id: str,
        issue: IssueSnapshot,
        changes: Sequence[Change],
        *,
        actor: JiraUser | None,
    ) -> None:
        """Queue each change for every active link of the issue in this workspace."""
        if not changes:
            return
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
                self._enqueue(session, team_id, link, issue, change, label, now)
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
