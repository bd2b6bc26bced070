"""Channel subscriptions end to end: signed `/jira subscribe …` commands, Jira's changes as
webhooks, posts in the fake Slack."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest

from services.notifications.fan_out import BURST_WINDOW
from simulators.jira_site.webhooks import JiraWebhookEmitter
from tests.e2e.conftest import RunningConnect
from tests.e2e.test_commands import wait_for_response
from tests.e2e.test_jira_webhooks import settle
from tests.waiting import wait_until

Team = tuple[RunningConnect, JiraWebhookEmitter]


@pytest.fixture
def team(connect: RunningConnect) -> Iterator[Team]:
    slack = connect.slack.slack
    slack.add_user("U0ALICE", "alice", real_name="Alice Adams", email="alice@example.com")
    slack.add_user("U0BOB", "bob", real_name="Bob Baker", email="bob@example.com")
    for channel, name in (("C0OPS", "ops"), ("C0HOT", "hot"), ("C0NEW", "new")):
        slack.add_channel(channel, name, members=["U0ALICE"])
    emitter = connect.emit_jira_webhooks()
    yield connect, emitter
    emitter.stop()


def ask(connect: RunningConnect, text: str, **fields: str) -> str:
    _, response_url = connect.slash(text, **fields)
    return str(wait_for_response(connect, response_url)["text"])


def posts(connect: RunningConnect, channel: str) -> list[Any]:
    slack = connect.slack.slack
    return [m for m in slack.messages.get(channel, []) if m.user == slack.bot_user_id]


def wait_for_posts(
    connect: RunningConnect, channel: str, count: int, timeout: float = 10
) -> list[Any]:
    return wait_until(
        lambda: found if len(found := posts(connect, channel)) >= count else None,
        timeout=timeout,
        what=f"{count} posts in {channel}",
    )


def past_the_burst_window(connect: RunningConnect) -> None:
    """Move Connect's clock past the burst window: a change after it is a message of its own
    (the notifier and the outbox read the runtime's clock)."""
    before = connect.runtime.clock
    connect.runtime.clock = lambda: before() + BURST_WINDOW + timedelta(milliseconds=100)


def test_subscribe_list_and_unsubscribe_through_slash_commands(team: Team) -> None:
    connect, _ = team
    made = ask(connect, "subscribe OPS priority = High --events created,commented", channel="C0OPS")
    assert "Subscribed this channel (#1)" in made
    assert "project *OPS* matching `priority = High` (created, commented)" in made
    assert "(#2)" in ask(connect, "subscribe created &gt;= -1d", channel="C0OPS")
    listed = ask(connect, "subscriptions", channel="C0OPS")
    assert "*#1* project *OPS*" in listed and "*#2* issues matching `created &gt;= -1d`" in listed
    assert "Removed subscription #1" in ask(connect, "unsubscribe 1", channel="C0OPS")
    assert "*#1*" not in ask(connect, "subscriptions", channel="C0OPS")
    assert "no subscriptions" in ask(connect, "subscriptions", channel="C0HOT")


def test_bad_requests_are_answered_plainly(team: Team) -> None:
    connect, _ = team
    refused = ask(connect, "subscribe OPS priority = Urgent", channel="C0OPS")
    assert "Jira can't use that filter: The value 'Urgent' does not exist" in refused
    unknown = ask(connect, "subscribe OPS --events created,deployed", channel="C0OPS")
    assert "`deployed`" in unknown and "Usage: `/jira subscribe [PROJECT]" in unknown
    outsider = ask(connect, "subscribe OPS", channel="C0OPS", user="U0BOB")
    assert "Only members of this channel" in outsider
    assert "not a subscription number" in ask(connect, "unsubscribe one", channel="C0OPS")
    connect.slack.slack.add_channel("C0NOBOT", "nobot", members=["U0ALICE"], bot_is_member=False)
    assert "invite me" in ask(connect, "subscribe OPS", channel="C0NOBOT")


def test_new_issues_filtered_then_threaded(team: Team) -> None:
    connect, emitter = team
    jira = connect.jira.jira
    assert "(#1)" in ask(connect, "subscribe OPS", channel="C0OPS")
    assert "(#1)" in ask(connect, "subscribe OPS priority = High", channel="C0HOT")
    assert "(#1)" in ask(connect, "subscribe OPS --events created", channel="C0NEW")
    with jira.act_as("bob@example.com"):
        urgent = jira.add_issue("OPS", "Payments API returns 502", priority="High")
        calm = jira.add_issue("OPS", "Tidy up old dashboards", priority="Low")
    emitter.flush()
    ops = wait_for_posts(connect, "C0OPS", 2)
    assert {urgent.key, calm.key} == {k for p in ops for k in (urgent.key, calm.key) if k in p.text}
    assert all(not p.is_reply and "created" in p.text for p in ops)
    (hot,) = wait_for_posts(connect, "C0HOT", 1)
    assert urgent.key in hot.text and "Bob Baker" in hot.text
    assert len(wait_for_posts(connect, "C0NEW", 2)) == 2

    past_the_burst_window(connect)  # the comment is news of its own
    with jira.act_as("carol@example.com"):
        jira.add_comment(urgent.key, "Rolling back the deploy.")
    emitter.flush()
    _, reply = wait_for_posts(connect, "C0HOT", 2)
    assert reply.thread_ts == hot.ts and "Rolling back the deploy." in reply.text
    settle(connect)
    assert len(posts(connect, "C0HOT")) == 2  # the calm issue never reached #hot
    assert len(posts(connect, "C0NEW")) == 2  # --events created: no comments here
    ops_replies = [p for p in posts(connect, "C0OPS") if p.is_reply]
    (ops_first,) = [p for p in ops if urgent.key in p.text]
    assert [p.thread_ts for p in ops_replies] == [ops_first.ts]


def test_a_channel_that_links_and_subscribes_gets_one_message_per_change(team: Team) -> None:
    connect, emitter = team
    assert "(#1)" in ask(connect, "subscribe OPS", channel="C0OPS")
    assert "Linked this channel" in ask(connect, "link OPS-2", channel="C0OPS")
    with connect.jira.jira.act_as("bob@example.com"):
        connect.jira.jira.transition_issue("OPS-2", "11")
    emitter.flush()
    (post,) = wait_for_posts(connect, "C0OPS", 1)
    assert "To Do → In Progress" in post.text
    past_the_burst_window(connect)
    with connect.jira.jira.act_as("carol@example.com"):
        connect.jira.jira.add_comment("OPS-2", "Halfway there.")
    emitter.flush()
    second = wait_for_posts(connect, "C0OPS", 2)[1]
    assert "Halfway there." in second.text
    settle(connect)
    assert len(posts(connect, "C0OPS")) == 2
