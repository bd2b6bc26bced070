"""Connect running for real (waitress, Bolt, SQLite) against fake Slack and Jira servers."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
from sqlalchemy import Engine, func, select

from bot.container import Runtime, build_bolt_app, build_runtime, build_web_app, build_worker
from bot.database import session_factory
from bot.server import WebServer
from bot.settings import Settings
from models import NotificationOutbox, ProcessedDelivery
from models.delivery import PENDING, SENDING
from services.unit_of_work import UnitOfWork, UnitOfWorkFactory
from simulators.jira_site.server import DEFAULT_API_TOKEN, DEFAULT_EMAIL, FakeJiraServer
from simulators.jira_site.webhooks import JiraWebhookEmitter
from simulators.slack_workspace.server import FakeSlackServer
from tests.fakes.slack_requests import interactive_body, signed_headers, slash_command_body
from tests.waiting import wait_until

SIGNING_SECRET = "e2e-signing-secret"
WEBHOOK_SECRET = "e2e-webhook-secret"
FORM = "application/x-www-form-urlencoded"
# A Jira that answers 503 is given up on after one back-off (0.5 s) instead of five (7.5 s).
JIRA_RETRY_BUDGET = 1.0
# A worker job that failed while Jira or the database was away runs again within 1 s of its
# return, not 30 s.
MAX_BACKOFF = 1.0
# Subscription filter checks ask Jira again 0.5 s after finding it away, not 10 s.
OUTAGE_PAUSE = 0.5


@dataclass
class RunningConnect:
    url: str
    runtime: Runtime
    slack: FakeSlackServer
    jira: FakeJiraServer

    def post_slack(
        self,
        body: bytes,
        *,
        content_type: str = FORM,
        timestamp: int | None = None,
        secret: str = SIGNING_SECRET,
        headers: dict[str, str] | None = None,
    ) -> requests.Response:
        signed = signed_headers(secret, body, timestamp=timestamp, content_type=content_type)
        return requests.post(
            f"{self.url}/slack/events", data=body, headers={**signed, **(headers or {})}, timeout=10
        )

    def slash(self, text: str, **fields: Any) -> tuple[requests.Response, str]:
        response_url = self.slack.response_url()
        body = slash_command_body(text, response_url=response_url, **fields)
        return self.post_slack(body), response_url

    def interact(self, payload: dict[str, Any]) -> requests.Response:
        return self.post_slack(interactive_body(payload))

    def jira_webhook(
        self,
        payload: dict[str, Any] | bytes,
        *,
        secret: str | None = WEBHOOK_SECRET,
        query: str = "",
        headers: dict[str, str] | None = None,
    ) -> requests.Response:
        """A delivery the way Jira Cloud signs it (or unsigned, with secret=None)."""
        body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        sent = {"Content-Type": "application/json", **(headers or {})}
        if secret is not None:
            digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
            sent["X-Hub-Signature"] = f"sha256={digest}"
        return requests.post(f"{self.url}/jira/webhook{query}", data=body, headers=sent, timeout=10)

    def emit_jira_webhooks(self, *, cloud: bool = True) -> JiraWebhookEmitter:
        """Changes made in the fake Jira from now on reach Connect as webhooks."""

        def deliver(payload: dict[str, Any]) -> None:
            self.jira_webhook(payload)

        return JiraWebhookEmitter(self.jira.jira, deliver, cloud=cloud).start()


def connect_settings(
    slack: FakeSlackServer, jira: FakeJiraServer, database: Path, **extra: Any
) -> Settings:
    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        slack_bot_token=slack.token,
        slack_signing_secret=SIGNING_SECRET,
        slack_api_url=slack.api_url,
        jira_url=jira.url,
        jira_email=DEFAULT_EMAIL,
        jira_api_token=DEFAULT_API_TOKEN,
        jira_webhook_secret=WEBHOOK_SECRET,
        database_url=f"sqlite:///{database}",
        **{
            "jira_retry_budget_seconds": JIRA_RETRY_BUDGET,
            "connect_max_backoff": MAX_BACKOFF,
            "jira_outage_pause_seconds": OUTAGE_PAUSE,
            **extra,
        },
    )


def uow_of(engine: Engine) -> UnitOfWorkFactory:
    """Units of work on `engine` (a test reading the database of processes it started)."""
    sessions = session_factory(engine)
    return lambda: UnitOfWork(sessions)


def rows_with_status(
    uow: UnitOfWorkFactory, model: type[NotificationOutbox | ProcessedDelivery], *statuses: str
) -> int:
    """How many of the table's rows have one of these statuses."""
    with uow() as work:
        count = work.session.scalar(
            select(func.count()).select_from(model).where(model.status.in_(statuses))
        )
    return int(count or 0)


def unfinished_work(uow: UnitOfWorkFactory) -> int:
    """Deliveries not yet processed plus notifications not yet settled."""
    return rows_with_status(uow, NotificationOutbox, PENDING, SENDING) + rows_with_status(
        uow, ProcessedDelivery, PENDING
    )


def wait_settled(connect: RunningConnect, timeout: float = 20) -> None:
    """Every stored delivery processed and every queued notification sent or given up on: from
    here on nothing more reaches Slack unless something new happens."""
    wait_until(
        lambda: unfinished_work(connect.runtime.services.uow) == 0,
        timeout=timeout,
        what="the worker to settle its deliveries and notifications",
    )


def wait_marked_sent(connect: RunningConnect, timeout: float = 20) -> None:
    """No notification is being sent: what reached Slack is marked sent, with the time of the
    post (the start of its burst window and of the channel's pace). A test that moves a
    SteppedClock after seeing a post waits for this first, else the post may be dated after
    the move and what the move was to allow (an edit, a new window) never comes due."""
    wait_until(
        lambda: rows_with_status(connect.runtime.services.uow, NotificationOutbox, SENDING) == 0,
        timeout=timeout,
        what="the posts in Slack to be marked sent",
    )


def wait_quiet(connect: RunningConnect, timeout: float = 20) -> None:
    """No work after an ack in flight and the worker settled (`wait_settled`): what a request
    already answered would make happen has happened. Listeners hand their work over before
    the HTTP answer (acks run in the request thread), so a request answered is counted."""
    wait_until(
        lambda: (
            connect.runtime.after_ack.in_flight == 0
            and unfinished_work(connect.runtime.services.uow) == 0
        ),
        timeout=timeout,
        what="the work after acks and the worker to finish",
    )


@pytest.fixture
def fake_slack() -> Iterator[FakeSlackServer]:
    with FakeSlackServer() as server:
        yield server


@pytest.fixture
def fake_jira() -> Iterator[FakeJiraServer]:
    with FakeJiraServer() as server:
        yield server


@contextmanager
def running_connect(
    settings: Settings, slack: FakeSlackServer, jira: FakeJiraServer
) -> Iterator[RunningConnect]:
    """Connect as `serve` runs it (web app on waitress + worker), in this process."""
    runtime = build_runtime(settings)
    server = WebServer(build_web_app(runtime, build_bolt_app(runtime)), host="127.0.0.1", port=0)
    worker = build_worker(runtime)
    thread = threading.Thread(target=server.run, name="connect-e2e", daemon=True)
    thread.start()
    worker.start()
    # What the worker does as it starts (the first poll, the sweep) is over before a test
    # acts, so it is never mistaken for the test's doing. Bounded: a job whose first run waits
    # on a Jira that a test keeps down must not hold the test.
    worker.wait_first_runs(timeout=15)
    try:
        yield RunningConnect(server.url, runtime, slack, jira)
    finally:
        server.close()
        worker.stop()
        thread.join(10)
        runtime.close()


@pytest.fixture
def connect(
    fake_slack: FakeSlackServer, fake_jira: FakeJiraServer, tmp_path: Path
) -> Iterator[RunningConnect]:
    settings = connect_settings(fake_slack, fake_jira, tmp_path / "connect.db")
    with running_connect(settings, fake_slack, fake_jira) as running:
        yield running
