"""Restricted content never reaches a channel (SPEC §7): a comment with a role or group
`visibility` is announced without its body, an issue with a security level without its
summary — in linked threads, subscribed channels, previews and unfurls."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from services.issues.links import MessageRef
from simulators.jira_site.server import FakeJiraServer
from simulators.jira_site.webhooks import JiraWebhookEmitter, comment_json, user_json
from simulators.slack_workspace.server import FakeSlackServer
from tests.e2e.conftest import RunningConnect, connect_settings, running_connect
from tests.e2e.slack_events import message_event, next_ts, posts, send_event
from tests.e2e.test_jira_webhooks import replies, wait_for_replies
from tests.e2e.test_previews import link_shared
from tests.e2e.test_project_wall import ask, bot_posts, everything_handled
from tests.waiting import wait_until

TEAM = "T0TEAM"
SUMMARY = "Rotate TLS certificates for api.example.com"  # OPS-2's


@pytest.fixture
def linked(connect: RunningConnect) -> Iterator[tuple[RunningConnect, str, JiraWebhookEmitter]]:
    """OPS-2 linked to a thread in #general and followed by #subs; Cloud webhooks."""
    slack = connect.slack.slack
    slack.add_user("U0ALICE", "alice", real_name="Alice Adams", email="alice@example.com")
    slack.add_channel("C0GENERAL", "general", members=["U0ALICE"])
    slack.add_channel("C0SUBS", "subs", members=["U0ALICE"])
    parent = slack.add_message("C0GENERAL", "the certificates expire friday", user="U0ALICE")
    connect.runtime.services.links.link_message(
        MessageRef(TEAM, "C0GENERAL", parent.ts), "U0ALICE", "OPS-2"
    )
    emitter = connect.emit_jira_webhooks()
    yield connect, parent.ts, emitter
    emitter.stop()


def thread_says(connect: RunningConnect, ts: str) -> str:
    return "\n".join(shown(reply) for reply in replies(connect, "C0GENERAL", ts))


def subscribed_says(connect: RunningConnect) -> str:
    """#subs' posts about OPS-2, thread replies included."""
    said = [shown(post) for post in bot_posts(connect, "C0SUBS")]
    for post in bot_posts(connect, "C0SUBS"):
        said += [shown(reply) for reply in replies(connect, "C0SUBS", post.ts)]
    return "\n".join(said)


def shown(message: Any) -> str:
    """Everything a message puts on screen: its text and its blocks."""
    if isinstance(message, dict):
        return json.dumps(message)
    return message.text + json.dumps(message.blocks or [])


def test_a_restricted_comment_is_announced_without_its_body(linked) -> None:
    connect, ts, emitter = linked
    jira = connect.jira.jira
    with jira.act_as("carol@example.com"):
        jira.add_comment("OPS-2", "Salary bands for the team are attached.")
        jira.add_comment("OPS-2", "Layoffs planned in Q3.", visibility=("role", "Administrators"))
    emitter.flush()
    wait_until(lambda: "restricted comment" in thread_says(connect, ts))
    said = thread_says(connect, ts)
    assert "Salary bands" in said  # an open comment is quoted as before
    assert "*Carol Chen* added a restricted comment to" in said
    assert "Layoffs" not in said


def test_a_group_restricted_comment_in_a_webhook_is_announced_without_its_body(linked) -> None:
    connect, ts, _ = linked
    jira = connect.jira.jira
    issue = jira.get_issue("OPS-2")
    carol = jira.user("carol@example.com")
    comment = jira.add_comment("OPS-2", "placeholder")
    body = {
        **comment_json(comment, cloud=True),
        "body": "The acquisition closes on the 12th.",
        "author": user_json(carol, cloud=True),
        "visibility": {"type": "group", "value": "board-members"},
    }
    reduced = {  # the issue as a comment event carries it: no security, few fields
        "id": issue.id,
        "key": issue.key,
        "fields": {"summary": issue.summary, "project": {"key": "OPS"}},
    }
    payload = {
        "timestamp": 1795670000000,
        "webhookEvent": "comment_created",
        "comment": body,
        "issue": reduced,
    }
    assert connect.jira_webhook(payload).json() == {"status": "accepted"}
    (reply,) = wait_for_replies(connect, "C0GENERAL", ts, 1)
    assert "*Carol Chen* added a restricted comment to" in reply.text
    assert "acquisition" not in shown(reply)


def test_an_issue_with_a_security_level_is_announced_without_its_summary(linked) -> None:
    connect, ts, emitter = linked
    jira = connect.jira.jira
    assert "Subscribed" in ask(connect, "subscribe OPS", "C0SUBS")
    jira.update_issue("OPS-2", security="Confidential")  # Jira sends no webhook for it
    with jira.act_as("bob@example.com"):
        jira.update_issue("OPS-2", summary="Acquire competitor quietly")
        jira.transition_issue("OPS-2", "11")  # Start progress
        jira.add_comment("OPS-2", "Board meets on the 12th.")
    emitter.flush()
    wait_until(lambda: "restricted comment" in thread_says(connect, ts))
    wait_until(lambda: "restricted comment" in subscribed_says(connect))
    said = thread_says(connect, ts) + subscribed_says(connect)
    assert "OPS-2" in said and "(restricted)" in said
    assert "*Bob Baker* renamed" in said and "In Progress" in said
    assert "*Bob Baker* added a restricted comment to" in said
    for secret in ("Acquire competitor", "Board meets", SUMMARY):
        assert secret not in said


def test_an_issue_with_a_security_level_is_previewed_and_unfurled_without_its_summary(
    connect: RunningConnect,
) -> None:
    slack = connect.slack.slack
    slack.add_user("U0ALICE", "alice", real_name="Alice Adams", email="alice@example.com")
    slack.add_channel("C0GENERAL", "general", members=["U0ALICE"])
    connect.jira.jira.update_issue("OPS-2", security="Confidential")
    send_event(connect, message_event("Is OPS-2 done?", ts=next_ts()))
    (preview,) = wait_until(lambda: posts(connect, "C0GENERAL"))
    assert "OPS-2" in shown(preview) and "(restricted)" in shown(preview)
    assert SUMMARY not in shown(preview)

    url = f"{connect.jira.url}/browse/OPS-2"
    send_event(connect, link_shared(connect, url))
    call = connect.slack.wait_for("chat.unfurl")
    unfurl = json.dumps(call.params["unfurls"])
    assert "OPS-2" in unfurl and "(restricted)" in unfurl
    assert SUMMARY not in unfurl


def test_the_poller_announces_restricted_content_without_it(
    fake_slack: FakeSlackServer, fake_jira: FakeJiraServer, tmp_path: Path
) -> None:
    settings = connect_settings(
        fake_slack, fake_jira, tmp_path / "connect.db", connect_poll_interval=0.5
    )
    with running_connect(settings, fake_slack, fake_jira) as connect:
        slack, jira = connect.slack.slack, connect.jira.jira
        slack.add_user("U0ALICE", "alice", real_name="Alice Adams", email="alice@example.com")
        slack.add_channel("C0GENERAL", "general", members=["U0ALICE"])
        parent = slack.add_message("C0GENERAL", "the certificates expire friday", user="U0ALICE")
        connect.runtime.services.links.link_message(
            MessageRef(TEAM, "C0GENERAL", parent.ts), "U0ALICE", "OPS-2"
        )
        with jira.act_as("carol@example.com"):
            jira.add_comment("OPS-2", "Layoffs planned in Q3.", visibility=("group", "hr"))
        wait_until(lambda: "restricted comment" in thread_says(connect, parent.ts))
        jira.update_issue("OPS-2", security="Confidential")
        with jira.act_as("bob@example.com"):
            jira.update_issue("OPS-2", summary="Acquire competitor quietly")
        wait_until(lambda: "renamed" in thread_says(connect, parent.ts))
        said = thread_says(connect, parent.ts)
        assert "*Carol Chen* added a restricted comment to" in said
        assert "(restricted)" in said
        for secret in ("Layoffs", "Acquire competitor"):
            assert secret not in said


def test_a_comment_event_without_the_security_level_is_judged_by_what_connect_knows(
    linked,
) -> None:
    connect, ts, emitter = linked
    jira = connect.jira.jira
    jira.update_issue("OPS-2", security="Confidential")
    with jira.act_as("bob@example.com"):
        jira.transition_issue("OPS-2", "11")  # its webhook carries the whole issue
    emitter.flush()
    wait_until(lambda: "In Progress" in thread_says(connect, ts))
    emitter.stop()  # the comment below reaches Connect only as the event built here
    issue, carol = jira.get_issue("OPS-2"), jira.user("carol@example.com")
    comment = jira.add_comment("OPS-2", "placeholder")
    payload = {  # Data Center's comment event: a reduced issue that says nothing of security
        "timestamp": 1795670000000,
        "webhookEvent": "comment_created",
        "comment": {
            **comment_json(comment, cloud=False),
            "body": "Board meets on the 12th.",
            "author": user_json(carol, cloud=False),
        },
        "issue": {"id": issue.id, "key": issue.key, "fields": {"summary": issue.summary}},
    }
    assert connect.jira_webhook(payload).json() == {"status": "accepted"}
    wait_until(lambda: everything_handled(connect))
    assert "*Carol Chen* added a restricted comment to" in thread_says(connect, ts)
    assert "Board meets" not in thread_says(connect, ts)
