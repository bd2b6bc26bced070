"""Connect running for real against fake Slack and Jira servers that the tests break on purpose.

The Jira client is the production `JiraRestClient` with a short timeout and retry budget (the
knobs its constructor has), so that a slow or throttled Jira shows itself in seconds.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.container import build_bolt_app, build_runtime, build_web_app, build_worker
from bot.server import WebServer
from simulators.jira_site.server import FakeJiraServer
from simulators.slack_workspace.server import FakeSlackServer
from tests.e2e.conftest import RunningConnect, connect_settings
from tests.faults.helpers import CallLog, jira_client


@pytest.fixture
def fake_slack() -> Iterator[FakeSlackServer]:
    with FakeSlackServer() as server:
        server.slack.add_channel("C0OPS", "ops", members=["U0ALICE"])
        yield server


@pytest.fixture
def fake_jira() -> Iterator[FakeJiraServer]:
    with FakeJiraServer() as server:
        yield server


@pytest.fixture
def jira_calls() -> CallLog:
    return CallLog()


@pytest.fixture
def connect(
    fake_slack: FakeSlackServer, fake_jira: FakeJiraServer, tmp_path: Path, jira_calls: CallLog
) -> Iterator[RunningConnect]:
    """serve's composition (web, Bolt, worker; webhooks only) on SQLite, Jira client tuned."""
    settings = connect_settings(
        fake_slack, fake_jira, tmp_path / "connect.db", connect_poll_interval=0
    )
    runtime = build_runtime(settings, jira=jira_client(fake_jira, observer=jira_calls))
    server = WebServer(build_web_app(runtime, build_bolt_app(runtime)), host="127.0.0.1", port=0)
    worker = build_worker(runtime)
    thread = threading.Thread(target=server.run, name="connect-faults", daemon=True)
    thread.start()
    worker.start()
    try:
        yield RunningConnect(server.url, runtime, fake_slack, fake_jira)
    finally:
        fake_jira.delay_seconds = 0
        server.close()
        worker.stop()
        thread.join(10)
        runtime.close()
