"""A thread pool whose tasks see the submitter's context variables.

`ThreadPoolExecutor` runs each task in the worker thread's own (empty) context, so values set
with `contextvars` while handling a request (the request id for logs, a workspace for OAuth)
would be lost in work handed over after the ack. `ContextExecutor.submit` copies the caller's
context at submit time and runs the task inside that copy: the task reads what the caller had
set, and whatever the task sets stays in its copy (never leaks into the pool thread).
"""

from __future__ import annotations

import contextvars
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import ParamSpec, TypeVar

P = ParamSpec("P")
T = TypeVar("T")


class ContextExecutor(ThreadPoolExecutor):
    """ThreadPoolExecutor whose `submit` runs `fn` in a copy of the submitter's context."""

    def submit(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> Future[T]:
        context = contextvars.copy_context()

        def run() -> T:
            return context.run(fn, *args, **kwargs)

        return super().submit(run)
