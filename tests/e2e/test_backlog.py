"""When the work after acks is backed up, acks that would add to it say "try again" instead.

Connect here has one work thread and a bound of two waiting tasks; the tests hold that
thread and fill the queue with tasks of their own, then send what Slack sends.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

import bot.container
from handlers.backlog import BUSY_FIELD_TEXT
from simulators.jira_site.server import FakeJiraServer
from simulators.slack_workspace.server import FakeSlackServer
from tests.e2e.conftest import RunningConnect, connect_settings, running_connect, wait_quiet
from tests.e2e.slack_events import message_event, send_event
from tests.e2e.test_commands import wait_for_response
from tests.e2e.test_create_issue import (
    form_values,
    is_form,
    option_value,
    shortcut_payload,
    submission,
    wait_for_view,
)

LIMIT = 2


@pytest.fixture
def connect(
    fake_slack: FakeSlackServer,
    fake_jira: FakeJiraServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[RunningConnect]:
    monkeypatch.setattr(bot.container, "WORK_THREADS", 1)
    monkeypatch.setattr(bot.container, "WORK_BACKLOG", LIMIT)
    slack = fake_slack.slack
    slack.add_user("U0ALICE", "alice", real_name="Alice Adams", email="alice@example.com")
    slack.add_channel("C0GENERAL", "general", members=["U0ALICE"])
    settings = connect_settings(fake_slack, fake_jira, tmp_path / "connect.db")
    with running_connect(settings, fake_slack, fake_jira) as running:
        yield running


class Jam:
    """The one work thread held and `LIMIT` tasks waiting behind it, until released."""

    def __init__(self, connect: RunningConnect) -> None:
        self.executor = connect.runtime.after_ack.pool
        self.release = threading.Event()
        started = threading.Event()

        def hold() -> None:
            started.set()
            self.release.wait(30)

        self.executor.submit(hold)
        assert started.wait(5)
        for _ in range(LIMIT):
            self.executor.submit(self.release.wait, 30)
        assert self.executor.backlog == LIMIT

    def clear(self) -> None:
        """Released, and every task queued so far has run."""
        self.release.set()
        self.executor.submit(lambda: None).result(10)
        assert self.executor.backlog == 0


def turned_away(connect: RunningConnect, listener: str) -> float:
    metrics = requests.get(f"{connect.url}/metrics", timeout=5).text
    for line in metrics.splitlines():
        if line.startswith(f'connect_work_turned_away_total{{listener="{listener}"}}'):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def test_a_command_says_try_again_and_queues_nothing(connect: RunningConnect) -> None:
    jam = Jam(connect)
    response, response_url = connect.slash("show OPS-1")
    assert response.status_code == 200
    answer = response.json()
    assert answer["response_type"] == "ephemeral"
    assert "try again in a minute" in answer["text"]
    assert connect.runtime.after_ack.pool.backlog == LIMIT  # nothing added
    assert turned_away(connect, "run_jira") == 1
    assert "connect_work_waiting 2.0" in requests.get(f"{connect.url}/metrics", timeout=5).text
    jam.clear()
    assert connect.slack.responses(response_url) == []  # it was not done late either
    # Once the queue has drained, the same command works.
    response, response_url = connect.slash("show OPS-1")
    assert response.text == ""
    assert "OPS-1" in wait_for_response(connect, response_url)["text"]


def test_help_and_usage_errors_are_answered_as_ever(connect: RunningConnect) -> None:
    jam = Jam(connect)
    help_answer = connect.slash("help")[0].json()
    assert "/jira" in help_answer["text"] and "try again" not in help_answer["text"]
    usage = connect.slash("transition")[0].json()
    assert "try again in a minute" not in usage["text"]
    assert connect.runtime.after_ack.pool.backlog == LIMIT
    jam.clear()


def test_the_create_modal_keeps_what_was_typed_and_says_submit_again(
    connect: RunningConnect,
) -> None:
    connect.interact(shortcut_payload("create_issue", "trig-form"))
    form = wait_for_view(connect, is_form)
    values = form_values("OPS", option_value(form, "issue_type", "Task"), "Printer jams")
    issues_before = len(connect.jira.jira.search_all("project = OPS"))
    jam = Jam(connect)
    answer = connect.interact(submission(form, values)).json()
    assert answer == {"response_action": "errors", "errors": {"summary": BUSY_FIELD_TEXT}}
    assert turned_away(connect, "create") == 1
    jam.clear()
    assert len(connect.jira.jira.search_all("project = OPS")) == issues_before
    # Submitted again once the queue has drained: created.
    assert connect.interact(submission(form, values)).json()["response_action"] == "update"
    wait_for_view(connect, lambda v: "Created" in str(v["blocks"]) and v["id"] == form["id"])


def test_a_shortcut_with_jira_to_ask_opens_a_modal_that_says_so(connect: RunningConnect) -> None:
    jam = Jam(connect)
    connect.interact(shortcut_payload("create_issue", "trig-cold"))
    opened = connect.slack.wait_for("views.open", lambda c: c.params["trigger_id"] == "trig-cold")
    view = opened.params["view"]
    view = json.loads(view) if isinstance(view, str) else view
    assert "try again in a minute" in str(view["blocks"])
    assert "submit" not in view
    assert connect.runtime.after_ack.pool.backlog == LIMIT
    jam.clear()


def test_a_shortcut_whose_form_is_kept_still_opens_it(connect: RunningConnect) -> None:
    connect.interact(shortcut_payload("create_issue", "trig-warm-up"))
    wait_for_view(connect, is_form)
    jam = Jam(connect)
    connect.interact(shortcut_payload("create_issue", "trig-warm"))
    opened = connect.slack.wait_for("views.open", lambda c: c.params["trigger_id"] == "trig-warm")
    view = opened.params["view"]
    assert is_form(json.loads(view) if isinstance(view, str) else view)  # needs no work thread
    jam.clear()


def test_previews_are_skipped_and_plain_talk_never_queues(connect: RunningConnect) -> None:
    send_event(connect, message_event("nothing to see here"))
    send_event(connect, message_event("lunch?"))
    assert connect.runtime.after_ack.pool.backlog == 0  # no task at all for talk without keys
    jam = Jam(connect)
    send_event(connect, message_event("OPS-1 is on fire"))
    assert connect.runtime.after_ack.pool.backlog == LIMIT
    assert turned_away(connect, "preview") == 1
    jam.clear()
    wait_quiet(connect)
    assert connect.slack.calls_to("chat.postMessage") == []
    # With the queue drained, a key is previewed again.
    send_event(connect, message_event("OPS-1 is on fire"))
    connect.slack.wait_for("chat.postMessage", lambda c: "OPS-1" in str(c.params))
