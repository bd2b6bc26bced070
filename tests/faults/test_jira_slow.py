"""Jira slow: it answers only after longer than the client's timeout. Users are told, no thread
waits for it for ever, and the first answer in time works again."""

from __future__ import annotations

import json
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

from bot.container import WORK_THREADS
from services.jira_changes.monitor import JiraMonitor, PollReport
from services.notifications.fan_out import ConnectAccount, Notifier
from tests.e2e.conftest import RunningConnect
from tests.faults.helpers import JIRA_TIMEOUT, CallLog, last_response, link_channel

JIRA_SLOW = "Jira did not answer in time"
SLOW = JIRA_TIMEOUT * 8  # seconds the fake Jira sleeps before every answer


def test_commands_against_a_slow_jira_get_a_clear_answer_and_free_their_threads(
    connect: RunningConnect, jira_calls: CallLog
) -> None:
    connect.jira.delay_seconds = SLOW
    commands = WORK_THREADS + 4  # more than Connect's work threads: each must be given back
    with ThreadPoolExecutor(commands) as pool:
        sent = list(pool.map(lambda _: connect.slash("show OPS-1"), range(commands)))
    assert all(response.status_code == 200 for response, _ in sent)  # every ack at once

    for _, response_url in sent:
        answer = last_response(connect, response_url, timeout=60)
        assert JIRA_SLOW in answer["text"], answer
        assert "Traceback" not in json.dumps(answer)
    assert jira_calls.calls.count(("get_issue", "JiraTimeout")) == commands

    response, _ = connect.slash("create OPS Printer on fire")
    assert response.status_code == 200
    assert connect.slack.wait_for("views.open").status == 200  # opened before Jira answered
    update = connect.slack.wait_for("views.update", timeout=30)
    assert JIRA_SLOW in json.dumps(update.params["view"])

    connect.jira.delay_seconds = 0  # Jira is quick again: the next command is served
    _, response_url = connect.slash("show OPS-1")
    assert last_response(connect, response_url)["text"].startswith("OPS-1:")


def test_a_poll_cycle_against_a_slow_jira_ends_and_backs_off(
    connect: RunningConnect, jira_calls: CallLog
) -> None:
    services = connect.runtime.services
    jira = services.jira
    notifier = Notifier(
        connect_account=ConnectAccount(jira), jira_base_url=services.policy.jira_base_url
    )
    clock = [datetime.now(UTC)]
    monitor = JiraMonitor(services.uow, jira, notifier, interval=60, clock=lambda: clock[0])
    link_channel(connect)  # something to poll
    assert monitor.run_once().polled
    connect.jira.delay_seconds = SLOW

    reports: list[PollReport] = []
    clock[0] += timedelta(seconds=60)
    cycle = threading.Thread(target=lambda: reports.append(monitor.run_once()), daemon=True)
    cycle.start()
    cycle.join(60)  # a hang shows as a failure here, not as a stuck test run
    assert not cycle.is_alive(), "the poll cycle waited on Jira for ever"
    assert reports == [PollReport(polled=False, searches=reports[0].searches)]
    assert ("search", "JiraTimeout") in jira_calls.calls

    searches = jira_calls.count("search")
    assert not monitor.run_once().polled  # backing off: Jira is not asked again at once
    assert jira_calls.count("search") == searches
