"""A thread pool whose tasks see the submitter's context variables.

`ThreadPoolExecutor` runs each task in the worker thread's own (empty) context, so values set
with `contextvars` while handling a request (the request id for logs, a workspace for OAuth)
would be lost in work handed over after the ack. `ContextExecutor.submit` copies the caller's
context at submit time and runs the task inside that copy: the task reads what the caller had
set, and whatever the task sets stays in its copy (never leaks into the pool thread).

Flask's own variables (its application and request contexts) are left behind: a task runs
after its request has been answered, and carrying them kept the finished request (its
environ, body buffer and connection) alive for as long as the task waited in the queue.
"""

from __future__ import annotations

import contextvars
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import ParamSpec, TypeVar

P = ParamSpec("P")
T = TypeVar("T")

# The names of Flask's context variables (flask.globals): its app and request contexts.
REQUEST_SCOPED = frozenset({"flask.app_ctx", "flask.request_ctx"})


class ContextExecutor(ThreadPoolExecutor):
    """ThreadPoolExecutor whose `submit` runs `fn` in a copy of the submitter's context, and
    which counts the tasks submitted that no thread has started yet (`backlog`)."""

    def __init__(self, max_workers: int, thread_name_prefix: str = "") -> None:
        super().__init__(max_workers, thread_name_prefix=thread_name_prefix)
        self._counting = threading.Lock()
        self._waiting = 0

    @property
    def backlog(self) -> int:
        return self._waiting

    def submit(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> Future[T]:
        context = contextvars.copy_context()
        if any(var.name in REQUEST_SCOPED for var in context):
            context = _without_request(context)

        def run() -> T:
            with self._counting:
                self._waiting -= 1
            return context.run(fn, *args, **kwargs)

        with self._counting:
            self._waiting += 1
        try:
            return super().submit(run)
        except BaseException:  # shut down: nothing was queued
            with self._counting:
                self._waiting -= 1
            raise


def _without_request(context: contextvars.Context) -> contextvars.Context:
    kept = [(var, value) for var, value in context.items() if var.name not in REQUEST_SCOPED]
    fresh = contextvars.Context()
    fresh.run(lambda: [var.set(value) for var, value in kept])
    return fresh
