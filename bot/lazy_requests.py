"""Handing a request to its lazy listeners at a small cost to the ack.

Bolt starts each lazy listener from inside the ack (`ThreadListenerRunner._start_lazy_function`)
and spends, per listener and request, about a tenth of a Connect ack's CPU on it:

- `_build_lazy_request` gives the lazy listener its own copy of the request:
  `request.to_copyable()`, which parses the raw body again (HTTP mode: `parse_qsl` and
  `json.loads` of the whole payload), builds fresh headers and a fresh context dict and
  deep-copies Connect's context values, and then a `copy.deepcopy` of all of that, which also
  deep-copies the context's shared machinery (the WebClient, `ack`, `say`, the logger);
- `ThreadLazyListenerRunner.start` asks `inspect.getfullargspec` for the listener's
  arguments, every time.

`use_shallow_lazy_requests` keeps the copy's guarantees at less cost: the body is a deep copy
of the parsed body (not parsed again), headers, query and the context dict are new objects,
Connect's context values are deep-copied by `BoltContext.to_copyable` as before, and only the
read-only machinery is shared. Argument names are looked up once per listener function.

It also lets a middleware decide, after the ack, whether the lazy listeners run at all: when
the request's context has a `LAZY_GATE` callable, each lazy listener first asks it, in its
executor thread, and is skipped on False (handlers.event_dedupe records a Slack event there,
so that the ack waits on no database write). And the ack itself can say, before anything is
copied or queued, that its lazy listeners are not to run (handlers.backlog.LAZY_SKIP: it has
answered all there is, or the work queue is backed up and it said "try again").

Written against slack_bolt 1.x (pinned <2); tests/integration/test_lazy_requests.py checks
what a lazy listener receives.
"""

from __future__ import annotations

import copy
import functools
import inspect
import types
from collections.abc import Callable

from slack_bolt import App, BoltRequest
from slack_bolt.kwargs_injection import build_required_kwargs
from slack_bolt.lazy_listener.thread_runner import ThreadLazyListenerRunner
from slack_bolt.listener.thread_runner import ThreadListenerRunner
from slack_bolt.util.utils import get_name_for_callable

from handlers.backlog import BUSY, LAZY_SKIP
from handlers.event_dedupe import LAZY_GATE


def use_shallow_lazy_requests(
    app: App, *, on_turned_away: Callable[[str], None] | None = None
) -> None:
    """`on_turned_away(listener name)`: a lazy listener not run because the queue was busy."""
    runner = app.listener_runner
    runner._build_lazy_request = types.MethodType(_build_lazy_request, runner)  # type: ignore[method-assign]
    start_lazy = functools.partial(_start_lazy_function, on_turned_away=on_turned_away)
    runner._start_lazy_function = types.MethodType(start_lazy, runner)  # type: ignore[method-assign]
    lazy_runner = runner.lazy_listener_runner
    if not isinstance(lazy_runner, ThreadLazyListenerRunner):
        raise TypeError(f"unexpected lazy listener runner {type(lazy_runner).__name__}")
    lazy_runner.start = types.MethodType(_start, lazy_runner)  # type: ignore[method-assign]


def _start_lazy_function(
    self: ThreadListenerRunner,
    lazy_func: Callable[..., None],
    request: BoltRequest,
    *,
    on_turned_away: Callable[[str], None] | None,
) -> None:
    """Bolt's own, unless the ack has marked the request LAZY_SKIP."""
    name = get_name_for_callable(lazy_func)
    skip = request.context.get(LAZY_SKIP)
    if skip is not None:
        if skip == BUSY and on_turned_away is not None:
            on_turned_away(name)
        return
    self.lazy_listener_runner.start(
        function=lazy_func, request=self._build_lazy_request(request, name)
    )


def _start(
    self: ThreadLazyListenerRunner, function: Callable[..., None], request: BoltRequest
) -> None:
    """Bolt's `ThreadLazyListenerRunner.start` with the argument names looked up once, and the
    request's LAZY_GATE asked first."""
    gate = request.context.get(LAZY_GATE)
    arg_names = _arg_names(inspect.unwrap(function))
    logger = self.logger

    def run() -> None:
        if gate is not None and not gate():
            return
        try:
            function(
                **build_required_kwargs(
                    logger=logger,
                    required_arg_names=arg_names,
                    request=request,
                    response=None,
                    this_func=function,
                )
            )
        except Exception as error:  # as Bolt's own runner (handlers.lazy_guard logs first)
            logger.error(f"Failed to run an internal function ({error})")

    self.executor.submit(run)


@functools.cache
def _arg_names(function: Callable[..., None]) -> list[str]:
    """What Bolt's `get_arg_names_of_callable` answers (the listener functions are few and
    live as long as the app)."""
    return inspect.getfullargspec(function).args


def _build_lazy_request(
    self: ThreadListenerRunner, request: BoltRequest, lazy_func_name: str
) -> BoltRequest:
    """Bolt's own `_build_lazy_request` (slack_bolt 1.x), with the parsed body copied instead of
    parsed again and without the second deep copy."""
    copied = copy.copy(request)  # then every attribute a listener could change is replaced
    copied.body = copy.deepcopy(request.body)
    copied.headers = {name: list(values) for name, values in request.headers.items()}
    copied.query = {name: list(values) for name, values in request.query.items()}
    copied.context = request.context.to_copyable()
    copied.lazy_only = True
    copied.lazy_function_name = lazy_func_name
    # These are not copyable objects, so manually set for a different thread
    copied.context["listener_runner"] = self
    if request.context.get_thread_context is not None:
        copied.context["get_thread_context"] = request.context.get_thread_context
    if request.context.save_thread_context is not None:
        copied.context["save_thread_context"] = request.context.save_thread_context
    return copied
