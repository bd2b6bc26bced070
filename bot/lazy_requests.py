"""The copy of a request that a lazy listener gets, made without `copy.deepcopy`.

Bolt hands each lazy listener its own copy of the request (`ThreadListenerRunner.
_build_lazy_request`): `request.to_copyable()`, which already parses a fresh body from the raw
body (HTTP mode), builds fresh headers and a fresh context dict and deep-copies Connect's own
context values, and then a `copy.deepcopy` of all of that. The second copy also deep-copies
the context's shared machinery (the WebClient, `ack`, `say`, `respond`, the logger): about a
tenth of an ack's CPU time, spent inside the ack, for objects the two threads only read.

`use_shallow_lazy_requests` keeps everything the lazy listener can change its own (body,
headers, query and context dict are new objects; Connect's context values are deep-copied by
`to_copyable` as before) and shares only the read-only machinery. In Socket Mode the body is
not re-parsed, so it is still deep-copied.

It also lets a middleware decide, after the ack, whether the lazy listeners run at all: when
the request's context has a `LAZY_GATE` callable, each lazy listener first asks it, in its
executor thread, and is skipped on False (handlers.event_dedupe records a Slack event there,
so that the ack waits on no database write).
"""

from __future__ import annotations

import copy
import functools
import types
from collections.abc import Callable
from typing import Any

from slack_bolt import App, BoltRequest
from slack_bolt.listener.thread_runner import ThreadListenerRunner

from handlers.event_dedupe import LAZY_GATE


def use_shallow_lazy_requests(app: App) -> None:
    runner = app.listener_runner
    runner._build_lazy_request = types.MethodType(_build_lazy_request, runner)  # type: ignore[method-assign]
    lazy_runner = runner.lazy_listener_runner
    start = lazy_runner.start

    def start_gated(function: Callable[..., None], request: BoltRequest) -> None:
        gate = request.context.get(LAZY_GATE)
        start(function=function if gate is None else _gated(function, gate), request=request)

    lazy_runner.start = start_gated  # type: ignore[method-assign]


def _gated(function: Callable[..., None], gate: Callable[[], bool]) -> Callable[..., None]:
    """`function`, run only if `gate()` says so (Bolt passes it the arguments `function` asks
    for: it reads them through `__wrapped__`)."""

    @functools.wraps(function)
    def run(**kwargs: Any) -> None:
        if gate():
            function(**kwargs)

    return run


def _build_lazy_request(
    self: ThreadListenerRunner, request: BoltRequest, lazy_func_name: str
) -> BoltRequest:
    """Bolt's own `_build_lazy_request` (slack_bolt 1.x), less the deep copy of what
    `to_copyable` already copied."""
    copied_request = request.to_copyable()
    if request.mode != "http":  # Socket Mode: to_copyable shares the parsed body
        copied_request.body = copy.deepcopy(request.body)
    copied_request.headers = {name: list(values) for name, values in request.headers.items()}
    copied_request.query = {name: list(values) for name, values in request.query.items()}
    copied_request.lazy_only = True
    copied_request.lazy_function_name = lazy_func_name
    # These are not copyable objects, so manually set for a different thread
    copied_request.context["listener_runner"] = self
    if request.context.get_thread_context is not None:
        copied_request.context["get_thread_context"] = request.context.get_thread_context
    if request.context.save_thread_context is not None:
        copied_request.context["save_thread_context"] = request.context.save_thread_context
    return copied_request
