"""ContextExecutor: tasks see the submitter's context variables, and never leak their own."""

from __future__ import annotations

import contextvars

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
