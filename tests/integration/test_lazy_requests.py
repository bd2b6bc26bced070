"""bot/lazy_requests: what a lazy listener gets from a Bolt app using the cheaper hand-over,
through Bolt's own dispatch: the arguments it asks for, its own copy of the request, and the
LAZY_GATE deciding whether it runs, and an ack's LAZY_SKIP keeping it from being queued."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import urlencode

from slack_bolt import Ack, App, BoltContext, BoltRequest
from slack_bolt.authorization import AuthorizeResult
from slack_sdk import WebClient

from bot.lazy_requests import use_shallow_lazy_requests
from handlers.backlog import BUSY, NOTHING_TO_DO, skip_lazy
from handlers.event_dedupe import LAZY_GATE
from handlers.lazy_guard import guarded

PAYLOAD = {
    "type": "shortcut",
    "callback_id": "create_issue",
    "trigger_id": "1.2.abc",
    "team": {"id": "T1", "domain": "acme"},
    "user": {"id": "U1", "team_id": "T1"},
    "api_app_id": "A1",
    "token": "deprecated",
}


def build_app(
    lazy: Callable[..., None],
    *,
    middleware: Callable[..., None] | None = None,
    on_turned_away: Callable[[str], None] | None = None,
) -> tuple[App, ThreadPoolExecutor]:
    executor = ThreadPoolExecutor(2)
    app = App(
        signing_secret="secret",
        client=WebClient(base_url="http://127.0.0.1:9/api/"),
        authorize=lambda **_: AuthorizeResult(
            enterprise_id=None, team_id="T1", bot_token="xoxb-test", bot_user_id="UBOT"
        ),
        process_before_response=True,
        listener_executor=executor,
        token_verification_enabled=False,
        request_verification_enabled=False,
    )
    use_shallow_lazy_requests(app, on_turned_away=on_turned_away)
    if middleware is not None:
        app.use(middleware)

    def ack_it(ack: Ack, body: dict[str, Any], context: BoltContext) -> None:
        context["connect_note"] = {"seen": [body["trigger_id"]]}
        skip = context.get("test_skip")  # set by a test's middleware, as a handler's ack would
        if skip:
            skip_lazy(context, skip)
        ack()

    app.shortcut("create_issue")(ack=ack_it, lazy=[lazy])
    return app, executor


def dispatch(app: App) -> BoltRequest:
    request = BoltRequest(
        body=urlencode({"payload": json.dumps(PAYLOAD)}),
        headers={"content-type": "application/x-www-form-urlencoded", "x-request": "1"},
    )
    response = app.dispatch(request)
    assert response.status == 200
    return request


def test_a_lazy_listener_gets_the_arguments_it_asks_for_and_its_own_copy() -> None:
    got: dict[str, Any] = {}
    done = threading.Event()

    def fill(body: dict[str, Any], context: BoltContext, client: WebClient, request: Any) -> None:
        got.update(body=json.loads(json.dumps(body)), context=context, client=client)
        got["request"] = request
        body["user"]["id"] = "CHANGED"  # its own copy: the ack's request is not affected
        context["connect_note"]["seen"].append("lazy")
        request.headers["x-request"].append("lazy")
        done.set()

    app, executor = build_app(guarded(fill))  # arguments are read through the guard's wrapper
    original = dispatch(app)
    assert done.wait(5)
    executor.shutdown(wait=True)

    assert got["body"] == PAYLOAD
    assert got["context"]["team_id"] == "T1"
    assert got["context"]["user_id"] == "U1"
    assert got["context"]["connect_note"] == {"seen": ["1.2.abc", "lazy"]}
    assert got["client"] is original.context.client  # the machinery is shared, read-only
    assert got["client"].token == "xoxb-test"
    assert got["request"].lazy_only is True
    assert got["request"].lazy_function_name == "fill"
    assert got["request"].raw_body == original.raw_body
    assert original.body["user"]["id"] == "U1"
    assert original.context["connect_note"] == {"seen": ["1.2.abc"]}
    assert original.headers["x-request"] == ["1"]


def test_the_lazy_gate_decides_after_the_ack_whether_lazy_listeners_run() -> None:
    ran: list[str] = []
    asked = threading.Event()
    answers = iter([False, True])

    def gate() -> bool:
        asked.set()
        return next(answers)

    def set_gate(context: BoltContext, next: Callable[[], None]) -> None:
        context[LAZY_GATE] = gate
        next()

    def fill(body: dict[str, Any]) -> None:
        ran.append(body["trigger_id"])

    app, executor = build_app(fill, middleware=set_gate)
    dispatch(app)  # the gate says no: skipped
    dispatch(app)  # yes: runs
    executor.shutdown(wait=True)

    assert asked.is_set()
    assert ran == ["1.2.abc"]


def test_a_failing_lazy_listener_is_logged_by_bolts_runner_logger(
    caplog: Any,
) -> None:
    done = threading.Event()

    def fill() -> None:
        done.set()
        raise RuntimeError("boom")

    app, executor = build_app(fill)
    with caplog.at_level("ERROR"):
        dispatch(app)
        assert done.wait(5)
        executor.shutdown(wait=True)

    assert "Failed to run an internal function (boom)" in caplog.text


def test_an_ack_that_skips_its_lazy_listeners_queues_nothing() -> None:
    ran: list[str] = []
    turned_away: list[str] = []
    skips = [BUSY, NOTHING_TO_DO, None]

    def choose(context: BoltContext, next: Callable[[], None]) -> None:
        context["test_skip"] = skips.pop(0)
        next()

    def fill(body: dict[str, Any]) -> None:
        ran.append(body["trigger_id"])

    app, executor = build_app(fill, middleware=choose, on_turned_away=turned_away.append)
    submitted: list[object] = []
    submit = executor.submit
    executor.submit = lambda *a, **k: submitted.append(a) or submit(*a, **k)  # type: ignore[method-assign]
    dispatch(app)  # busy: not queued, counted
    dispatch(app)  # nothing to do: not queued, not counted
    assert submitted == [] and ran == []
    dispatch(app)  # not skipped: queued and run
    executor.shutdown(wait=True)
    assert len(submitted) == 1
    assert ran == ["1.2.abc"]
    assert turned_away == ["fill"]
