"""Slack rate-limiting (429 + Retry-After) and failing (5xx) on chat.postMessage: no outbox row
is lost and none is posted twice; each is sent again after Retry-After and posted once.

The outbox runs here with the production Slack client over HTTP against the fake Slack, on a
clock of the test's own, so "after Retry-After" is a fact of the clock, not of a stopwatch.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from bot.database import create_db_engine, session_factory, upgrade
from clients.slack_web_api import SlackWebApiClient
from models import NotificationOutbox
from models.delivery import PENDING, SENT
from services.notifications.outbox import METADATA_EVENT, METADATA_KEY, OutboxDispatcher
from services.unit_of_work import UnitOfWork, UnitOfWorkFactory
from simulators.slack_workspace.server import FakeSlackServer
from tests.e2e.conftest import RunningConnect, unfinished_work
from tests.faults.helpers import (
    comment_webhook,
    link_channel,
    note,
    posted_texts,
    wait_until,
)

POST = "chat.postMessage"
T0 = datetime.now(UTC).replace(microsecond=0)  # Slack ts are real time: so is the clock


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture
def uow(tmp_path: Path) -> Iterator[UnitOfWorkFactory]:
    engine = create_db_engine(f"sqlite:///{tmp_path / 'outbox.db'}")
    upgrade(engine)
    sessions = session_factory(engine)
    yield lambda: UnitOfWork(sessions)
    engine.dispose()


@pytest.fixture
def slack() -> Iterator[FakeSlackServer]:
    with FakeSlackServer() as server:
        server.slack.add_channel("C1", "general")
        yield server


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def outbox(uow: UnitOfWorkFactory, slack: FakeSlackServer, clock: Clock) -> OutboxDispatcher:
    client = SlackWebApiClient(slack.token, base_url=slack.api_url, timeout=5)  # serve's client
    return OutboxDispatcher(uow, client, render, worker_id="faults", clock=clock)


def render(payload: Any) -> tuple[str, list[dict[str, Any]]]:
    return str(payload["text"]), []


def add(uow: UnitOfWorkFactory, key: str, channel: str = "C1") -> None:
    with uow() as work:
        work.session.add(
            NotificationOutbox(
                team_id="T1",
                idempotency_key=key,
                channel_id=channel,
                payload={"text": f"news {key}"},
                created_at=T0 - timedelta(seconds=5),
                available_at=T0,
            )
        )
        work.commit()


def row(uow: UnitOfWorkFactory, key: str) -> NotificationOutbox:
    with uow() as work:
        found = work.session.scalars(
            select(NotificationOutbox).where(NotificationOutbox.idempotency_key == key)
        ).one()
        work.session.expunge(found)
        return found


def posted(slack: FakeSlackServer, key: str, channel: str = "C1") -> list[Any]:
    """Messages in the channel that carry this outbox key in their metadata."""
    wanted = {"event_type": METADATA_EVENT, "event_payload": {METADATA_KEY: key}}
    return [m for m in slack.slack.messages.get(channel, []) if m.metadata == wanted]


def statuses(slack: FakeSlackServer) -> list[int]:
    return [call.status for call in slack.calls_to(POST)]


def test_a_429_beyond_what_the_client_waits_reschedules_the_row_after_retry_after(
    uow: UnitOfWorkFactory, slack: FakeSlackServer, clock: Clock, outbox: OutboxDispatcher
) -> None:
    add(uow, "k1")
    slack.fail_next(POST, status=429, retry_after=30)

    assert outbox.run_once() == 1
    pending = row(uow, "k1")
    assert (pending.status, pending.last_error) == (PENDING, "ratelimited")
    assert pending.available_at == T0 + timedelta(seconds=30)  # Slack's Retry-After
    clock.advance(29)
    assert outbox.run_once() == 0  # not before
    assert statuses(slack) == [429]

    clock.advance(1)
    assert outbox.run_once() == 1
    assert statuses(slack) == [429, 200]
    assert row(uow, "k1").status == SENT
    assert len(posted(slack, "k1")) == 1


def test_a_short_429_is_waited_out_by_the_client_and_posts_once(
    uow: UnitOfWorkFactory, slack: FakeSlackServer, outbox: OutboxDispatcher
) -> None:
    add(uow, "k1")
    slack.fail_next(POST, status=429, retry_after=1)

    assert outbox.run_once() == 1
    assert statuses(slack) == [429, 200]
    assert row(uow, "k1").status == SENT
    assert len(posted(slack, "k1")) == 1


@pytest.mark.parametrize("status", [500, 503])
def test_5xx_without_a_post_is_sent_again_later_and_posted_once(
    uow: UnitOfWorkFactory,
    slack: FakeSlackServer,
    clock: Clock,
    outbox: OutboxDispatcher,
    status: int,
) -> None:
    add(uow, "k1")
    slack.fail_next(POST, status=status, times=5)

    for _ in range(10):  # however the client and the outbox share the retries
        if row(uow, "k1").status == SENT:
            break
        outbox.run_once()
        clock.advance(600)
    assert row(uow, "k1").status == SENT
    assert statuses(slack) == [status] * 5 + [200]
    assert len(posted(slack, "k1")) == 1
    # Each retry after a 5xx first looked for the message, in case Slack had posted it.
    assert len(slack.calls_to("conversations.history")) == 5


@pytest.mark.parametrize("status", [500, 503, 504])
def test_5xx_after_slack_did_post_is_looked_up_not_posted_again(
    uow: UnitOfWorkFactory,
    slack: FakeSlackServer,
    clock: Clock,
    outbox: OutboxDispatcher,
    status: int,
) -> None:
    # Slack (or a proxy before it) posted the message, then answered 5xx: the outcome is
    # unknown to Connect, and a blind retry would post it a second time.
    add(uow, "k1")
    slack.fail_next(POST, status=status, applied=True)

    for _ in range(10):
        if row(uow, "k1").status == SENT:
            break
        outbox.run_once()
        clock.advance(600)
    assert len(posted(slack, "k1")) == 1
    assert statuses(slack) == [status]  # found by its key: never sent again
    sent = row(uow, "k1")
    assert sent.status == SENT
    assert sent.posted_ts == posted(slack, "k1")[0].ts


def test_rows_of_other_channels_are_not_held_up_by_a_rate_limited_one(
    uow: UnitOfWorkFactory, slack: FakeSlackServer, clock: Clock, outbox: OutboxDispatcher
) -> None:
    slack.slack.add_channel("C2", "random")
    add(uow, "limited", channel="C1")
    add(uow, "free", channel="C2")
    slack.fail_next(POST, status=429, retry_after=60)

    outbox.run_once()
    assert {row(uow, "limited").status, row(uow, "free").status} == {PENDING, SENT}
    clock.advance(60)
    outbox.run_once()
    assert row(uow, "limited").status == row(uow, "free").status == SENT
    assert len(posted(slack, "limited")) == 1
    assert len(posted(slack, "free", channel="C2")) == 1


def test_a_rate_limited_slack_under_the_running_app_loses_and_doubles_nothing(
    connect: RunningConnect,
) -> None:
    link_channel(connect)
    # Posts meet 429s: the client waits out Retry-After twice, then the outbox takes over.
    connect.slack.fail_next(POST, status=429, retry_after=1, times=4)
    for number in range(3):
        assert connect.jira_webhook(comment_webhook(connect.jira, number)).status_code == 200

    uow = connect.runtime.services.uow
    wait_until(lambda: unfinished_work(uow) == 0, timeout=90, what="every notification sent")
    texts = posted_texts(connect.slack)
    for number in range(3):
        assert texts.count(note(number)) == 1, texts
    assert statuses(connect.slack).count(429) == 4
    with uow() as work:
        assert set(work.session.scalars(select(NotificationOutbox.status))) == {SENT}
