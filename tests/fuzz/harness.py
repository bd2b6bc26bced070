"""The real Flask + Bolt app behind a Flask test client, with fake Slack and in-memory Jira.

Every request is signed like Slack signs it. After each answer `post` waits until the work
handed over after the ack (handlers.after_ack) has finished, so a fuzz example sees the
whole of what its request caused: the HTTP status, every ERROR logged anywhere (the work
after the ack logs what it raises with its traceback), and every task that died.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future, wait
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

from flask.testing import FlaskClient

from bot.container import WORK_THREADS, build_bolt_app, build_runtime, build_web_app
from bot.context_executor import ContextExecutor
from bot.settings import Settings
from simulators.jira_site.memory import InMemoryJira
from simulators.jira_site.sample import with_sample_data
from simulators.slack_workspace.server import FakeSlackServer
from tests.fakes.slack_requests import interactive_body, signed_headers, slash_command_body
from tests.fuzz.payloads import RESPONSE_URL

SIGNING_SECRET = "fuzz-signing-secret"
WEBHOOK_SECRET = "fuzz-webhook-secret"
FORM = "application/x-www-form-urlencoded"
JSON = "application/json"
# Lazy work that has not finished by then is itself a finding (a hang).
DRAIN_SECONDS = 30.0

P = ParamSpec("P")
T = TypeVar("T")


class TrackingExecutor(ContextExecutor):
    """The pool of the work after acks, keeping every future so a test can wait for all."""

    def __init__(self) -> None:
        super().__init__(WORK_THREADS, thread_name_prefix="fuzz-work")
        self._lock = threading.Lock()
        self._futures: list[Future[Any]] = []

    def submit(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> Future[T]:
        future = super().submit(fn, *args, **kwargs)
        with self._lock:
            self._futures.append(future)
        return future

    def drain(self) -> list[BaseException]:
        """Wait for every task submitted so far (and those they submit); their exceptions."""
        failures: list[BaseException] = []
        while True:
            with self._lock:
                futures, self._futures = self._futures, []
            if not futures:
                return failures
            done, pending = wait(futures, timeout=DRAIN_SECONDS)
            assert not pending, f"{len(pending)} task(s) still running after the ack"
            failures += [f.exception() for f in done if f.exception() is not None]  # type: ignore[misc]


class ErrorRecords(logging.Handler):
    """Every record at ERROR or above, from any logger, while installed."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def take(self) -> list[str]:
        taken, self.records = self.records, []
        return [
            f"{r.name}: {r.getMessage()}"
            + (f"\n{logging.Formatter().formatException(r.exc_info)}" if r.exc_info else "")
            for r in taken
        ]


@dataclass
class Outcome:
    status: int
    body: str
    errors: list[str] = field(default_factory=list)
    died: list[BaseException] = field(default_factory=list)

    def assert_handled(self) -> None:
        assert self.status < 500, f"answered {self.status}: {self.body[:500]}"
        assert 200 <= self.status < 500
        assert not self.errors, "ERROR logged:\n" + "\n".join(self.errors)
        assert not self.died, f"work after the ack died: {self.died!r}"


@dataclass
class FuzzedConnect:
    client: FlaskClient
    slack: FakeSlackServer
    jira: InMemoryJira
    executor: TrackingExecutor
    errors: ErrorRecords
    response_url: str  # the fake Slack's: RESPONSE_URL in payloads is replaced by it

    def post_slack(
        self, body: bytes, *, content_type: str = FORM, headers: dict[str, str] | None = None
    ) -> Outcome:
        self.errors.take()
        signed = signed_headers(SIGNING_SECRET, body, content_type=content_type)
        response = self.client.post(
            "/slack/events", data=body, headers={**signed, **(headers or {})}
        )
        died = self.executor.drain()
        return Outcome(
            response.status_code, response.get_data(as_text=True), self.errors.take(), died
        )

    def slash(self, text: str) -> Outcome:
        return self.post_slack(slash_command_body(text, response_url=self.response_url))

    def interact(self, payload: Any) -> Outcome:
        return self.post_slack(interactive_body(self._reachable(payload)))

    def event(self, envelope: Any) -> Outcome:
        return self.post_slack(json.dumps(self._reachable(envelope)).encode(), content_type=JSON)

    def _reachable(self, payload: Any) -> Any:
        return json.loads(json.dumps(payload).replace(RESPONSE_URL, self.response_url))


@contextmanager
def fuzzed_connect(directory: Path) -> Iterator[FuzzedConnect]:
    jira = with_sample_data(InMemoryJira())
    with FakeSlackServer() as slack:
        values: dict[str, Any] = {
            "slack_bot_token": slack.token,
            "slack_signing_secret": SIGNING_SECRET,
            "slack_api_url": slack.api_url,
            "jira_url": "https://fuzz.atlassian.net",
            "jira_email": "connect-bot@example.com",
            "jira_api_token": "fuzz-api-token",
            "jira_webhook_secret": WEBHOOK_SECRET,
            "database_url": f"sqlite:///{directory / 'connect.db'}",
        }
        settings = Settings(_env_file=None, **values)  # type: ignore[call-arg]
        runtime = build_runtime(settings, jira=jira)
        executor = TrackingExecutor()
        runtime.after_ack.pool.shutdown()
        runtime.after_ack.pool = executor
        web = build_web_app(runtime, build_bolt_app(runtime))
        errors = ErrorRecords()
        root = logging.getLogger()
        root.addHandler(errors)
        try:
            yield FuzzedConnect(
                web.test_client(), slack, jira, executor, errors, slack.response_url()
            )
        finally:
            root.removeHandler(errors)
            runtime.close()
