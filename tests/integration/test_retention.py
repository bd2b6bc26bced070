"""Housekeeping: every table Connect writes is bounded (SPEC §11, CONNECT_RETENTION_DAYS).

Rows are written at `START`; housekeeping runs with an injected clock before and after the
retention period has passed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from models import (
    Base,
    ChannelSettings,
    ChannelSubscription,
    ConnectAction,
    JiraSlackLink,
    KnownIssue,
    NotificationOutbox,
    PollCursor,
    ProcessedDelivery,
    SlackInstallation,
    SlackOAuthState,
    SubscriptionThread,
    SyncedReply,
    UserLink,
)
from models.delivery import DONE, FAILED, PENDING, SENT
from services.housekeeping import Housekeeping
from services.unit_of_work import UnitOfWorkFactory

T = "T0001"
START = datetime(2026, 3, 1, tzinfo=UTC)
RETENTION = timedelta(days=30)
# Tables whose rows are one per workspace, channel, person or poller scope: bounded by what
# exists in Slack and Jira, removed when the workspace uninstalls.
ONE_PER_THING = {
    "slack_installations",
    "channel_settings",
    "user_links",
    "poll_cursors",
    "jira_user_tokens",  # one grant per person, deleted by disconnect and uninstall
    "notify_preferences",  # one per person
}


def housekeeping(uow: UnitOfWorkFactory, at: datetime) -> Housekeeping:
    return Housekeeping(uow, retention=RETENTION, clock=lambda: at)


def outbox(key: str, status: str, **extra: object) -> NotificationOutbox:
    return NotificationOutbox(
        team_id=T,
        idempotency_key=key,
        channel_id="C1",
        payload={},
        status=status,
        created_at=START,
        available_at=START,
        **extra,
    )


def delivery(key: str, status: str, **extra: object) -> ProcessedDelivery:
    return ProcessedDelivery(
        team_id=T, source="jira", dedupe_key=key, status=status, received_at=START, **extra
    )


def link(issue: str, **extra: object) -> JiraSlackLink:
    return JiraSlackLink(
        team_id=T,
        issue_id=issue,
        issue_key=f"OPS-{issue}",
        channel_id="C1",
        created_by="U1",
        created_at=START,
        **extra,
    )


def synced(ts: str, issue: str, **extra: object) -> SyncedReply:
    return SyncedReply(
        team_id=T,
        channel_id="C1",
        message_ts=ts,
        thread_ts="1.1",
        issue_id=issue,
        issue_key=f"OPS-{issue}",
        slack_user_id="U1",
        created_at=START,
        updated_at=START,
        **extra,
    )


def known(issue: str, **extra: object) -> KnownIssue:
    return KnownIssue(
        team_id=T,
        issue_id=issue,
        issue_key=f"OPS-{issue}",
        project_key="OPS",
        fetched_at=START,
        **extra,
    )


def subscription(number: int, *, active: bool) -> ChannelSubscription:
    return ChannelSubscription(
        team_id=T,
        channel_id="C1",
        number=number,
        project_key="OPS",
        created_by="U1",
        created_at=START,
        active=active,
    )


def seed(uow: UnitOfWorkFactory) -> None:
    with uow() as work:
        work.session.add_all(
            [
                delivery("done", DONE, processed_at=START),
                delivery("failed", FAILED, processed_at=START),
                delivery("failed-never-processed", FAILED),
                delivery("pending", PENDING),
                outbox("sent", SENT, sent_at=START),
                outbox("failed", FAILED),
                outbox("pending", PENDING),
                ConnectAction(
                    team_id=T,
                    issue_key="OPS-1",
                    slack_user_id="U1",
                    actor_name="Alice",
                    created_at=START,
                ),
                link("1", message_ts="1.1", retired_at=START),
                link("2", message_ts="2.2"),  # live
                subscription(1, active=False),
                subscription(2, active=True),
                subscription(3, active=False),  # the highest number: kept, never reused
                SubscriptionThread(
                    team_id=T, channel_id="C1", issue_id="3", thread_ts="3.3", created_at=START
                ),
                SubscriptionThread(
                    team_id=T, channel_id="C1", issue_id="4", thread_ts="4.4", created_at=START
                ),
                known("1"),  # its link is retired
                known("2"),  # linked
                known("3"),  # quiet subscription thread
                known("4"),  # busy subscription thread: refreshed below
                known("5", deleted_at=START),
                SlackOAuthState(state="spent", expires_at=START + timedelta(minutes=10)),
                SlackInstallation(team_id=T, bot_token_encrypted="x", installed_at=START),
                ChannelSettings(team_id=T, channel_id="C1", updated_at=START),
                UserLink(
                    team_id=T,
                    slack_user_id="U1",
                    jira_account_id="a",
                    jira_display_name="A",
                    email="a@example.com",
                ),
                PollCursor(team_id=T, scope="linked", cursor_at=START),
                synced("deleted", "2", deleted_at=START),  # its comment is gone
                synced("retired", "1"),  # its thread's link is retired
                synced("live", "2"),  # still linked: an edit must still find its comment
            ]
        )
        work.commit()


def rows(uow: UnitOfWorkFactory) -> dict[str, set[str]]:
    with uow() as work:
        session = work.session
        return {
            "deliveries": set(session.scalars(select(ProcessedDelivery.dedupe_key))),
            "outbox": set(session.scalars(select(NotificationOutbox.idempotency_key))),
            "actions": set(session.scalars(select(ConnectAction.issue_key))),
            "links": set(session.scalars(select(JiraSlackLink.issue_id))),
            "subscriptions": {str(n) for n in session.scalars(select(ChannelSubscription.number))},
            "threads": set(session.scalars(select(SubscriptionThread.issue_id))),
            "known_issues": set(session.scalars(select(KnownIssue.issue_id))),
            "states": set(session.scalars(select(SlackOAuthState.state))),
            "replies": set(session.scalars(select(SyncedReply.message_ts))),
        }


def test_nothing_within_the_retention_period_is_purged(uow: UnitOfWorkFactory) -> None:
    seed(uow)
    before = rows(uow)
    removed = housekeeping(uow, START + timedelta(minutes=5)).run_once()
    assert removed == {}
    assert rows(uow) == before


def test_finished_failed_and_expired_rows_go_after_the_retention_period(
    uow: UnitOfWorkFactory,
) -> None:
    seed(uow)
    later = START + RETENTION + timedelta(hours=1)
    with uow() as work:  # issue 4 changed recently: its subscription thread is still in use
        busy = work.session.scalars(select(KnownIssue).where(KnownIssue.issue_id == "4")).one()
        busy.fetched_at = later - timedelta(days=1)
        work.commit()

    removed = housekeeping(uow, later).run_once()

    assert rows(uow) == {
        "deliveries": {"pending"},
        "outbox": {"pending"},
        "actions": set(),
        "links": {"2"},
        "subscriptions": {"2", "3"},
        "threads": {"4"},
        "known_issues": {"2", "4"},
        "states": set(),
        "replies": {"live"},
    }
    assert removed == {
        "processed_deliveries": 3,
        "notification_outbox": 2,
        "connect_actions": 1,
        "jira_slack_links": 1,
        "channel_subscriptions": 1,
        "subscription_threads": 1,
        "jira_tickets": 3,
        "slack_oauth_states": 1,
        "synced_replies": 2,
    }
    assert housekeeping(uow, later).run_once() == {}


def test_every_table_connect_writes_is_purged_or_one_row_per_thing() -> None:
    """A new table must say how it stays bounded: purged here, or one row per thing."""
    from services.housekeeping import purges

    purged = {table for table, _ in purges(START, START)}
    assert set(Base.metadata.tables) == purged | ONE_PER_THING


def test_a_failed_notification_retried_recently_is_kept(uow: UnitOfWorkFactory) -> None:
    with uow() as work:
        work.session.add(outbox("retried", FAILED))
        work.commit()
    later = START + RETENTION + timedelta(days=1)
    with uow() as work:
        row = work.session.scalars(select(NotificationOutbox)).one()
        row.available_at = later - timedelta(days=2)
        work.commit()
    assert housekeeping(uow, later).run_once() == {}


def test_expired_jira_sign_ins_are_purged(uow: UnitOfWorkFactory) -> None:
    from models import JiraOAuthState

    with uow() as work:
        for state, minutes in (("expired", 10), ("live", 70)):
            work.session.add(
                JiraOAuthState(
                    state=state,
                    team_id=T,
                    slack_user_id="U1",
                    created_at=START,
                    expires_at=START + timedelta(minutes=minutes),
                )
            )
        work.commit()
    removed = housekeeping(uow, START + timedelta(hours=1)).run_once()
    assert removed == {"jira_oauth_states": 1}
    with uow() as work:
        assert list(work.session.scalars(select(JiraOAuthState.state))) == ["live"]
