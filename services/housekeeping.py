"""Forget finished, failed and expired rows after the retention period, so that every table
Connect writes stays bounded (SPEC §11, `CONNECT_RETENTION_DAYS`).

What each table keeps:
- `processed_deliveries`: done and failed deliveries (and Slack event ids, preview claims)
  until `retention` after they were last processed; pending ones always.
- `notification_outbox`: sent, failed and skipped notifications until `retention` after they were
  sent or last tried; pending ones always.
- `connect_actions`: what Connect did in Jira, for `retention` (its echo comes within minutes).
- `jira_slack_links`: retired links, `retention` after they were retired.
- `channel_subscriptions`: removed subscriptions made before the window, but the channel's
  highest number, which keeps numbers from being reused.
- `subscription_threads`: threads started before the window about an issue that has not
  changed within it (a later change starts a new thread).
- `jira_tickets`: issues no live link or subscription thread needs, deleted or unchanged
  before the window (seen again, an issue's state is read afresh, announcing nothing old).
- `slack_oauth_states`: spent install states once they have expired.
- `jira_oauth_states`: `/jira connect` sign-ins never finished, once they have expired.
Installations, channel settings, user links and the poller's cursor are one row per
workspace, channel, person or scope, and are removed when a workspace uninstalls.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import Delete, and_, delete, exists, func, or_, select
from sqlalchemy.orm import aliased

from models import (
    ChannelSubscription,
    ConnectAction,
    JiraOAuthState,
    JiraSlackLink,
    KnownIssue,
    NotificationOutbox,
    ProcessedDelivery,
    SlackOAuthState,
    SubscriptionThread,
    SyncedReply,
    utcnow,
)
from models.delivery import DONE, FAILED, SENT, SKIPPED
from services.unit_of_work import UnitOfWorkFactory

log = logging.getLogger(__name__)

DEFAULT_RETENTION = timedelta(days=30)


class Housekeeping:
    """The worker's periodic purge; `clock` is injectable so tests can move time on."""

    def __init__(
        self,
        uow: UnitOfWorkFactory,
        *,
        retention: timedelta = DEFAULT_RETENTION,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.uow = uow
        self.retention = retention
        self.clock = clock

    def run_once(self) -> dict[str, int]:
        """Purge every table; the rows removed, by table (tables with none left out)."""
        now = self.clock()
        removed: dict[str, int] = {}
        with self.uow() as work:
            for table, statement in purges(now, now - self.retention):
                count = int(work.session.execute(statement).rowcount or 0)  # type: ignore[attr-defined]
                if count:
                    removed[table] = removed.get(table, 0) + count
            work.commit()
        if removed:
            log.info(
                "housekeeping removed %s",
                ", ".join(f"{n} {table}" for table, n in sorted(removed.items())),
            )
        return removed


def purge_finished_work(
    uow: UnitOfWorkFactory, *, now: datetime | None = None, retention: timedelta = DEFAULT_RETENTION
) -> int:
    """One housekeeping run at `now`: the number of rows removed."""
    clock = (lambda: now) if now is not None else utcnow
    return sum(Housekeeping(uow, retention=retention, clock=clock).run_once().values())


def purges(now: datetime, cutoff: datetime) -> list[tuple[str, Delete]]:
    """The delete statements of one run, in an order that keeps references valid."""
    return [
        ("processed_deliveries", _deliveries(cutoff)),
        ("notification_outbox", _outbox(cutoff)),
        ("connect_actions", delete(ConnectAction).where(ConnectAction.created_at < cutoff)),
        (
            "jira_slack_links",
            delete(JiraSlackLink).where(
                JiraSlackLink.retired_at.is_not(None), JiraSlackLink.retired_at < cutoff
            ),
        ),
        ("channel_subscriptions", _removed_subscriptions(cutoff)),
        ("subscription_threads", _quiet_threads(cutoff)),
        ("jira_tickets", _unneeded_known_issues(cutoff)),
        ("slack_oauth_states", delete(SlackOAuthState).where(SlackOAuthState.expires_at < now)),
        ("jira_oauth_states", delete(JiraOAuthState).where(JiraOAuthState.expires_at < now)),
        ("synced_replies", _finished_replies(cutoff)),
    ]


def _finished_replies(cutoff: datetime) -> Delete:
    """Replies deleted long ago, and old ones of threads no longer linked: their comments
    need no keeping in step (a reply still linked is kept, so its edit edits its comment)."""
    linked = (
        select(JiraSlackLink.id)
        .where(
            JiraSlackLink.team_id == SyncedReply.team_id,
            JiraSlackLink.channel_id == SyncedReply.channel_id,
            JiraSlackLink.issue_id == SyncedReply.issue_id,
            JiraSlackLink.retired_at.is_(None),
        )
        .exists()
    )
    deleted = and_(SyncedReply.deleted_at.is_not(None), SyncedReply.deleted_at < cutoff)
    return delete(SyncedReply).where(or_(deleted, and_(SyncedReply.updated_at < cutoff, ~linked)))


def _deliveries(cutoff: datetime) -> Delete:
    last = func.coalesce(ProcessedDelivery.processed_at, ProcessedDelivery.received_at)
    return delete(ProcessedDelivery).where(
        ProcessedDelivery.status.in_((DONE, FAILED)), last < cutoff
    )


def _outbox(cutoff: datetime) -> Delete:
    sent = and_(NotificationOutbox.status == SENT, NotificationOutbox.sent_at < cutoff)
    failed = and_(
        NotificationOutbox.status.in_((FAILED, SKIPPED)),  # skipped: a held filter that missed
        NotificationOutbox.created_at < cutoff,
        NotificationOutbox.available_at < cutoff,  # its last try
    )
    return delete(NotificationOutbox).where(or_(sent, failed))


def _removed_subscriptions(cutoff: datetime) -> Delete:
    later = aliased(ChannelSubscription)
    higher = exists().where(
        later.team_id == ChannelSubscription.team_id,
        later.channel_id == ChannelSubscription.channel_id,
        later.number > ChannelSubscription.number,
    )
    return delete(ChannelSubscription).where(
        ChannelSubscription.active.is_(False), ChannelSubscription.created_at < cutoff, higher
    )


def _quiet_threads(cutoff: datetime) -> Delete:
    return delete(SubscriptionThread).where(
        SubscriptionThread.created_at < cutoff,
        ~exists().where(
            KnownIssue.team_id == SubscriptionThread.team_id,
            KnownIssue.issue_id == SubscriptionThread.issue_id,
            KnownIssue.fetched_at >= cutoff,
        ),
    )


def _unneeded_known_issues(cutoff: datetime) -> Delete:
    live_link = exists().where(
        JiraSlackLink.team_id == KnownIssue.team_id,
        JiraSlackLink.issue_id == KnownIssue.issue_id,
        JiraSlackLink.retired_at.is_(None),
    )
    thread = exists().where(
        SubscriptionThread.team_id == KnownIssue.team_id,
        SubscriptionThread.issue_id == KnownIssue.issue_id,
    )
    deleted = and_(KnownIssue.deleted_at.is_not(None), KnownIssue.deleted_at < cutoff)
    return delete(KnownIssue).where(
        or_(deleted, KnownIssue.fetched_at < cutoff), ~live_link, ~thread
    )
