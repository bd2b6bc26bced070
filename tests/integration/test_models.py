from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from models import (
    ChannelSettings,
    ChannelSubscription,
    JiraSlackLink,
    KnownIssue,
    NotificationOutbox,
    PollCursor,
    ProcessedDelivery,
    UserLink,
)
from models.delivery import DONE, PENDING, SENT
from services.housekeeping import purge_finished_work
from services.unit_of_work import UnitOfWorkFactory

T = "T0001"


def sample_rows() -> list[object]:
    return [
        KnownIssue(team_id=T, issue_id="10001", issue_key="OPS-1", project_key="OPS", summary="s"),
        JiraSlackLink(
            team_id=T, issue_id="10001", issue_key="OPS-1", channel_id="C1", message_ts="1.1"
        ),
        ChannelSubscription(team_id=T, channel_id="C1", number=1, created_by="U1"),
        ChannelSettings(team_id=T, channel_id="C1"),
        UserLink(
            team_id=T, slack_user_id="U1", jira_account_id="a1", jira_display_name="A", email="a@x"
        ),
        ProcessedDelivery(team_id=T, source="jira", dedupe_key="k1", payload={"a": 1}),
        NotificationOutbox(team_id=T, idempotency_key="i1", channel_id="C1", payload={"text": "t"}),
        PollCursor(team_id=T, scope="linked"),
    ]


def test_every_model_round_trips_with_defaults_and_to_dict(uow: UnitOfWorkFactory) -> None:
    with uow() as work:
        work.session.add_all(sample_rows())
        work.commit()
    with uow() as work:
        for model in (
            KnownIssue,
            JiraSlackLink,
            ChannelSubscription,
            ChannelSettings,
            UserLink,
            ProcessedDelivery,
            NotificationOutbox,
            PollCursor,
        ):
            row = work.session.scalars(select(model)).one()
            as_dict = row.to_dict()
            assert as_dict["team_id"] == T
            assert isinstance(as_dict["id"], int)
    with uow() as work:
        settings = work.session.scalars(select(ChannelSettings)).one()
        assert settings.previews_enabled is True and settings.notify_level == "all"
        assert settings.updated_at.tzinfo is not None
        subscription = work.session.scalars(select(ChannelSubscription)).one()
        assert subscription.kinds == (
            "created",
            "transitioned",
            "commented",
            "assigned",
            "resolved",
        )
        link = work.session.scalars(select(JiraSlackLink)).one()
        assert link.reply_thread_ts == "1.1" and not link.is_channel_link
        assert work.session.scalars(select(ProcessedDelivery)).one().payload == {"a": 1}


def test_a_delivery_is_stored_once_per_key(uow: UnitOfWorkFactory) -> None:
    with uow() as work:
        work.session.add(ProcessedDelivery(team_id=T, source="jira", dedupe_key="same"))
        work.commit()
    with uow() as work, pytest.raises(IntegrityError):
        work.session.add(ProcessedDelivery(team_id=T, source="jira", dedupe_key="same"))
        work.session.flush()


def test_a_message_is_linked_to_an_issue_once(uow: UnitOfWorkFactory) -> None:
    def link() -> JiraSlackLink:
        return JiraSlackLink(team_id=T, issue_id="1", issue_key="OPS-1", channel_id="C1")

    with uow() as work:
        work.session.add(link())
        work.commit()
    with uow() as work, pytest.raises(IntegrityError):
        work.session.add(link())  # channel links too: message_ts "" is a real value
        work.session.flush()


def test_unit_of_work_rolls_back_unless_committed(uow: UnitOfWorkFactory) -> None:
    with uow() as work:
        work.session.add(ChannelSettings(team_id=T, channel_id="C9"))
    with uow() as work:
        assert work.session.scalars(select(ChannelSettings)).first() is None


def test_utc_datetimes_survive_every_backend(uow: UnitOfWorkFactory) -> None:
    moment = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    with uow() as work:
        work.session.add(PollCursor(team_id=T, scope="linked", cursor_at=moment))
        work.commit()
    with uow() as work:
        assert work.session.scalars(select(PollCursor)).one().cursor_at == moment
    with uow() as work, pytest.raises(Exception, match="naive"):
        work.session.add(PollCursor(team_id=T, scope="p", cursor_at=datetime(2026, 1, 1)))
        work.session.flush()


def test_housekeeping_forgets_only_old_finished_work(uow: UnitOfWorkFactory) -> None:
    now = datetime(2026, 6, 1, tzinfo=UTC)
    old, recent = now - timedelta(days=8), now - timedelta(days=1)
    with uow() as work:
        work.session.add_all(
            [
                ProcessedDelivery(
                    team_id=T, source="j", dedupe_key="old", status=DONE, processed_at=old
                ),
                ProcessedDelivery(
                    team_id=T, source="j", dedupe_key="new", status=DONE, processed_at=recent
                ),
                ProcessedDelivery(team_id=T, source="j", dedupe_key="todo", status=PENDING),
                NotificationOutbox(
                    team_id=T,
                    idempotency_key="o",
                    channel_id="C",
                    payload={},
                    status=SENT,
                    sent_at=old,
                ),
                NotificationOutbox(
                    team_id=T, idempotency_key="p", channel_id="C", payload={}, status=PENDING
                ),
            ]
        )
        work.commit()
    assert purge_finished_work(uow, now=now, retention=timedelta(days=7)) == 2
    with uow() as work:
        keys = set(work.session.scalars(select(ProcessedDelivery.dedupe_key)))
        assert keys == {"new", "todo"}
        assert list(work.session.scalars(select(NotificationOutbox.idempotency_key))) == ["p"]
