"""Event and preview dedupe, channel settings and the App Home's data, on SQLite and
PostgreSQL."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from clients.jira_client import JiraUnavailable
from models import ChannelSettings, ChannelSubscription, ProcessedDelivery
from models.delivery import DONE
from services.channel_settings import ChannelSettingsService
from services.errors import InvalidRequest, NotPermitted
from services.housekeeping import purge_finished_work
from services.issues.app_home import AppHomeService
from services.issues.service import IssueService
from services.people.accounts import UserMapping
from services.policy import ConnectPolicy
from services.slack_dedupe import PREVIEW_SOURCE, PreviewThrottle, SlackEventLog
from services.unit_of_work import UnitOfWorkFactory
from simulators.jira_site.memory import InMemoryJira
from simulators.jira_site.sample import with_sample_data
from simulators.slack_workspace.memory import InMemorySlack

T = "T1"
WEEK = timedelta(days=7)


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


# -- event ids ----------------------------------------------------------------------------------


def test_an_event_id_is_acted_on_once(uow: UnitOfWorkFactory) -> None:
    log = SlackEventLog(uow)
    assert log.first_delivery(T, "Ev1")
    assert not log.first_delivery(T, "Ev1")
    assert SlackEventLog(uow).first_delivery(T, "Ev2")  # another process, same table
    with ThreadPoolExecutor(8) as pool:
        firsts = list(pool.map(lambda _: log.first_delivery(T, "Ev3"), range(8)))
    assert firsts.count(True) == 1
    with uow() as work:
        rows = work.session.scalars(select(ProcessedDelivery)).all()
        assert {(r.source, r.status) for r in rows} == {("slack_event", DONE)}


# -- previews -----------------------------------------------------------------------------------


def test_a_key_is_previewed_once_per_thread_per_sliding_hour(uow: UnitOfWorkFactory) -> None:
    clock = Clock()
    throttle = PreviewThrottle(uow, clock=clock)
    assert throttle.claim(T, "C1", "1.1", ["OPS-1", "OPS-2"]) == ["OPS-1", "OPS-2"]
    assert throttle.claim(T, "C1", "1.1", ["OPS-1", "OPS-3"]) == ["OPS-3"]
    assert throttle.claim(T, "C1", "2.2", ["OPS-1"]) == ["OPS-1"]  # another thread
    assert throttle.claim(T, "C2", "1.1", ["OPS-1"]) == ["OPS-1"]  # another channel
    clock.now += timedelta(minutes=59)
    assert throttle.claim(T, "C1", "1.1", ["OPS-1"]) == []
    clock.now += timedelta(minutes=1, seconds=1)
    assert throttle.claim(T, "C1", "1.1", ["OPS-1"]) == ["OPS-1"]  # renewed: an hour from now
    clock.now += timedelta(minutes=30)
    assert throttle.claim(T, "C1", "1.1", ["OPS-1"]) == []


def test_concurrent_claims_preview_once(uow: UnitOfWorkFactory) -> None:
    clock = Clock()
    throttle = PreviewThrottle(uow, clock=clock)
    with ThreadPoolExecutor(8) as pool:
        fresh = list(pool.map(lambda _: throttle.claim(T, "C1", "1.1", ["OPS-1"]), range(8)))
    assert sum(len(claimed) for claimed in fresh) == 1
    clock.now += timedelta(hours=2)
    with ThreadPoolExecutor(8) as pool:
        renewed = list(pool.map(lambda _: throttle.claim(T, "C1", "1.1", ["OPS-1"]), range(8)))
    assert sum(len(claimed) for claimed in renewed) == 1


def test_a_released_claim_can_be_taken_again(uow: UnitOfWorkFactory) -> None:
    throttle = PreviewThrottle(uow)
    assert throttle.claim(T, "C1", "1.1", ["OPS-1", "OPS-2"])
    throttle.release(T, "C1", "1.1", ["OPS-1"])
    assert throttle.claim(T, "C1", "1.1", ["OPS-1", "OPS-2"]) == ["OPS-1"]
    throttle.release(T, "C1", "1.1", [])


def test_preview_rows_are_forgotten_by_housekeeping(uow: UnitOfWorkFactory) -> None:
    clock = Clock()
    PreviewThrottle(uow, clock=clock).claim(T, "C1", "1.1", ["OPS-1"])
    assert purge_finished_work(uow, now=clock.now + timedelta(days=1), retention=WEEK) == 0
    assert purge_finished_work(uow, now=clock.now + timedelta(days=8), retention=WEEK) == 1
    with uow() as work:
        assert not work.session.scalars(
            select(ProcessedDelivery).where(ProcessedDelivery.source == PREVIEW_SOURCE)
        ).all()


# -- channel settings ---------------------------------------------------------------------------


class Managers:
    def __init__(self, *members: str) -> None:
        self.members = set(members)

    def ensure_can_manage(self, channel_id: str, user_id: str) -> None:
        if user_id not in self.members:
            raise NotPermitted("Only members of this channel (or Connect admins) can change it.")


def test_settings_default_and_change(uow: UnitOfWorkFactory) -> None:
    service = ChannelSettingsService(uow, Managers("U1"))
    current = service.get(T, "C1")
    assert (current.previews_enabled, current.notify_level) == (True, "all")
    assert service.previews_enabled(T, "C1")
    assert not service.set_previews(T, "C1", "U1", False).previews_enabled
    assert not service.previews_enabled(T, "C1")
    assert service.previews_enabled(T, "C2")  # per channel
    assert service.previews_enabled("T2", "C1")  # per workspace
    changed = service.set_notify_level(T, "C1", "U1", "Important")
    assert (changed.previews_enabled, changed.notify_level, changed.updated_by) == (
        False,
        "important",
        "U1",
    )
    with uow() as work:
        (row,) = work.session.scalars(select(ChannelSettings)).all()
        assert (row.team_id, row.channel_id, row.notify_level) == (T, "C1", "important")


def test_only_managers_change_settings_and_levels_are_checked(uow: UnitOfWorkFactory) -> None:
    service = ChannelSettingsService(uow, Managers("U1"))
    with pytest.raises(NotPermitted):
        service.set_previews(T, "C1", "U2", False)
    with pytest.raises(InvalidRequest):
        service.set_notify_level(T, "C1", "U1", "loud")
    assert service.get(T, "C1").previews_enabled


def test_concurrent_first_changes_make_one_row(uow: UnitOfWorkFactory) -> None:
    service = ChannelSettingsService(uow, Managers("U1"))
    with ThreadPoolExecutor(6) as pool:
        list(pool.map(lambda n: service.set_previews(T, "C9", "U1", n % 2 == 0), range(6)))
    with uow() as work:
        assert len(work.session.scalars(select(ChannelSettings)).all()) == 1


# -- App Home data ------------------------------------------------------------------------------


@pytest.fixture
def home_parts(uow: UnitOfWorkFactory) -> tuple[AppHomeService, InMemoryJira]:
    jira = with_sample_data(InMemoryJira())
    slack = InMemorySlack(team_id=T)
    slack.add_user("U0ALICE", "alice", real_name="Alice Adams", email="alice@example.com")
    slack.add_user("U0DAVE", "dave", email="dave@elsewhere.com")
    users = UserMapping(uow, slack, jira)
    policy = ConnectPolicy(allowed_projects=frozenset({"OPS"}))
    return AppHomeService(uow, users, IssueService(jira, policy)), jira


def test_home_data_for_a_mapped_person(
    uow: UnitOfWorkFactory, home_parts: tuple[AppHomeService, InMemoryJira]
) -> None:
    service, jira = home_parts
    jira.assign_issue("WEB-1", "acc-alice")  # outside JIRA_PROJECTS: never shown
    with uow() as work:
        for number, (user, active) in enumerate(
            [("U0ALICE", True), ("U0ALICE", False), ("U0BOB", True)], 1
        ):
            work.session.add(
                ChannelSubscription(
                    team_id=T,
                    channel_id="C1",
                    number=number,
                    project_key="OPS",
                    created_by=user,
                    active=active,
                )
            )
        work.commit()
    data = service.load(T, "U0ALICE")
    assert data.jira_user is not None and data.jira_user.account_id == "acc-alice"
    assert data.email == "alice@example.com" and data.problem is None
    assert [i.key for i in data.issues or ()] == ["OPS-1"]
    assert [(s.channel_id, s.number) for s in data.subscriptions] == [("C1", 1)]
    searched = [call for call in jira.calls if call[0] == "search"][-1][1][0]
    assert searched.startswith('project in (OPS) AND assignee = "acc-alice"')


def test_home_data_unmapped_and_jira_down(home_parts: tuple[AppHomeService, InMemoryJira]) -> None:
    service, jira = home_parts
    unmapped = service.load(T, "U0DAVE")
    assert unmapped.jira_user is None and unmapped.issues == () and unmapped.problem is None
    service.load(T, "U0ALICE")  # mapped now
    jira.fail_next(JiraUnavailable("down"), operation="search", times=3)
    down = service.load(T, "U0ALICE")
    assert down.jira_user is not None and down.issues is None
    assert down.problem is not None and "Jira is not reachable" in down.problem
