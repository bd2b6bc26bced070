""" "Done through Connect" is recorded only for what Jira accepted (SPEC §11): a refused write
can neither hide someone else's change from the channel it came from nor claim it."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from simulators.jira_site.webhooks import JiraWebhookEmitter
from tests.e2e.conftest import RunningConnect
from tests.e2e.slack_events import block_action
from tests.e2e.test_commands import wait_for_response
from tests.e2e.test_create_issue import (
    form_values,
    is_form,
    option_value,
    shortcut_payload,
    submission,
    wait_for_view,
)
from tests.e2e.test_message_shortcuts import open_modal, picked, shortcut_on
from tests.waiting import wait_until

CONNECTS_ACCOUNT = "acc-connect"  # the fake Jira's `myself`: every write Connect makes


@pytest.fixture
def ops(connect: RunningConnect) -> Iterator[tuple[RunningConnect, JiraWebhookEmitter]]:
    """OPS-1 linked to #ops by Bob; Jira's changes arrive as Cloud webhooks."""
    slack = connect.slack.slack
    slack.add_user("U0ALICE", "alice", real_name="Alice Adams", email="alice@example.com")
    slack.add_user("U0BOB", "bob", real_name="Bob Baker", email="bob@example.com")
    slack.add_channel("C0OPS", "ops", members=["U0ALICE", "U0BOB"])
    slack.add_channel("C0GENERAL", "general", members=["U0ALICE", "U0BOB"])
    assert "Linked this channel" in ask(connect, "link OPS-1", user="U0BOB", channel="C0OPS")
    emitter = connect.emit_jira_webhooks()
    yield connect, emitter
    emitter.stop()


def ask(connect: RunningConnect, text: str, **fields: str) -> str:
    _, response_url = connect.slash(text, **fields)
    return str(wait_for_response(connect, response_url)["text"])


def bot_posts(connect: RunningConnect, channel: str) -> list[Any]:
    slack = connect.slack.slack
    return [m for m in slack.top_level(channel) if m.user == slack.bot_user_id]


def wait_for_post(connect: RunningConnect, channel: str, timeout: float = 10) -> Any:
    found = wait_until(
        lambda: bot_posts(connect, channel), timeout=timeout, what=f"a post in {channel}"
    )
    return found[-1]


def automation_comments(connect: RunningConnect, emitter: JiraWebhookEmitter) -> None:
    """A change by Connect's Jira account that no Slack user made (say, an automation rule
    running as that account): nobody in Slack may be credited with it or hide it."""
    with connect.jira.jira.act_as(CONNECTS_ACCOUNT):
        connect.jira.jira.add_comment("OPS-1", "Nightly check: the replica lags 2 s.")
    emitter.flush()


def test_a_refused_move_hides_and_claims_nothing(ops) -> None:
    connect, emitter = ops
    before = connect.jira.jira.get_issue("OPS-1").status
    answer = ask(connect, "move OPS-1 no-such-status", user="U0BOB", channel="C0OPS")
    assert "Moved" not in answer
    assert connect.jira.jira.get_issue("OPS-1").status == before

    automation_comments(connect, emitter)
    post = wait_for_post(connect, "C0OPS")  # not kept out of #ops as "Bob's own change"
    assert "Nightly check" in post.text
    assert "Bob Baker" not in post.text and "*Connect* commented" in post.text


def test_a_refused_transition_button_hides_and_claims_nothing(ops) -> None:
    connect, emitter = ops
    before = connect.jira.jira.get_issue("OPS-1").status
    response_url = connect.slack.response_url()
    action = {
        "type": "external_select",
        "action_id": "card_transition",
        "block_id": "card:OPS-1:actions",
        "selected_option": {"text": {"type": "plain_text", "text": "Gone"}, "value": "999"},
    }
    payload = block_action(action, user="U0BOB", channel="C0OPS", response_url=response_url)
    assert connect.interact(payload).status_code == 200
    wait_for_response(connect, response_url)  # Bob is told it did not work
    assert connect.jira.jira.get_issue("OPS-1").status == before

    automation_comments(connect, emitter)
    post = wait_for_post(connect, "C0OPS")
    assert "Nightly check" in post.text and "Bob Baker" not in post.text


def test_a_comment_from_the_message_shortcut_is_credited_to_who_added_it(ops) -> None:
    connect, emitter = ops
    payload, _ = shortcut_on(
        connect, "comment_on_issue_from_message", "C0GENERAL", "Lag is back", trigger="trig-own"
    )
    assert connect.interact(picked(open_modal(connect, payload), "OPS-1")).status_code == 200
    emitter.flush()
    post = wait_for_post(connect, "C0OPS")  # OPS-1's link in another channel hears of it
    assert "*Alice Adams (via Slack)* commented" in post.text


def test_an_issue_created_from_slack_is_credited_to_its_creator(ops) -> None:
    connect, emitter = ops
    assert "Subscribed this channel" in ask(connect, "subscribe OPS", user="U0BOB", channel="C0OPS")
    assert connect.interact(shortcut_payload("create_issue", "trig-own-create")).status_code == 200
    form = wait_for_view(connect, is_form)
    values = form_values("OPS", option_value(form, "issue_type", "Task"), "Printer jams again")
    assert connect.interact(submission(form, values)).json()["response_action"] == "update"
    emitter.flush()
    post = wait_for_post(connect, "C0OPS")  # the subscription's post of the new issue
    assert "*Alice Adams (via Slack)* created" in post.text
