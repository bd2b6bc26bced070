"""Sample Jira deliveries for the tests: the fixtures in tests/fixtures/jira_webhooks, read
as events, and the OPS-42 story they tell (created 2024-03-04 on Jira Cloud)."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterable, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from clients.jira_client import JiraUser
from services.jira_changes.detector import Change, baseline, detect
from services.jira_changes.events import IssueSnapshot, JiraEvent, parse_webhook

FIXTURES = Path(__file__).parents[1] / "fixtures" / "jira_webhooks"
FIXTURE_NAMES = sorted(path.stem for path in FIXTURES.glob("*.json"))
ALICE = JiraUser("5b10ac8d82e05b22cc7d4ef5", "Alice Martin", "alice@acme.example")
BOB = JiraUser("712020:0e4cbe2b-7f5a-4c3b-9f3a-1d2e3f4a5b6c", "Bob Chen")
T0 = datetime(2024, 3, 4, 8, 15, 22, 104000, tzinfo=UTC)  # OPS-42 created


def raw(name: str) -> bytes:
    return (FIXTURES / f"{name}.json").read_bytes()


def body(name: str) -> dict[str, Any]:
    """A fresh copy of the delivery's JSON body, free to change."""
    data: dict[str, Any] = json.loads(raw(name))
    return data


def event(name: str) -> JiraEvent:
    return parse_webhook(body(name))


def status_change(old: str, new: str, at: datetime, changelog_id: str) -> JiraEvent:
    """OPS-42 moved from `old` to `new` at `at`, as Jira Cloud would send it."""
    data = copy.deepcopy(body("cloud_issue_updated_status"))
    data["changelog"] = {
        "id": changelog_id,
        "items": [
            {"field": "status", "fieldtype": "jira", "fieldId": "status", "from": "1",
             "fromString": old, "to": "2", "toString": new},
        ],
    }  # fmt: skip
    data["issue"]["fields"]["status"]["name"] = new
    data["issue"]["fields"]["updated"] = at.isoformat()
    return parse_webhook(data)


def snapshot(**changes: Any) -> IssueSnapshot:
    """OPS-42 as the poller would fetch it (complete), at creation unless told otherwise."""
    created = event("cloud_issue_created").issue
    assert created is not None
    return replace(created, **changes)


def play(events: Iterable[JiraEvent], state: dict[str, Any] | None = None) -> list[Change]:
    """Detect each event in turn, carrying the state; all changes announced."""
    announced: list[Change] = []
    for one in events:
        detection = detect(one, state)
        announced.extend(detection.changes)
        state = detection.state
    return announced


def kinds(changes: Sequence[Change]) -> list[str]:
    return [change.kind for change in changes]


def linked() -> dict[str, Any]:
    """OPS-42's announced state when it was linked, right after creation."""
    return baseline(snapshot())
