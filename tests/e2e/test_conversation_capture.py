"""Capturing a whole conversation over HTTP (SPEC §13): "Create Jira issue" and "Comment on
Jira issue" offer "Include the whole thread (N messages)" on a thread, and ticked, the
description or comment holds every message in order with its author and time."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.e2e.conftest import RunningConnect
from tests.e2e.test_create_issue import (
    form_values,
    option_value,
    shortcut_payload,
    submission,
    wait_for_view,
)
from tests.e2e.test_message_shortcuts import ALICE, TEAM, open_modal, picked
from tests.waiting import wait_until

CHANNEL = "C0GENERAL"
TICKED = {
    "whole_thread": {"whole_thread": {"type": "checkboxes", "selected_options": [{"value": "yes"}]}}
}


@pytest.fixture
def team(connect: RunningConnect) -> RunningConnect:
    slack = connect.slack.slack
    slack.add_user("U0ALICE", "alice", real_name="Alice Adams", email="alice@example.com")
    slack.add_user("U0BOB", "bob", real_name="Bob Baker", email="bob@example.com")
    slack.add_channel(CHANNEL, "general", members=["U0ALICE", "U0BOB"])
    return connect


def conversation(connect: RunningConnect, replies: int, *, words: str = "") -> list[Any]:
    slack = connect.slack.slack
    parent = slack.add_message(CHANNEL, "Message 1: the *deploy* broke", user="U0BOB")
    for n in range(2, replies + 2):
        who = "U0ALICE" if n % 2 else "U0BOB"
        text = f"Message {n}: <@U0ALICE> look {words}" if n == 3 else f"Message {n} {words}"
        slack.add_message(CHANNEL, text, user=who, thread_ts=parent.ts)
    return slack.thread(CHANNEL, parent.ts)


def has_box(view: dict[str, Any]) -> bool:
    return any(b.get("block_id") == "whole_thread" for b in view["blocks"])


def create_shortcut_on(message: Any, trigger: str, connect: RunningConnect) -> dict[str, Any]:
    body = {"type": "message", "user": message.user, "ts": message.ts, "text": message.text}
    if message.thread_ts or len(connect.slack.slack.thread(CHANNEL, message.ts)) > 1:
        body["thread_ts"] = message.thread_ts or message.ts
    return shortcut_payload(
        "create_issue_from_message",
        trigger,
        type="message_action",
        channel={"id": CHANNEL, "name": "general"},
        message=body,
        message_ts=message.ts,
        response_url=connect.slack.response_url(),
    )


def issue_named(connect: RunningConnect, summary: str) -> Any:
    found = connect.jira.jira.search_all("ORDER BY key")
    return next((issue for issue in found if issue.summary == summary), None)


def test_create_with_the_whole_thread_of_30_messages(team: RunningConnect) -> None:
    messages = conversation(team, 29)
    assert len(messages) == 30
    team.interact(create_shortcut_on(messages[0], "trig-capture", team))
    form = wait_for_view(team, has_box)
    box = next(b for b in form["blocks"] if b.get("block_id") == "whole_thread")
    assert box["element"]["options"][0]["text"]["text"] == "Include the whole thread (30 messages)"
    task = option_value(form, "issue_type", "Task")
    values = form_values("OPS", task, "The deploy broke", **TICKED)
    assert team.interact(submission(form, values)).status_code == 200
    issue = wait_until(
        lambda: next(
            (
                i
                for i in team.jira.jira.search_all("ORDER BY key")
                if i.summary == "The deploy broke"
            ),
            None,
        ),
        what="the issue",
    )
    text = issue.description or ""
    positions = [text.index(f"Message {n}") for n in range(1, 31)]
    assert positions == sorted(positions)
    assert "*Bob Baker* — " in text and "*Alice Adams* — " in text and " UTC" in text
    assert "Message 3: @Alice Adams look" in text and "the *deploy* broke" in text


def test_a_message_without_replies_is_not_offered_the_thread(team: RunningConnect) -> None:
    alone = team.slack.slack.add_message(CHANNEL, "nothing follows", user="U0BOB")
    team.interact(create_shortcut_on(alone, "trig-alone", team))
    form = wait_for_view(team, lambda v: any(b.get("block_id") == "summary" for b in v["blocks"]))
    assert all(b.get("block_id") != "whole_thread" for b in form["blocks"])


def test_comment_with_the_whole_thread_from_a_reply(team: RunningConnect) -> None:
    messages = conversation(team, 4)
    reply = messages[2]
    payload = {
        "type": "message_action",
        "token": "deprecated",
        "action_ts": "1700000000.000100",
        "team": TEAM,
        "user": ALICE,
        "channel": {"id": CHANNEL, "name": "general"},
        "callback_id": "comment_on_issue_from_message",
        "trigger_id": "trig-comment-thread",
        "response_url": team.slack.response_url(),
        "message_ts": reply.ts,
        "message": {
            "type": "message",
            "user": reply.user,
            "ts": reply.ts,
            "text": reply.text,
            "thread_ts": reply.thread_ts,
        },
    }
    view = open_modal(team, payload)

    def with_box() -> dict[str, Any] | None:
        current = team.slack.views.by_id[view["id"]]
        return current if has_box(current) else None

    updated = wait_until(with_box, what="the checkbox in the modal")
    assert "(5 messages)" in str(updated["blocks"])
    body = picked(updated, "OPS-1")
    body["view"]["state"]["values"].update(TICKED)
    assert team.interact(body).json() == {"response_action": "clear"}
    comment = wait_until(
        lambda: next((c for c in team.jira.jira.comments("OPS-1") if "Message 5" in c.body), None),
        what="the comment",
    )
    positions = [comment.body.index(f"Message {n}") for n in range(1, 6)]
    assert positions == sorted(positions)
    thread_link = team.slack.slack.get_permalink(CHANNEL, messages[0].ts)
    assert thread_link in comment.body


def test_a_thread_longer_than_jira_takes_ends_with_how_many_more(team: RunningConnect) -> None:
    messages = conversation(team, 39, words="x" * 1500)
    team.interact(create_shortcut_on(messages[0], "trig-long", team))
    form = wait_for_view(team, has_box)
    task = option_value(form, "issue_type", "Task")
    values = form_values("OPS", task, "A long talk", **TICKED)
    team.interact(submission(form, values))
    issue = wait_until(
        lambda: issue_named(team, "A long talk"),
        what="the issue",
    )
    text = issue.description or ""
    assert len(text) < 32_767
    permalink = team.slack.slack.get_permalink(CHANNEL, messages[0].ts)
    assert "more messages in Slack:_ " + permalink in text
    shown = sorted({int(n) for n in re.findall(r"Message (\d+)", text)})
    more = int(text.split("_…")[1].split(" more")[0])
    assert shown == list(range(1, len(shown) + 1))  # the first ones, in order, none skipped
    assert len(shown) + more == 40 and more > 0
