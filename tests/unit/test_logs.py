"""Logs: text (today's format) or one JSON object a line, with context fields, never secrets."""

from __future__ import annotations

import io
import json
import logging
import math
from collections.abc import Iterator
from typing import Any

import pytest
from cryptography.fernet import Fernet
from flask import Flask

from bot.context_executor import ContextExecutor
from bot.logs import REDACTED, SELF_CHECKING_LOGGERS, OnceAMinute, configure_logging
from bot.settings import Settings
from bot.web import REQUEST_ID_HEADER, request_id_for
from clients.slack_transport import SlackTransport
from services.log_context import current, log_context
from simulators.slack_workspace.server import FakeSlackServer

KEY_1, KEY_2 = Fernet.generate_key().decode(), Fernet.generate_key().decode()
SECRETS = {
    "slack_bot_token": "xoxb-1111-2222-configuredbottoken",
    "slack_signing_secret": "signing-secret-0123456789abcdef",
    "slack_app_token": "xapp-1-A111-222-apptoken",
    "slack_client_secret": "client-secret-fedcba9876543210",
    "jira_api_token": "ATATT3xFfGF0-jira-api-token",
    "jira_pat": "NjE2NDY1-jira-pat-value",
    "jira_webhook_secret": "webhook-secret-42424242",
    "connect_encryption_key": f"{KEY_1},{KEY_2}",
}
log = logging.getLogger("connect.test_logs")


def settings(fmt: str, level: str = "DEBUG") -> Settings:
    values: dict[str, Any] = {
        **SECRETS,
        "slack_client_id": "123.456",
        "connect_log_format": fmt,
        "connect_log_level": level,
    }
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


@pytest.fixture
def capture() -> Iterator[tuple[io.StringIO, list[str]]]:
    """configure_logging into a buffer; the root logger's state is put back afterwards."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    levels = {name: logging.getLogger(name).level for name in SELF_CHECKING_LOGGERS}
    stream = io.StringIO()
    yield stream, []
    for handler in list(root.handlers):
        if handler not in handlers:
            root.removeHandler(handler)
    root.setLevel(level)
    for name, old in levels.items():
        logging.getLogger(name).setLevel(old)


def lines(stream: io.StringIO) -> list[str]:
    return [line for line in stream.getvalue().splitlines() if line.strip()]


def test_text_is_todays_format_with_context_fields_after_the_message(
    capture: tuple[io.StringIO, list[str]],
) -> None:
    stream, _ = capture
    configure_logging(settings("text"), stream)
    log.info("plain %s", "line")
    with log_context(request_id="req-1", delivery_id=None):
        log.warning("inside")
    plain, inside = lines(stream)
    assert plain.endswith(" INFO connect.test_logs plain line")
    assert inside.endswith(" WARNING connect.test_logs inside [request_id=req-1]")


def test_json_is_one_object_a_line_with_context_fields(
    capture: tuple[io.StringIO, list[str]],
) -> None:
    stream, _ = capture
    configure_logging(settings("json"), stream)
    with log_context(request_id="req-2"), log_context(delivery_id="hook-9"):
        log.info("stored %s", "it")
    with log_context(outbox_id=7):
        try:
            raise RuntimeError("boom")
        except RuntimeError:
            log.exception("sending failed")
    log.info("no context")
    stored, failed, bare = (json.loads(line) for line in lines(stream))
    assert stored["message"] == "stored it"
    assert stored["level"] == "INFO" and stored["logger"] == "connect.test_logs"
    assert stored["request_id"] == "req-2" and stored["delivery_id"] == "hook-9"
    assert "timestamp" in stored
    assert failed["outbox_id"] == "7" and "RuntimeError: boom" in failed["exc_info"]
    assert "request_id" not in bare and "log_context" not in bare


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_every_secret_is_redacted(fmt: str, capture: tuple[io.StringIO, list[str]]) -> None:
    stream, _ = capture
    configure_logging(settings(fmt), stream)
    for name, value in SECRETS.items():
        log.warning("%s is %s", name, value)
    log.warning("an unconfigured token xoxb-999-888-abcdef and xoxp-1-2-3 and xapp-9-x")
    log.warning("headers: {'Authorization': 'Bearer abc.def.ghi', 'X': 1}")
    log.warning("Authorization: Basic dXNlcjpwYXNz sent")
    try:
        raise ValueError(f"token {SECRETS['jira_pat']} refused")
    except ValueError:
        log.exception("with a traceback")
    output = stream.getvalue()
    for value in [*SECRETS.values(), KEY_1, KEY_2]:
        assert value not in output
    for leaked in ("xoxb-999", "xoxp-1-2-3", "xapp-9-x", "abc.def.ghi", "dXNlcjpwYXNz"):
        assert leaked not in output
    assert output.count(REDACTED) >= len(SECRETS) + 6
    assert "slack_bot_token is [REDACTED]" in output
    if fmt == "json":
        assert all(json.loads(line) for line in lines(stream))


def test_lazy_work_carries_the_request_id_of_its_request() -> None:
    with ContextExecutor(1) as executor, log_context(request_id="req-lazy"):
        seen = executor.submit(lambda: dict(current())).result()
    assert seen == {"request_id": "req-lazy"}
    assert dict(current()) == {}


def test_request_ids_are_taken_when_sane_and_made_otherwise() -> None:
    assert request_id_for("4bf92f3577b34da6a3ce929d0e0e4736") == "4bf92f3577b34da6a3ce929d0e0e4736"
    assert request_id_for("trace:abc-1.2_3") == "trace:abc-1.2_3"
    for bad in (None, "", "x" * 129, "has space", "<script>", "a\nb"):
        made = request_id_for(bad)
        assert made != bad and len(made) == 32
        int(made, 16)  # hex, as uuid4().hex was
    assert len({request_id_for(None) for _ in range(10_000)}) == 10_000


def test_the_web_app_echoes_and_logs_the_request_id(
    capture: tuple[io.StringIO, list[str]],
) -> None:
    from unittest.mock import MagicMock

    from bot.metrics import Metrics
    from bot.web import create_web_app

    stream, _ = capture
    configure_logging(settings("json"), stream)

    def routes(web: Flask) -> None:
        @web.get("/logged")
        def logged() -> str:
            log.info("handling")
            return "ok"

    web = create_web_app(
        bolt_app=MagicMock(oauth_flow=None),
        signing_secret="s",
        engine=MagicMock(),
        metrics=Metrics(),
        extra_routes=routes,
    )
    client = web.test_client()
    given = client.get("/logged", headers={REQUEST_ID_HEADER: "from-proxy-1"})
    made = client.get("/logged", headers={REQUEST_ID_HEADER: "not sane!"})
    assert given.headers[REQUEST_ID_HEADER] == "from-proxy-1"
    assert made.headers[REQUEST_ID_HEADER] not in ("", "not sane!")
    ids = [json.loads(line).get("request_id") for line in lines(stream)]
    assert ids == ["from-proxy-1", made.headers[REQUEST_ID_HEADER]]
    assert dict(current()) == {}


class Watched(str):
    """A string that counts how often its repr is taken (as for a log line's f-string)."""

    reprs = 0

    def __repr__(self) -> str:
        Watched.reprs += 1
        return str.__repr__(self)


@pytest.mark.parametrize(("level", "formatted"), [("INFO", False), ("DEBUG", True)])
def test_slack_calls_build_their_debug_line_only_at_debug(
    level: str, formatted: bool, capture: tuple[io.StringIO, list[str]]
) -> None:
    """slack_sdk formats each call's body for a debug line unless its logger's own level is
    above DEBUG; configure_logging sets it, so at INFO the body is never formatted."""
    stream, _ = capture
    configure_logging(settings("text", level), stream)
    Watched.reprs = 0
    with FakeSlackServer() as slack:
        transport = SlackTransport(slack.api_url)
        try:
            transport.client(slack.token).chat_postMessage(channel="C1", text=Watched("hello"))
        finally:
            transport.close()
        assert slack.calls_to("chat.postMessage")[0].params["text"] == "hello"
    assert (Watched.reprs > 0) is formatted


def test_waitress_queue_depth_is_logged_once_a_minute_with_a_count_of_the_rest(
    capture: tuple[io.StringIO, list[str]],
) -> None:
    stream, _ = capture
    configure_logging(settings("text", "WARNING"), stream)
    configure_logging(settings("text", "WARNING"), stream)  # configured twice: one filter
    queue = logging.getLogger("waitress.queue")
    limiter = next(f for f in queue.filters if isinstance(f, OnceAMinute))
    assert sum(isinstance(f, OnceAMinute) for f in queue.filters) == 1
    now = [1000.0]
    limiter._clock = lambda: now[0]
    limiter._next = -math.inf
    for depth in range(1, 6):
        queue.warning("Task queue depth is %d", depth)
    now[0] += 61
    queue.warning("Task queue depth is %d", 9)
    logged = [line for line in lines(stream) if "Task queue depth" in line]
    assert len(logged) == 2
    assert logged[0].endswith("Task queue depth is 1")
    assert logged[1].endswith(
        "Task queue depth is 9 (4 such lines held back in the last minute or so)"
    )
    log.warning("other loggers are not held back")
    log.warning("other loggers are not held back")
    assert sum("not held back" in line for line in lines(stream)) == 2
