"""Jira down (its port closed: connections refused): users are told so, the poller backs off,
webhooks are still taken in, and everything works again once Jira is back."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

from sqlalchemy import select

from clients.jira_client import JiraClient
from models import ProcessedDelivery
from services.jira_changes.monitor import JiraMonitor
from services.notifications.fan_out import ConnectAccount, Notifier
from services.subscriptions.routing import SubscriptionRouter
from tests.e2e.conftest import RunningConnect, unfinished_work
from tests.faults.helpers import (
    CallLog,
    comment_webhook,
    last_response,
    link_channel,
    note,
    posted_texts,
    wait_until,
)

JIRA_DOWN = "Jira is not reachable right now"


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


def test_commands_get_a_clear_answer_while_jira_is_down(connect: RunningConnect) -> None:
    connect.jira.stop()

    for text in ("show OPS-1", "search backup"):
        response, response_url = connect.slash(text)
        assert response.status_code == 200  # acknowledged without waiting on Jira
        answer = last_response(connect, response_url)
        assert JIRA_DOWN in answer["text"], (text, answer)
        assert "Traceback" not in json.dumps(answer)

    # `create` opens its modal at once (the trigger id lives 3 s), then says what is wrong.
    response, _ = connect.slash("create OPS Printer on fire")
    assert response.status_code == 200
    assert connect.slack.wait_for("views.open").status == 200
    update = connect.slack.wait_for("views.update", timeout=20)
    assert JIRA_DOWN in json.dumps(update.params["view"])

    connect.jira.start()  # the same URL again
    _, response_url = connect.slash("show OPS-1")
    card = last_response(connect, response_url)
    assert card["text"].startswith("OPS-1:")


def test_webhooks_are_stored_while_jira_is_down_and_each_change_is_posted_once(
    connect: RunningConnect,
) -> None:
    link_channel(connect)
    connect.jira.stop()

    body = comment_webhook(connect.jira, 1)
    first = connect.jira_webhook(body)
    again = connect.jira_webhook(body)  # Jira redelivers when it is unsure
    assert (first.status_code, first.json()) == (200, {"status": "accepted"})
    assert (again.status_code, again.json()) == (200, {"status": "duplicate"})
    with connect.runtime.services.uow() as work:
        stored = work.session.scalars(select(ProcessedDelivery.dedupe_key)).all()
    assert len(stored) == 1  # stored before the 200, once

    wait_until(lambda: note(1) in posted_texts(connect.slack), what="the comment posted")
    connect.jira.start()
    assert connect.jira_webhook(comment_webhook(connect.jira, 2)).json()["status"] == "accepted"
    wait_until(lambda: note(2) in posted_texts(connect.slack), what="the next comment posted")
    wait_until(lambda: unfinished_work(connect.runtime.services.uow) == 0, what="work settled")

    posted = posted_texts(connect.slack)
    assert posted.count(note(1)) == 1 and posted.count(note(2)) == 1, posted


def _monitor(connect: RunningConnect, jira: JiraClient, clock: Clock) -> JiraMonitor:
    services = connect.runtime.services
    notifier = Notifier(
        connect_account=ConnectAccount(jira),
        jira_base_url=services.policy.jira_base_url,
        subscriptions=SubscriptionRouter(jira, services.policy),
    )
    return JiraMonitor(services.uow, jira, notifier, interval=60, clock=clock)


def test_the_poller_backs_off_while_jira_is_down_and_finds_the_change_after(
    connect: RunningConnect, jira_calls: CallLog
) -> None:
    link_channel(connect)
    jira = connect.runtime.services.jira
    clock = Clock(datetime.now().astimezone())
    monitor = _monitor(connect, jira, clock)
    assert monitor.run_once().polled  # Jira up: the cursor is stored

    connect.jira.stop()
    connect.jira.jira.transition_issue("OPS-1", "21")  # In Progress -> To Do, while unreachable
    searches = jira_calls.count("search")

    clock.advance(60)
    assert not monitor.run_once().polled
    assert jira_calls.count("search") == searches + 1  # it tried, and failed
    assert ("search", "JiraUnavailable") in jira_calls.calls

    clock.advance(60)  # one interval later: resting (twice the interval after one failure)
    assert not monitor.run_once().polled
    assert jira_calls.count("search") == searches + 1
    clock.advance(61)  # past the rest: it tries again, fails, and rests twice as long
    assert not monitor.run_once().polled
    assert jira_calls.count("search") == searches + 2
    clock.advance(200)
    assert not monitor.run_once().polled
    assert jira_calls.count("search") == searches + 2

    connect.jira.start()
    clock.advance(41)  # 241 s after the second failure
    report = monitor.run_once()
    assert report.polled and report.changes >= 1
    wait_until(lambda: "→ To Do" in posted_texts(connect.slack), what="the change posted")
    wait_until(lambda: unfinished_work(connect.runtime.services.uow) == 0, what="work settled")
    assert posted_texts(connect.slack).count("→ To Do") == 1
