"""The poller in the running app: a change no webhook reported is posted once in the linked
thread, and the webhook that turns up late posts nothing more."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from bot.container import build_runtime, build_worker
from models import ProcessedDelivery
from models.delivery import DONE
from services.issues.links import MessageRef
from simulators.jira_site.server import FakeJiraServer
from simulators.jira_site.webhooks import JiraWebhookEmitter
from simulators.slack_workspace.server import FakeSlackServer
from tests.e2e.conftest import RunningConnect, connect_settings, running_connect
from tests.e2e.test_jira_webhooks import replies, settle, wait_for_replies
from tests.waiting import wait_until

TEAM = "T0TEAM"
SEARCH = "/rest/api/2/search/jql"


@pytest.fixture
def polling(
    fake_slack: FakeSlackServer, fake_jira: FakeJiraServer, tmp_path: Path
) -> Iterator[RunningConnect]:
    """Connect polling the fake Jira twice a second."""
    settings = connect_settings(
        fake_slack, fake_jira, tmp_path / "connect.db", connect_poll_interval=0.5
    )
    with running_connect(settings, fake_slack, fake_jira) as running:
        yield running


def deliveries_done(connect: RunningConnect, count: int, timeout: float = 10) -> None:

    def processed() -> bool:
        with connect.runtime.services.uow() as work:
            statuses = list(work.session.scalars(select(ProcessedDelivery.status)))
        return len(statuses) >= count and all(status == DONE for status in statuses)

    wait_until(processed, timeout=timeout, what=f"{count} deliveries processed")


def test_a_change_without_a_webhook_is_posted_once_and_the_late_webhook_adds_nothing(
    polling: RunningConnect,
) -> None:
    connect = polling
    slack, jira = connect.slack.slack, connect.jira.jira
    slack.add_user("U0ALICE", "alice", real_name="Alice Adams", email="alice@example.com")
    slack.add_channel("C0GENERAL", "general", members=["U0ALICE"])
    parent = slack.add_message("C0GENERAL", "the certificates expire friday", user="U0ALICE")
    connect.runtime.services.links.link_message(
        MessageRef(TEAM, "C0GENERAL", parent.ts), "U0ALICE", "OPS-2"
    )
    held: list[dict[str, Any]] = []  # what Jira would send, were its webhooks reaching Connect
    emitter = JiraWebhookEmitter(jira, held.append).start()
    asked_before = len(connect.jira.requests)
    with jira.act_as("bob@example.com"):
        jira.transition_issue("OPS-2", "11")  # Start progress
    emitter.flush()
    emitter.stop()

    (reply,) = wait_for_replies(connect, "C0GENERAL", parent.ts, 1)
    assert "moved" in reply.text and "To Do → In Progress" in reply.text
    asked = [r.path for r in connect.jira.requests[asked_before:]]
    assert SEARCH in asked  # batched searches; no issue read one by one
    assert not [path for path in asked if "/issue/" in path]

    assert held
    for payload in held:  # the webhook arrives late
        assert connect.jira_webhook(payload).json() == {"status": "accepted"}
    deliveries_done(connect, len(held))
    settle(connect)
    assert len(replies(connect, "C0GENERAL", parent.ts)) == 1


@pytest.mark.parametrize(("interval", "jobs"), [(0, []), (30, [("poller", 30.0)])])
def test_the_poller_job_follows_connect_poll_interval(
    fake_slack: FakeSlackServer,
    fake_jira: FakeJiraServer,
    tmp_path: Path,
    interval: float,
    jobs: list[tuple[str, float]],
) -> None:
    settings = connect_settings(
        fake_slack, fake_jira, tmp_path / "connect.db", connect_poll_interval=interval
    )
    runtime = build_runtime(settings)
    try:
        worker = build_worker(runtime)
        assert [(job.name, job.interval) for job in worker.jobs if job.name == "poller"] == jobs
    finally:
        runtime.close()
