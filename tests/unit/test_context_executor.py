"""ContextExecutor: tasks see the submitter's context variables, and never leak their own; it
counts the tasks waiting for a thread."""

from __future__ import annotations

import contextvars
import threading

import flask
import pytest

from bot.context_executor import ContextExecutor

VALUE: contextvars.ContextVar[str | None] = contextvars.ContextVar("value", default=None)


def test_a_task_sees_what_the_submitter_had_set() -> None:
    with ContextExecutor(1) as executor:
        token = VALUE.set("request-1")
        try:
            future = executor.submit(VALUE.get)
        finally:
            VALUE.reset(token)
        assert future.result() == "request-1"


def test_what_a_task_sets_stays_in_that_task() -> None:
    def set_and_read(value: str) -> str | None:
        before = VALUE.get()
        VALUE.set(value)
        return before

    with ContextExecutor(1) as executor:  # one thread: the second task runs where the first did
        assert executor.submit(set_and_read, "a").result() is None
        assert executor.submit(set_and_read, "b").result() is None
    assert VALUE.get() is None


def test_keyword_arguments_are_passed_through() -> None:
    def add(a: int, *, b: int) -> int:
        return a + b

    with ContextExecutor(1) as executor:
        assert executor.submit(add, 1, b=2).result() == 3


def test_a_task_leaves_the_finished_request_behind() -> None:
    """Work handed over during a request keeps its own context values, not Flask's request:
    the request is answered before the task runs."""
    web = flask.Flask("test")
    with ContextExecutor(1) as executor, web.test_request_context("/slack/events"):
        token = VALUE.set("request-1")
        try:
            future = executor.submit(
                lambda: (VALUE.get(), flask.has_request_context(), flask.has_app_context())
            )
        finally:
            VALUE.reset(token)
        assert flask.has_request_context()
        assert future.result() == ("request-1", False, False)


def hold_the_thread(executor: ContextExecutor) -> threading.Event:
    """The executor's one thread busy until the returned event is set."""
    release = threading.Event()
    started = threading.Event()

    def hold() -> None:
        started.set()
        release.wait(10)

    executor.submit(hold)
    assert started.wait(5)
    return release


def test_backlog_counts_the_tasks_no_thread_has_started() -> None:
    with ContextExecutor(1) as executor:
        assert executor.backlog == 0
        release = hold_the_thread(executor)
        assert executor.backlog == 0  # running, not waiting
        waiting = [executor.submit(release.wait, 10) for _ in range(3)]
        assert executor.backlog == 3
        release.set()
        for future in waiting:
            future.result(5)
        assert executor.backlog == 0


def test_a_refused_task_is_not_counted() -> None:
    executor = ContextExecutor(1)
    executor.shutdown()
    with pytest.raises(RuntimeError):
        executor.submit(lambda: None)
    assert executor.backlog == 0
