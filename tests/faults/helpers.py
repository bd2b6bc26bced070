"""What the fault tests share: Jira webhook bodies, linking a channel, reading the outbox."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime
from typing import Any

from bot.metrics import Metrics
from clients.jira_client import JiraComment
from clients.jira_rest import JiraRestClient
from simulators.jira_site.server import FakeJiraServer
from simulators.jira_site.webhooks import comment_json, issue_json, user_json
from simulators.slack_workspace.server import FakeSlackServer
from tests.e2e.conftest import RunningConnect
from tests.waiting import wait_until

CHANNEL = "C0OPS"
JIRA_TIMEOUT = 0.5  # seconds the client waits for one answer
JIRA_RETRY_BUDGET = 3.0  # seconds one operation may spend retrying 429/503


class CallLog:
    """An observer for the Jira client: every operation and how it ended."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.calls: list[tuple[str, str]] = []

    def record(self, service: str, operation: str, outcome: str, seconds: float) -> None:
        with self._lock:
            self.calls.append((operation, outcome))

    def count(self, operation: str) -> int:
        with self._lock:
            return sum(1 for name, _ in self.calls if name == operation)


def jira_client(
    jira: FakeJiraServer,
    *,
    timeout: float = JIRA_TIMEOUT,
    retry_budget: float = JIRA_RETRY_BUDGET,
    observer: Any = None,
) -> JiraRestClient:
    return JiraRestClient(
        jira.url,
        email=jira.email,
        api_token=jira.api_token,
        timeout=timeout,
        retry_budget_seconds=retry_budget,
        observer=observer or Metrics(),
    )


def last_response(connect: RunningConnect, response_url: str, timeout: float = 20) -> Any:
    posts = wait_until(
        lambda: connect.slack.responses(response_url),
        timeout=timeout,
        what="an answer on the response URL",
    )
    return posts[-1]


def note(number: int) -> str:
    return f"note-{number:03d}"


def comment_webhook(jira: FakeJiraServer, number: int, key: str = "OPS-1") -> bytes:
    """Jira Cloud's `comment_created` for a new comment whose text is `note(number)`."""
    issue = jira.jira.get_issue(key)
    bob = jira.jira.user("bob@example.com")
    moment = datetime.now(UTC)  # after the link: comments from before it are old news
    comment = JiraComment(str(70_000 + number), note(number), bob, moment, moment)
    return json.dumps(
        {
            "timestamp": 1795670000000 + number,
            "webhookEvent": "comment_created",
            "user": user_json(bob, cloud=True),
            "issue": issue_json(issue, cloud=True),
            "comment": comment_json(comment, cloud=True),
        }
    ).encode()


def link_channel(connect: RunningConnect, key: str = "OPS-1", channel: str = CHANNEL) -> None:
    _, response_url = connect.slash(f"link {key}", channel=channel)
    answer = last_response(connect, response_url)
    assert "Linked this channel" in answer["text"], answer


def posted_texts(slack: FakeSlackServer, channel: str = CHANNEL) -> str:
    return " ".join(message.text for message in slack.slack.messages.get(channel, []))
