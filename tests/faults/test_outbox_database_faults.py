"""The database failing in the middle of an outbox run (between claiming a row and marking it
sent): the row is neither lost nor posted twice, and it does not wait out its 60 s lease."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.exc import OperationalError

from bot.database import create_db_engine, session_factory, upgrade
from clients.slack_web_api import SlackWebApiClient
from models.delivery import SENDING, SENT
from services.notifications.outbox import OutboxDispatcher
from services.unit_of_work import UnitOfWork, UnitOfWorkFactory
from simulators.slack_workspace.server import FakeSlackServer
from tests.faults.test_slack_faults import POST, Clock, add, posted, render, row, statuses

# An outbox run opens a unit of work to claim, one to read the row, one to mark it.
CLAIM, READ, MARK = 1, 2, 3


class FlakyDatabase:
    """A unit-of-work factory whose `fail_at`-th unit fails, as a database going away would."""

    def __init__(self, uow: UnitOfWorkFactory) -> None:
        self.uow = uow
        self.calls = 0
        self.fail_at: int | None = None

    def __call__(self) -> Any:
        self.calls += 1
        if self.calls == self.fail_at:
            raise OperationalError("SELECT 1", {}, ConnectionRefusedError("database is down"))
        return self.uow()


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


@pytest.mark.parametrize(("fails", "history_calls"), [(READ, 1), (MARK, 1)])
def test_a_row_stranded_by_the_database_is_taken_up_again_once_it_answers(
    uow: UnitOfWorkFactory, slack: FakeSlackServer, fails: int, history_calls: int
) -> None:
    add(uow, "k1")
    database = FlakyDatabase(uow)
    database.fail_at = fails
    clock = Clock()
    client = SlackWebApiClient(slack.token, base_url=slack.api_url, timeout=5)
    outbox = OutboxDispatcher(database, client, render, worker_id="w1", clock=clock)

    with pytest.raises(OperationalError):
        outbox.run_once()
    stranded = row(uow, "k1")
    assert (stranded.status, stranded.claimed_by) == (SENDING, "w1")  # its lease: 60 s
    assert statuses(slack) == ([200] if fails == MARK else [])

    clock.advance(1)  # the database answers again, long before the lease would run out
    assert outbox.run_once() == 1
    assert row(uow, "k1").status == SENT
    assert len(posted(slack, "k1")) == 1  # looked up first: posted once either way
    assert statuses(slack) == [200]
    assert len(slack.calls_to("conversations.history")) == history_calls


def test_another_dispatchers_live_claim_is_still_left_alone(
    uow: UnitOfWorkFactory, slack: FakeSlackServer
) -> None:
    add(uow, "k1")
    database = FlakyDatabase(uow)
    database.fail_at = MARK
    clock = Clock()
    client = SlackWebApiClient(slack.token, base_url=slack.api_url, timeout=5)
    first = OutboxDispatcher(database, client, render, worker_id="w1", clock=clock)
    other = OutboxDispatcher(uow, client, render, worker_id="w2", clock=clock)

    with pytest.raises(OperationalError):
        first.run_once()
    clock.advance(1)
    assert other.run_once() == 0  # w1's claim is live: w2 waits for its lease
    assert first.run_once() == 1
    assert len(posted(slack, "k1")) == 1
    assert [c.status for c in slack.calls_to(POST)] == [200]
