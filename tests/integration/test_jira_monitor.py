"""The Jira monitor (poller) on SQLite and PostgreSQL against the in-memory Jira: what a cycle
costs, what it finds, and how it survives deleted keys, moves, outages and a second process."""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from clients.jira_client import JiraBadRequest, JiraClient, JiraUnavailable, SearchPage
from models import ChannelSubscription, JiraSlackLink, NotificationOutbox, PollCursor, UserLink
from services.jira_changes.deliveries import DeliveryProcessor
from services.jira_changes.events import parse_webhook
from services.jira_changes.known_issues import seed_known_issue
from services.jira_changes.monitor import CURSOR_SCOPE, JiraMonitor
from services.jira_changes.poll_lease import SITE
from services.notifications.fan_out import Notifier
from services.notifications.personal import PersonalNotices
from services.notifications.watchers import IssueWatchers
from services.policy import ConnectPolicy
from services.subscriptions.routing import SubscriptionRouter
from services.unit_of_work import UnitOfWorkFactory
from simulators.jira_site.memory import InMemoryJira
from simulators.jira_site.sample import with_sample_data
from simulators.jira_site.webhooks import JiraWebhookEmitter

T = "T0CONNECT"
T0 = datetime(2025, 3, 10, 9, 0, tzinfo=UTC)
INTERVAL = 60.0


class Clock:
    def __init__(self) -> None:
        self.now = T0
        self._lock = threading.Lock()

    def __call__(self) -> datetime:
        with self._lock:
            return self.now

    def advance(self, **delta: float) -> None:
        with self._lock:
            self.now += timedelta(**delta)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def jira(clock: Clock) -> InMemoryJira:
    return with_sample_data(InMemoryJira(clock=clock))


@pytest.fixture
def notifier(jira: InMemoryJira, clock: Clock) -> Notifier:
    return Notifier(connect_account=lambda: "acc-connect", jira_base_url=jira.base_url, clock=clock)


@pytest.fixture
def make_monitor(
    uow: UnitOfWorkFactory, jira: InMemoryJira, notifier: Notifier, clock: Clock
) -> Callable[..., JiraMonitor]:
    def make(client: JiraClient | None = None, **options: Any) -> JiraMonitor:
        options.setdefault("webhook_grace", timedelta(0))  # these tests look right after a change
        return JiraMonitor(uow, client or jira, notifier, interval=INTERVAL, clock=clock, **options)

    return make


def link(uow: UnitOfWorkFactory, jira: InMemoryJira, *keys: str, team: str = T) -> None:
    """Each issue linked to its own message in #C1, its state seeded as linking does."""
    with uow() as work:
        for key in keys:
            (issue,) = jira.search_all(f"key = {key}")  # not logged in jira.calls
            number = int(issue.id)
            work.session.add(
                JiraSlackLink(
                    team_id=team,
                    issue_id=issue.id,
                    issue_key=issue.key,
                    channel_id="C1",
                    message_ts=f"1700{number:06d}.000100",
                )
            )
            seed_known_issue(work.session, team, issue)
        work.commit()


def subscribe(uow: UnitOfWorkFactory, project: str, *, number: int = 1) -> None:
    with uow() as work:
        work.session.add(
            ChannelSubscription(
                team_id=T, channel_id="C2", number=number, project_key=project, created_by="U1"
            )
        )
        work.commit()


def big_project(jira: InMemoryJira, count: int) -> list[str]:
    jira.add_project("BIG", "Big")
    return [jira.add_issue("BIG", f"Issue {n}").key for n in range(count)]


def calls(jira: InMemoryJira, operation: str) -> list[tuple[Any, ...]]:
    return [call for call in jira.calls if call[0] == operation]


def told(uow: UnitOfWorkFactory) -> list[tuple[str, str]]:
    """(issue key, change kind) of every queued notification line."""
    with uow() as work:
        rows = work.session.scalars(select(NotificationOutbox).order_by(NotificationOutbox.id))
        return [
            (row.payload["issue"]["key"], line["kind"])
            for row in rows
            for line in row.payload["changes"]
        ]


def cursor(uow: UnitOfWorkFactory) -> datetime | None:
    with uow() as work:
        return work.session.scalars(
            select(PollCursor.cursor_at).where(
                PollCursor.team_id == SITE, PollCursor.scope == CURSOR_SCOPE
            )
        ).first()


def links(uow: UnitOfWorkFactory) -> dict[str, tuple[str, bool]]:
    """issue id -> (issue key, retired)"""
    with uow() as work:
        return {
            row.issue_id: (row.issue_key, row.retired_at is not None)
            for row in work.session.scalars(select(JiraSlackLink))
        }


# -- cost ------------------------------------------------------------------------------------


@pytest.mark.parametrize("count", [1, 100, 250, 1000])
def test_a_cycle_costs_one_search_per_hundred_linked_issues_plus_one(
    uow: UnitOfWorkFactory,
    jira: InMemoryJira,
    clock: Clock,
    make_monitor: Callable[..., JiraMonitor],
    count: int,
) -> None:
    keys = big_project(jira, count)
    link(uow, jira, *keys)
    subscribe(uow, "WEB")
    monitor = make_monitor()
    monitor.run_once()
    for cycle in range(2):
        clock.advance(minutes=1)
        jira.update_issue(keys[-1], summary=f"Changed {cycle}")  # so that there is news
        jira.calls.clear()
        report = monitor.run_once()
        assert report.polled and report.changes == 1
        searches = calls(jira, "search")
        assert len(searches) == math.ceil(count / 100) + 1
        assert calls(jira, "get_issue") == [] and len(jira.calls) == len(searches)
        assert all(call[2]["with_comments"] for call in searches)
    # The subscribed projects first, then the linked keys they did not bring back.
    assert searches[0][1][0].startswith('project in ("WEB") AND updated >= -3m')
    first_key_jql = searches[1][1][0]
    assert first_key_jql.startswith(f'key in ("{sorted(keys)[0]}"')
    assert "AND updated >= -3m" in first_key_jql  # a minute since the last cycle, plus overlap
    # Without subscriptions, the project search is left out.
    with uow() as work:
        for subscription in work.session.scalars(select(ChannelSubscription)):
            subscription.active = False
        work.commit()
    clock.advance(minutes=1)
    jira.calls.clear()
    monitor.run_once()
    assert len(calls(jira, "search")) == math.ceil(count / 100)


def test_more_pages_only_when_more_than_a_page_changed_and_subscribers_hear_of_them(
    uow: UnitOfWorkFactory, jira: InMemoryJira, clock: Clock
) -> None:
    keys = big_project(jira, 250)
    link(uow, jira, *keys[:150])
    subscribe(uow, "BIG")  # #C2 follows the whole project
    notifier = Notifier(
        connect_account=lambda: "acc-connect",
        jira_base_url=jira.base_url,
        clock=clock,
        subscriptions=SubscriptionRouter(jira, ConnectPolicy()),
    )
    monitor = JiraMonitor(
        uow, jira, notifier, interval=INTERVAL, clock=clock, webhook_grace=timedelta(0)
    )
    monitor.run_once()
    clock.advance(minutes=1)
    for key in keys:
        jira.transition_issue(key, "11")
    jira.calls.clear()
    report = monitor.run_once()
    # Three pages of the project search; the 150 linked keys came back in them, so no key
    # batch asks for them again.
    assert [call[2]["page_token"] for call in calls(jira, "search")] == [None, "100", "200"]
    assert all(call[1][0].startswith('project in ("BIG")') for call in calls(jira, "search"))
    assert report.issues == 250 and report.changes == 250  # each issue through the detector once
    with uow() as work:
        rows = work.session.scalars(select(NotificationOutbox)).all()
        heard = {
            channel: {row.payload["issue"]["key"] for row in rows if row.channel_id == channel}
            for channel in ("C1", "C2")
        }
    assert heard == {"C1": set(keys[:150]), "C2": set(keys)}


# -- finding changes once ----------------------------------------------------------------------


def test_a_change_made_without_a_webhook_is_told_once(
    uow: UnitOfWorkFactory,
    jira: InMemoryJira,
    clock: Clock,
    notifier: Notifier,
    make_monitor: Callable[..., JiraMonitor],
) -> None:
    link(uow, jira, "OPS-2")
    monitor = make_monitor()
    assert monitor.run_once().changes == 0
    held: list[dict[str, Any]] = []  # what Jira would have sent, had a webhook reached us
    emitter = JiraWebhookEmitter(jira, held.append).start()
    clock.advance(minutes=1)
    with jira.act_as("bob@example.com"):
        jira.transition_issue("OPS-2", "11")
        jira.add_comment("OPS-2", "Renewing the staging certificate now.")
    emitter.flush()
    emitter.stop()
    assert monitor.run_once().changes == 2
    assert told(uow) == [("OPS-2", "status"), ("OPS-2", "comment_added")]
    with uow() as work:
        (row,) = work.session.scalars(select(NotificationOutbox))
        status, comment = row.payload["changes"]
        assert status["actor"] == "Bob Baker"  # the changelog the search brought names him
        assert comment["actor"] == "Bob Baker"  # a comment names its author
    clock.advance(minutes=1)
    assert monitor.run_once().changes == 0  # the window overlaps: seen again, not told again
    processor = DeliveryProcessor(uow, notifier, clock=clock)
    with uow() as work:
        for payload in held:  # the late webhooks
            processor.process(work.session, parse_webhook(payload))
        work.commit()
    assert len(held) >= 2
    assert told(uow) == [("OPS-2", "status"), ("OPS-2", "comment_added")]


def test_fresh_changes_are_left_to_the_webhook_then_found_by_the_next_cycle(
    uow: UnitOfWorkFactory,
    jira: InMemoryJira,
    clock: Clock,
    make_monitor: Callable[..., JiraMonitor],
) -> None:
    link(uow, jira, "OPS-2")
    monitor = make_monitor(webhook_grace=timedelta(seconds=20))
    monitor.run_once()
    clock.advance(minutes=1)
    with jira.act_as("bob@example.com"):
        jira.transition_issue("OPS-2", "11")
    clock.advance(seconds=5)
    assert monitor.run_once().changes == 0  # 5 s old: a webhook, which names Bob, may come
    clock.advance(minutes=1)
    assert monitor.run_once().changes == 1  # none came: the overlapping window finds it
    assert told(uow) == [("OPS-2", "status")]


def test_a_change_told_by_webhook_is_not_told_again_by_the_poller(
    uow: UnitOfWorkFactory,
    jira: InMemoryJira,
    clock: Clock,
    notifier: Notifier,
    make_monitor: Callable[..., JiraMonitor],
) -> None:
    link(uow, jira, "WEB-1")
    monitor = make_monitor()
    monitor.run_once()
    processor = DeliveryProcessor(uow, notifier, clock=clock)

    def deliver(payload: dict[str, Any]) -> None:
        with uow() as work:
            processor.process(work.session, parse_webhook(payload))
            work.commit()

    emitter = JiraWebhookEmitter(jira, deliver).start()
    clock.advance(minutes=1)
    with jira.act_as("carol@example.com"):
        jira.assign_issue("WEB-1", "acc-bob")
    emitter.flush()
    emitter.stop()
    assert told(uow) == [("WEB-1", "assignee")]
    assert monitor.run_once().changes == 0
    assert told(uow) == [("WEB-1", "assignee")]


def test_a_moved_issue_is_followed_by_its_id(
    uow: UnitOfWorkFactory,
    jira: InMemoryJira,
    clock: Clock,
    make_monitor: Callable[..., JiraMonitor],
) -> None:
    link(uow, jira, "OPS-1")
    issue_id = jira.search_all("key = OPS-1")[0].id
    monitor = make_monitor()
    monitor.run_once()
    clock.advance(minutes=1)
    moved = jira.move_issue("OPS-1", "WEB")
    assert monitor.run_once().changes == 1
    assert told(uow) == [(moved.key, "moved")]
    assert links(uow)[issue_id] == (moved.key, False)
    clock.advance(minutes=1)
    jira.calls.clear()
    monitor.run_once()
    assert calls(jira, "search")[0][1][0].startswith(f'key in ("{moved.key}")')


def test_a_linked_issue_moved_out_of_a_subscribed_project_is_still_followed(
    uow: UnitOfWorkFactory,
    jira: InMemoryJira,
    clock: Clock,
    make_monitor: Callable[..., JiraMonitor],
) -> None:
    """The project search goes first and no longer finds it; its key is still asked for."""
    link(uow, jira, "OPS-1", "OPS-2")
    subscribe(uow, "OPS")
    issue_id = jira.search_all("key = OPS-1")[0].id
    monitor = make_monitor()
    monitor.run_once()
    clock.advance(minutes=1)
    moved = jira.move_issue("OPS-1", "WEB")
    jira.transition_issue("OPS-2", "11")  # brought back by the project search
    jira.calls.clear()
    monitor.run_once()
    assert [call[1][0].split(" AND ")[0] for call in calls(jira, "search")] == [
        'project in ("OPS")',
        'key in ("OPS-1")',
    ]
    assert (moved.key, "moved") in told(uow) and ("OPS-2", "status") in told(uow)
    assert links(uow)[issue_id] == (moved.key, False)


# -- keys that no longer exist --------------------------------------------------------------------


def test_a_deleted_key_retires_its_link_and_the_others_are_still_polled(
    uow: UnitOfWorkFactory,
    jira: InMemoryJira,
    clock: Clock,
    make_monitor: Callable[..., JiraMonitor],
) -> None:
    link(uow, jira, "OPS-1", "OPS-2", "OPS-3")
    gone_id = jira.search_all("key = OPS-2")[0].id
    monitor = make_monitor()
    monitor.run_once()
    clock.advance(minutes=1)
    jira.delete_issue("OPS-2")
    jira.update_issue("OPS-3", summary="Rotate the keys")
    jira.calls.clear()
    report = monitor.run_once()
    assert report.polled and report.retired == ("OPS-2",)
    # The batch is refused, the named key checked by id, the rest asked again.
    assert [call[0] for call in jira.calls] == ["search", "get_issue", "search"]
    assert calls(jira, "get_issue") == [("get_issue", (gone_id,), {})]
    assert told(uow) == [("OPS-3", "summary"), ("OPS-2", "deleted")]
    assert dict(links(uow).values()) == {
        "OPS-1": False,
        "OPS-2": True,
        "OPS-3": False,
    }
    clock.advance(minutes=1)
    jira.calls.clear()
    monitor.run_once()
    assert [call[0] for call in jira.calls] == ["search"]
    assert calls(jira, "search")[0][1][0].startswith('key in ("OPS-1", "OPS-3")')


class Localised:
    """A Jira answering in another language: its 400s name no key Connect can read."""

    def __init__(self, jira: InMemoryJira) -> None:
        self.jira = jira

    def __getattr__(self, name: str) -> Any:
        return getattr(self.jira, name)

    def search(self, jql: str, **options: Any) -> SearchPage:
        try:
            return self.jira.search(jql, **options)
        except JiraBadRequest:
            raise JiraBadRequest("Die JQL-Abfrage enthält einen ungültigen Wert.") from None


def test_a_deleted_key_jira_does_not_name_is_found_by_halving_the_batch(
    uow: UnitOfWorkFactory,
    jira: InMemoryJira,
    clock: Clock,
    make_monitor: Callable[..., JiraMonitor],
) -> None:
    keys = big_project(jira, 250)
    link(uow, jira, *keys)
    monitor = make_monitor(Localised(jira))
    monitor.run_once()
    clock.advance(minutes=1)
    jira.delete_issue("BIG-137")
    jira.update_issue("BIG-200", summary="Still here")
    jira.update_issue("BIG-101", summary="Me too")
    jira.calls.clear()
    report = monitor.run_once()
    assert report.retired == ("BIG-137",) and report.reads == 1
    assert sorted(told(uow)) == [
        ("BIG-101", "summary"),
        ("BIG-137", "deleted"),
        ("BIG-200", "summary"),
    ]
    assert report.searches < 25  # halving the batch, not a search per key


def test_a_bad_request_that_is_not_about_a_key_keeps_the_cursor(
    uow: UnitOfWorkFactory,
    jira: InMemoryJira,
    clock: Clock,
    make_monitor: Callable[..., JiraMonitor],
) -> None:
    link(uow, jira, "OPS-1", "OPS-2")
    monitor = make_monitor()
    monitor.run_once()
    before = cursor(uow)
    clock.advance(minutes=1)
    jira.fail_next(JiraBadRequest("Something else is wrong."), operation="search", times=10)
    report = monitor.run_once()
    assert not report.polled and report.retired == ()
    assert cursor(uow) == before
    assert all(not retired for _, retired in links(uow).values())


def test_a_subscribed_project_jira_no_longer_has_is_left_out(
    uow: UnitOfWorkFactory,
    jira: InMemoryJira,
    clock: Clock,
    make_monitor: Callable[..., JiraMonitor],
    caplog: pytest.LogCaptureFixture,
) -> None:
    link(uow, jira, "OPS-1")
    subscribe(uow, "WEB", number=1)
    subscribe(uow, "GONE", number=2)
    monitor = make_monitor()
    monitor.run_once()
    for _ in range(2):
        clock.advance(minutes=1)
        jira.calls.clear()
        report = monitor.run_once()
        assert report.polled and cursor(uow) == clock.now
        assert [call[0] for call in jira.calls] == ["search", "projects", "search", "search"]
        assert calls(jira, "search")[1][1][0].startswith('project in ("WEB")')
        assert calls(jira, "search")[2][1][0].startswith('key in ("OPS-1")')
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert warnings == ["subscribed project GONE is not in Jira (or hidden from Connect)"]


# -- Jira down ---------------------------------------------------------------------------------


def test_jira_down_keeps_the_cursor_backs_off_and_recovers(
    uow: UnitOfWorkFactory,
    jira: InMemoryJira,
    clock: Clock,
    make_monitor: Callable[..., JiraMonitor],
    caplog: pytest.LogCaptureFixture,
) -> None:
    link(uow, jira, "OPS-2")
    monitor = make_monitor()
    monitor.run_once()
    start = cursor(uow)
    assert start == T0
    clock.advance(minutes=1)
    with jira.act_as("bob@example.com"):
        jira.transition_issue("OPS-2", "11")
    jira.fail_next(JiraUnavailable("Jira is down"), operation="search", times=2)
    caplog.set_level(logging.INFO, logger="services.jira_changes.monitor")
    attempts: list[bool] = []
    for _ in range(8):  # the worker calls it once a minute
        jira.calls.clear()
        monitor.run_once()
        attempts.append(bool(calls(jira, "search")))
        clock.advance(minutes=1)
    # Tried at once (fails), after 2 min (fails), after 4 more (works): not every minute.
    assert attempts == [True, False, True, False, False, False, True, True]
    assert told(uow) == [("OPS-2", "status")]
    assert cursor(uow) == T0 + timedelta(minutes=8)  # the start of the last cycle
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "Jira is down" in warnings[0].getMessage()
    assert any("again after 2 failed cycles" in r.getMessage() for r in caplog.records)


def test_the_cursor_stays_until_every_batch_is_stored(
    uow: UnitOfWorkFactory,
    jira: InMemoryJira,
    clock: Clock,
    make_monitor: Callable[..., JiraMonitor],
) -> None:
    keys = sorted(big_project(jira, 150))

    class SecondSearchFails:
        def __init__(self) -> None:
            self.searches: int | None = None  # counting once armed

        def __getattr__(self, name: str) -> Any:
            return getattr(jira, name)

        def search(self, jql: str, **options: Any) -> SearchPage:
            if self.searches is not None:
                self.searches += 1
                if self.searches == 2:
                    raise JiraUnavailable("Jira timed out")
            return jira.search(jql, **options)

    flaky = SecondSearchFails()
    link(uow, jira, *keys)
    monitor = make_monitor(flaky)
    monitor.run_once()
    clock.advance(minutes=1)
    jira.update_issue(keys[0], summary="First batch")
    jira.update_issue(keys[-1], summary="Second batch")
    flaky.searches = 0
    assert not monitor.run_once().polled
    assert cursor(uow) == T0
    assert told(uow) == [(keys[0], "summary")]  # the first batch is stored, and stays told
    clock.advance(minutes=5)
    assert monitor.run_once().changes == 1  # the same window again: only the news is told
    assert told(uow) == [(keys[0], "summary"), (keys[-1], "summary")]
    assert cursor(uow) == T0 + timedelta(minutes=6)


# -- one process at a time -----------------------------------------------------------------------


def test_only_the_lease_holder_polls_and_another_takes_over_when_it_dies(
    uow: UnitOfWorkFactory,
    jira: InMemoryJira,
    clock: Clock,
    make_monitor: Callable[..., JiraMonitor],
    caplog: pytest.LogCaptureFixture,
) -> None:
    link(uow, jira, "OPS-1")
    first, second = make_monitor(), make_monitor()
    assert first.run_once().polled
    jira.calls.clear()
    for _ in range(3):
        clock.advance(minutes=1)
        assert not second.run_once().polled
        assert first.run_once().polled
    assert len(calls(jira, "search")) == 3  # the holder's cycles only
    clock.advance(minutes=3, seconds=1)  # the holder died: its lease runs out
    assert second.run_once().polled
    caplog.set_level(logging.WARNING, logger="services.jira_changes.poll_lease")
    assert not first.run_once().polled  # back from a long pause: it is not the poller now
    assert "taken over" in caplog.text
    second.lease.release()  # a clean shutdown hands over at once
    assert first.run_once().polled


def test_racing_monitors_poll_from_one_process(
    uow: UnitOfWorkFactory,
    jira: InMemoryJira,
    clock: Clock,
    make_monitor: Callable[..., JiraMonitor],
) -> None:
    link(uow, jira, "OPS-1", "WEB-1")
    monitors = [make_monitor() for _ in range(4)]
    start = threading.Barrier(len(monitors))

    def race(monitor: JiraMonitor) -> int:
        start.wait()
        return sum(monitor.run_once().polled for _ in range(5))

    with ThreadPoolExecutor(len(monitors)) as pool:
        polled = list(pool.map(race, monitors))
    assert sorted(polled) == [0, 0, 0, 5]


def test_the_poller_dms_whom_a_change_concerns_once_with_the_webhook(
    uow: UnitOfWorkFactory, jira: InMemoryJira, clock: Clock
) -> None:
    """Carol, mapped, is assigned OPS-2 and mentioned in a comment in Jira; no webhook gets
    through. The poller finds both and DMs her each change; the late webhooks add nothing."""
    notifier = Notifier(
        connect_account=lambda: "acc-connect",
        jira_base_url=jira.base_url,
        clock=clock,
        personal=PersonalNotices(IssueWatchers(jira)),
    )
    with uow() as work:
        work.session.add(
            UserLink(
                team_id=T,
                slack_user_id="U0CAROL",
                jira_account_id="acc-carol",
                jira_display_name="Carol Chen",
                email="carol@example.com",
            )
        )
        work.commit()
    link(uow, jira, "OPS-2")
    monitor = JiraMonitor(
        uow, jira, notifier, interval=INTERVAL, clock=clock, webhook_grace=timedelta(0)
    )
    monitor.run_once()
    held: list[dict[str, Any]] = []
    emitter = JiraWebhookEmitter(jira, held.append).start()
    clock.advance(minutes=1)
    with jira.act_as("bob@example.com"):
        jira.assign_issue("OPS-2", "acc-carol")
        jira.add_comment("OPS-2", "[~accountid:acc-carol] the staging one first, please")
    emitter.flush()
    emitter.stop()
    assert monitor.run_once().changes == 2

    def dmed() -> list[tuple[str, list[str]]]:
        with uow() as work:
            rows = work.session.scalars(
                select(NotificationOutbox).where(NotificationOutbox.channel_id == "U0CAROL")
            ).all()
            return [
                (line["kind"], list(row.payload["reasons"]))
                for row in rows
                for line in row.payload["changes"]
            ]

    both = ["assigned", "mentions"]  # one burst: one DM holding both changes, and both reasons
    assert dmed() == [("assignee", both), ("comment_added", both)]
    processor = DeliveryProcessor(uow, notifier, clock=clock)
    with uow() as work:
        for payload in held:
            processor.process(work.session, parse_webhook(payload))
        work.commit()
    assert dmed() == [("assignee", both), ("comment_added", both)]  # not DMed again
