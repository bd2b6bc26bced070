"""AfterAck: the one executor listeners hand their work to after the ack. Bounded (a "busy"
answer, counted by listener), guarded (what a task raises is logged with its traceback, at
the level its kind deserves), and run in a copy of the submitter's context variables."""

from __future__ import annotations

import contextvars
import logging
import threading
from collections.abc import Iterator

import pytest
from pydantic import BaseModel, ValidationError
from slack_sdk.errors import SlackApiError
from slack_sdk.web import SlackResponse

from bot.context_executor import ContextExecutor
from clients.slack_client import SlackError
from handlers.after_ack import AfterAck

WAIT = 10.0  # seconds: a bound for a hang, not a timing
VALUE: contextvars.ContextVar[str | None] = contextvars.ContextVar("after_ack", default=None)


@pytest.fixture
def after_ack() -> Iterator[AfterAck]:
    work = AfterAck(ContextExecutor(1), limit=2)
    yield work
    work.shutdown()


def finished(after_ack: AfterAck) -> None:
    """Every task submitted so far has run (one thread: a marker behind them)."""
    done = threading.Event()
    after_ack.submit("marker", done.set)
    assert done.wait(WAIT)


def hold(after_ack: AfterAck) -> threading.Event:
    """The one thread held until the event is set."""
    started, release = threading.Event(), threading.Event()

    def held() -> None:
        started.set()
        release.wait(WAIT)

    after_ack.submit("hold", held)
    assert started.wait(WAIT)
    return release


def test_past_the_bound_requests_are_refused_and_counted_by_name() -> None:
    turned_away: list[str] = []
    after_ack = AfterAck(ContextExecutor(1), limit=2, on_turned_away=turned_away.append)
    release = hold(after_ack)
    assert not after_ack.refuse("run_jira")
    after_ack.submit("a", release.wait, WAIT)
    after_ack.submit("b", release.wait, WAIT)
    assert after_ack.backlog == 2 and after_ack.busy
    assert after_ack.refuse("run_jira")
    assert after_ack.refuse("create")
    assert turned_away == ["run_jira", "create"]
    release.set()
    after_ack.shutdown()
    assert after_ack.backlog == 0 and after_ack.in_flight == 0
    assert not after_ack.refuse("run_jira")


def test_without_a_bound_nothing_is_refused() -> None:
    after_ack = AfterAck(ContextExecutor(1))
    release = hold(after_ack)
    for _ in range(5):
        after_ack.submit("wait", release.wait, WAIT)
    assert after_ack.backlog == 5
    assert not after_ack.refuse("run_jira")
    release.set()
    after_ack.shutdown()


def test_a_task_sees_the_submitters_context_and_keeps_its_own(after_ack: AfterAck) -> None:
    seen: list[str | None] = []

    def task(value: str) -> None:
        seen.append(VALUE.get())
        VALUE.set(value)

    token = VALUE.set("request-1")
    try:
        after_ack.submit("task", task, "set by the task")
    finally:
        VALUE.reset(token)
    after_ack.submit("task", task, "again")  # the same thread; the first one's value is gone
    finished(after_ack)
    assert seen == ["request-1", None]


def test_our_own_fault_is_logged_as_an_error_with_its_traceback(
    after_ack: AfterAck, caplog: pytest.LogCaptureFixture
) -> None:
    def broken() -> None:
        raise RuntimeError("a bug of ours")

    with caplog.at_level(logging.WARNING, logger="connect.slack"):
        after_ack.submit("share_issue", broken)
        finished(after_ack)
    (record,) = [r for r in caplog.records if "share_issue" in r.getMessage()]
    assert record.levelno == logging.ERROR
    assert record.getMessage() == "share_issue failed after the ack"
    assert record.exc_info is not None and "a bug of ours" in caplog.text
    assert "in broken" in caplog.text  # the traceback names where it was raised


def test_a_key_error_after_the_ack_is_our_fault_not_bad_input(
    after_ack: AfterAck, caplog: pytest.LogCaptureFixture
) -> None:
    # The payload was validated before the ack: a missing key now is a bug of Connect's.
    def lookup() -> None:
        _ = {"key": "OPS-1"}["issue"]

    with caplog.at_level(logging.WARNING, logger="connect.slack"):
        after_ack.submit("transition", lookup)
        finished(after_ack)
    (record,) = [r for r in caplog.records if "transition" in r.getMessage()]
    assert record.levelno == logging.ERROR
    assert record.exc_info is not None and record.exc_info[0] is KeyError


def test_a_malformed_payload_is_a_warning_with_its_traceback(
    after_ack: AfterAck, caplog: pytest.LogCaptureFixture
) -> None:
    class Shape(BaseModel):
        id: int

    def read() -> None:
        Shape.model_validate({"id": "not a number"})

    with caplog.at_level(logging.WARNING, logger="connect.slack"):
        after_ack.submit("refresh_form", read)
        finished(after_ack)
    (record,) = [r for r in caplog.records if "refresh_form" in r.getMessage()]
    assert record.levelno == logging.WARNING
    assert record.exc_info is not None and record.exc_info[0] is ValidationError


def test_slack_refusing_a_follow_up_is_a_warning_with_its_code(
    after_ack: AfterAck, caplog: pytest.LogCaptureFixture
) -> None:
    response = SlackResponse(
        client=None,
        http_verb="POST",
        api_url="https://slack.com/api/views.update",
        req_args={},
        data={"ok": False, "error": "not_found"},
        headers={},
        status_code=200,
    )

    def update() -> None:
        raise SlackApiError("views.update failed", response)

    with caplog.at_level(logging.WARNING, logger="connect.slack"):
        after_ack.submit("check_mapping", update)
        finished(after_ack)
    (record,) = [r for r in caplog.records if "check_mapping" in r.getMessage()]
    assert record.levelno == logging.WARNING
    assert record.getMessage() == "check_mapping: Slack could not be told (not_found)"


def test_slack_refusing_through_services_slack_is_a_warning_with_its_code(
    after_ack: AfterAck, caplog: pytest.LogCaptureFixture
) -> None:
    def update() -> None:
        raise SlackError("not_found", "Slack views.update failed: not_found")

    with caplog.at_level(logging.WARNING, logger="connect.slack"):
        after_ack.submit("refresh_form", update)
        finished(after_ack)
    (record,) = [r for r in caplog.records if "refresh_form" in r.getMessage()]
    assert record.levelno == logging.WARNING
    assert record.getMessage() == "refresh_form: Slack could not be told (not_found)"


def test_after_shutdown_a_submission_is_logged_not_raised(
    caplog: pytest.LogCaptureFixture,
) -> None:
    after_ack = AfterAck(ContextExecutor(1))
    after_ack.shutdown()
    with caplog.at_level(logging.INFO, logger="connect.slack"):
        after_ack.submit("create", lambda: None)
    assert "stopping: create was not started" in caplog.text
    assert after_ack.in_flight == 0
