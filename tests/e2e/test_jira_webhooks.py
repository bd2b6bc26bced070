"""Jira → Slack: webhooks into the running app, notifications in the linked threads."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from services.issues.links import MessageRef
from simulators.jira_site.webhooks import JiraWebhookEmitter, issue_json, user_json
from tests.e2e.conftest import RunningConnect, wait_marked_sent, wait_settled
from tests.e2e.test_burst_updates import SteppedClock
from tests.e2e.test_commands import wait_for_response
from tests.waiting import wait_until

TEAM = "T0TEAM"


@pytest.fixture
def linked(connect: RunningConnect) -> Iterator[tuple[RunningConnect, str, JiraWebhookEmitter]]:
    """OPS-2 linked to a thread in #general; Jira's changes arrive as Cloud webhooks."""
    slack = connect.slack.slack
    slack.add_user("U0ALICE", "alice", real_name="Alice Adams", email="alice@example.com")
    slack.add_channel("C0GENERAL", "general", members=["U0ALICE"])
    slack.add_channel("C0OPS", "ops", members=["U0ALICE"])
    parent = slack.add_message("C0GENERAL", "the certificates expire friday", user="U0ALICE")
    connect.runtime.services.links.link_message(
        MessageRef(TEAM, "C0GENERAL", parent.ts), "U0ALICE", "OPS-2"
    )
    emitter = connect.emit_jira_webhooks()
    yield connect, parent.ts, emitter
    emitter.stop()


def replies(connect: RunningConnect, channel: str, thread_ts: str) -> list[Any]:
    return [m for m in connect.slack.slack.thread(channel, thread_ts) if m.ts != thread_ts]


def wait_for_replies(
    connect: RunningConnect, channel: str, thread_ts: str, count: int, timeout: float = 10
) -> list[Any]:
    return wait_until(
        lambda: found if len(found := replies(connect, channel, thread_ts)) >= count else None,
        timeout=timeout,
        what=f"{count} replies",
    )


def settle(connect: RunningConnect) -> None:
    """The worker has nothing left to do (every notification posted, and every edit a burst
    made to one): any further message would have been posted by now."""
    wait_settled(connect)


def test_a_status_change_in_jira_lands_in_the_thread_once(linked) -> None:
    connect, ts, emitter = linked
    with connect.jira.jira.act_as("bob@example.com"):
        connect.jira.jira.transition_issue("OPS-2", "11")  # Start progress
    emitter.flush()
    (reply,) = wait_for_replies(connect, "C0GENERAL", ts, 1)
    assert "Bob Baker" in reply.text and "moved" in reply.text
    assert "To Do → In Progress" in reply.text
    settle(connect)
    assert len(replies(connect, "C0GENERAL", ts)) == 1


def test_a_redelivered_webhook_is_posted_once(linked) -> None:
    connect, ts, _ = linked
    issue = connect.jira.jira.get_issue("OPS-2")
    payload = {
        "timestamp": 1795670000000,
        "webhookEvent": "jira:issue_updated",
        "issue_event_type_name": "issue_generic",
        "user": user_json(connect.jira.jira.user("carol@example.com"), cloud=True),
        "issue": issue_json(issue, cloud=True),
        "changelog": {
            "id": "77001",
            "items": [
                {
                    "field": "priority",
                    "fieldtype": "jira",
                    "from": "3",
                    "fromString": "Medium",
                    "to": "2",
                    "toString": "High",
                }
            ],
        },
    }
    first = connect.jira_webhook(payload, headers={"X-Atlassian-Webhook-Identifier": "abc-1"})
    again = connect.jira_webhook(payload, headers={"X-Atlassian-Webhook-Identifier": "abc-1"})
    assert first.json() == {"status": "accepted"}
    assert again.json() == {"status": "duplicate"}
    (reply,) = wait_for_replies(connect, "C0GENERAL", ts, 1)
    assert "Carol Chen" in reply.text and "priority" in reply.text
    settle(connect)
    assert len(replies(connect, "C0GENERAL", ts)) == 1


def test_a_comment_reported_twice_by_cloud_is_posted_once(linked) -> None:
    connect, ts, emitter = linked
    with connect.jira.jira.act_as("carol@example.com"):
        connect.jira.jira.add_comment("OPS-2", "Renewed the *staging* cert.")
    emitter.flush()
    (reply,) = wait_for_replies(connect, "C0GENERAL", ts, 1)
    assert "Carol Chen" in reply.text and "commented" in reply.text
    assert "Renewed the *staging* cert." in reply.text
    settle(connect)
    assert len(replies(connect, "C0GENERAL", ts)) == 1


def test_changes_within_two_seconds_make_one_message(linked) -> None:
    connect, ts, emitter = linked
    clock = SteppedClock()  # the window and Slack's pace move only when the test says so
    connect.runtime.clock = clock
    jira = connect.jira.jira
    with jira.act_as("bob@example.com"):
        jira.transition_issue("OPS-2", "11")
        emitter.flush()
        jira.assign_issue("OPS-2", "acc-carol")
    emitter.flush()
    wait_for_replies(connect, "C0GENERAL", ts, 1)
    wait_marked_sent(connect)
    clock.advance(1.5)  # past Slack's pace of a message a second, within the 2 s window
    settle(connect)
    (reply,) = replies(connect, "C0GENERAL", ts)
    assert "In Progress" in reply.text and "Carol Chen" in reply.text


def test_a_change_made_from_slack_is_not_echoed_back_but_reaches_other_links(linked) -> None:
    connect, ts, emitter = linked
    # The same issue also linked to #ops as a channel.
    answer = wait_for_response(connect, connect.slash("link OPS-2", channel="C0OPS")[1])
    assert "Linked this channel" in answer["text"]
    wait_for_response(connect, connect.slash("link OPS-2")[1])  # #general as a channel too
    _, done = connect.slash("move OPS-2 In Progress")  # from #general
    assert "Moved *OPS-2*" in wait_for_response(connect, done)["text"]
    emitter.flush()
    wait_until(lambda: connect.slack.slack.top_level("C0OPS"), what="a post in #ops")
    (ops,) = [
        m
        for m in connect.slack.slack.top_level("C0OPS")
        if m.user == connect.slack.slack.bot_user_id
    ]
    assert "*Alice Adams (via Slack)* moved" in ops.text
    settle(connect)
    general = [
        m
        for m in connect.slack.slack.top_level("C0GENERAL")
        if m.user == connect.slack.slack.bot_user_id
    ]
    assert general == []  # the channel it was done from already knows
    assert (
        len(replies(connect, "C0GENERAL", ts)) == 1
    )  # the linked thread elsewhere in #general hears


def test_a_deleted_issue_is_announced_and_its_links_retired(linked) -> None:
    connect, ts, emitter = linked
    with connect.jira.jira.act_as("bob@example.com"):
        connect.jira.jira.delete_issue("OPS-2")
    emitter.flush()
    (reply,) = wait_for_replies(connect, "C0GENERAL", ts, 1)
    assert "deleted" in reply.text
    links = connect.runtime.services.links.channel_links(TEAM, "C0GENERAL")
    assert links == []


def test_data_center_deliveries_with_the_secret_in_the_url(linked) -> None:
    connect, ts, _ = linked
    issue = connect.jira.jira.get_issue("OPS-2")
    payload = {
        "timestamp": 1795670000000,
        "webhookEvent": "jira:issue_updated",
        "user": user_json(connect.jira.jira.user("bob@example.com"), cloud=False),
        "issue": issue_json(issue, cloud=False),
        "changelog": {
            "id": "88001",
            "items": [
                {
                    "field": "summary",
                    "fieldtype": "jira",
                    "fromString": issue.summary,
                    "toString": "Rotate all certs",
                }
            ],
        },
    }
    response = connect.jira_webhook(payload, secret=None, query="?secret=e2e-webhook-secret")
    assert response.json() == {"status": "accepted"}
    (reply,) = wait_for_replies(connect, "C0GENERAL", ts, 1)
    assert "Rotate all certs" in reply.text


@pytest.mark.parametrize(
    ("body", "secret", "query", "status", "code"),
    [
        (b'{"webhookEvent": "jira:issue_updated"}', None, "", 401, "INVALID_SIGNATURE"),
        (b'{"webhookEvent": "jira:issue_updated"}', "wrong", "", 401, "INVALID_SIGNATURE"),
        (
            b'{"webhookEvent": "jira:issue_updated"}',
            None,
            "?secret=wrong",
            401,
            "INVALID_SIGNATURE",
        ),
        (b'{"webhookEvent": ', "e2e-webhook-secret", "", 400, "INVALID_JSON"),
        (b"\xff\xfe", "e2e-webhook-secret", "", 400, "INVALID_JSON"),
        (b"[1, 2]", "e2e-webhook-secret", "", 400, "INVALID_JSON"),
    ],
)
def test_bad_deliveries_are_refused(
    connect: RunningConnect, body, secret, query, status, code
) -> None:
    response = connect.jira_webhook(body, secret=secret, query=query)
    assert response.status_code == status
    assert response.json()["code"] == code


def test_oversized_and_unknown_deliveries(connect: RunningConnect) -> None:
    huge = json.dumps({"webhookEvent": "jira:issue_updated", "pad": "x" * (1024 * 1024)}).encode()
    assert connect.jira_webhook(huge).status_code == 413
    unknown = connect.jira_webhook({"webhookEvent": "sprint_started", "sprint": {"id": 1}})
    assert unknown.status_code == 200 and unknown.json() == {"status": "ignored"}
    garbled = connect.jira_webhook({"webhookEvent": "jira:issue_updated", "issue": "nope"})
    assert garbled.status_code == 200
