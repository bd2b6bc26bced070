"""A Jira outage is not a failure (SPEC §7): a delivery whose subscription filter only Jira can
check is held for that channel alone, spends no attempt, and is posted once Jira is back; the
linked channel hears of it during the outage. Work that fails for good shows on /metrics."""

from __future__ import annotations

import requests
from sqlalchemy import select

from models import ChannelSubscription, NotificationOutbox, ProcessedDelivery, utcnow
from models.delivery import DONE, HELD
from tests.e2e.conftest import RunningConnect, unfinished_work
from tests.faults.helpers import (
    CHANNEL,
    comment_webhook,
    link_channel,
    note,
    posted_texts,
    wait_until,
)

SUBSCRIBED = "C0SUB"


def _subscribe(connect: RunningConnect) -> None:
    connect.slack.slack.add_channel(SUBSCRIBED, "sub", members=["U0ALICE"])
    with connect.runtime.services.uow() as work:
        team = work.session.scalars(select(ProcessedDelivery.team_id)).first()
        work.session.add(
            ChannelSubscription(
                team_id=team or connect.slack.slack.team_id,
                channel_id=SUBSCRIBED,
                number=1,
                project_key="OPS",
                jql='summary ~ "backup"',  # only Jira can answer `~`
                created_by="U0ALICE",
            )
        )
        work.commit()


def _held(connect: RunningConnect) -> list[NotificationOutbox]:
    with connect.runtime.services.uow() as work:
        rows = list(
            work.session.scalars(
                select(NotificationOutbox).where(NotificationOutbox.status == HELD)
            )
        )
        work.session.expunge_all()
    return rows


def _metrics(connect: RunningConnect) -> str:
    return requests.get(f"{connect.url}/metrics", timeout=5).text


def test_jira_down_holds_only_the_filter_check_and_spends_no_attempt(
    connect: RunningConnect,
) -> None:
    link_channel(connect)
    _subscribe(connect)
    connect.jira.stop()

    assert connect.jira_webhook(comment_webhook(connect.jira, 1)).json()["status"] == "accepted"
    # The linked channel hears of it while Jira is still down.
    wait_until(lambda: note(1) in posted_texts(connect.slack), what="the linked channel's post")
    (held,) = wait_until(lambda: _held(connect), what="the subscribed channel's row held")
    assert held.channel_id == SUBSCRIBED and held.attempts == 0
    with connect.runtime.services.uow() as work:
        (delivery,) = work.session.scalars(select(ProcessedDelivery)).all()
        assert (delivery.status, delivery.attempts) == (DONE, 0)
    assert 'connect_held_work{kind="notification"} 1.0' in _metrics(connect)
    assert posted_texts(connect.slack, SUBSCRIBED) == ""

    connect.jira.start()
    services = connect.runtime.services
    with services.uow() as work:  # its rest is over (at most MAX_OUTAGE_DELAY in real time)
        for row in work.session.scalars(
            select(NotificationOutbox).where(NotificationOutbox.status == HELD)
        ):
            row.available_at = utcnow()
        work.commit()
    wait_until(lambda: not _held(connect), what="the held row checked by the worker")
    wait_until(
        lambda: note(1) in posted_texts(connect.slack, SUBSCRIBED),
        what="the subscribed channel's post after the outage",
    )
    wait_until(lambda: unfinished_work(services.uow) == 0, what="work settled")
    assert posted_texts(connect.slack).count(note(1)) == 1
    assert posted_texts(connect.slack, SUBSCRIBED).count(note(1)) == 1
    assert 'connect_held_work{kind="notification"} 0.0' in _metrics(connect)


def test_work_that_fails_for_good_is_counted_on_metrics(connect: RunningConnect) -> None:
    link_channel(connect)
    assert 'connect_failed_work{kind="notification"} 0.0' in _metrics(connect)
    connect.slack.fail_next("chat.postMessage", error="channel_not_found")
    connect.jira_webhook(comment_webhook(connect.jira, 2))
    wait_until(
        lambda: 'connect_failed_work{kind="notification"} 1.0' in _metrics(connect),
        what="the failed notification counted",
    )
    assert CHANNEL not in posted_texts(connect.slack)
