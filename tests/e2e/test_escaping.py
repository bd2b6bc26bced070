"""Nothing Connect echoes can ping or spoof (SPEC §11): what a person typed, issue fields and
Jira's error messages reach Slack with `&`, `<` and `>` escaped, on every surface. Driven by
signed HTTP requests and Jira webhooks into the running app; every Slack call it makes is read
back from the fake Slack and scanned."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import pytest

from clients.jira_client import JiraFieldErrors
from services.issues.links import MessageRef
from simulators.jira_site.webhooks import issue_json, user_json
from tests.e2e.conftest import RunningConnect
from tests.e2e.slack_events import BOT_USER, TEAM_ID, message_event, next_ts, send_event
from tests.e2e.test_commands import wait_for_response
from tests.e2e.test_create_issue import (
    form_values,
    is_form,
    option_value,
    shortcut_payload,
    submission,
    wait_for_view,
)
from tests.waiting import wait_until

# What an attacker writes into a Jira field: a channel ping, a mention and a disguised link.
HOSTILE = "<!channel> session expired: <https://evil.example/login|re-authenticate> <@U0BOB>"
# The same typed into Slack, which sends `<` and `>` of typed text as entities.
TYPED = "&lt;!channel&gt; … &lt;https://evil.example/login|re-authenticate&gt;"


@pytest.fixture
def team(connect: RunningConnect) -> RunningConnect:
    slack = connect.slack.slack
    slack.add_user("U0ALICE", "alice", real_name="Alice Adams", email="alice@example.com")
    slack.add_user("U0BOB", "bob", real_name="Bob Baker", email="bob@example.com")
    slack.add_channel("C0GENERAL", "general", members=["U0ALICE", "U0BOB"])
    jira = connect.jira.jira
    jira.add_user("mallory@example.com", "<!here> Mallory <https://evil.example|IT>", "acc-mal")
    with jira.act_as("mallory@example.com"):
        issue = jira.add_issue("OPS", HOSTILE, assignee="acc-alice", priority="High")
    assert issue.key == "OPS-4"
    return connect


# -- what Slack would parse -------------------------------------------------------------------


def _parsed_texts(value: Any, *, top: bool = True) -> Iterator[str]:
    """Every string of a Slack call that Slack reads as mrkdwn: `text` at the top of a message
    (its fallback, used for notifications too) and each `mrkdwn` text object, at any depth."""
    if isinstance(value, str) and value[:1] in "[{":
        try:
            value = json.loads(value)
        except ValueError:
            return
    if isinstance(value, dict):
        if value.get("type") == "mrkdwn" and isinstance(value.get("text"), str):
            yield value["text"]
        if top and isinstance(value.get("text"), str):
            yield value["text"]
        for key, inner in value.items():
            if key != "text" or not isinstance(inner, str):
                yield from _parsed_texts(inner, top=False)
    elif isinstance(value, list):
        for inner in value:
            yield from _parsed_texts(inner, top=False)


def _active_tokens(text: str) -> list[str]:
    """The `<…>` Slack would turn into a ping, a mention of Bob, or a link to the attacker
    under a label of the attacker's choosing. (A bare URL Jira's own text holds becomes a link
    that shows its URL, as Jira shows it.)"""
    return [
        token
        for token in re.findall(r"<([^<>]*)>", text)
        if token.startswith(("!", "@U0BOB")) or ("evil.example" in token and "|" in token)
    ]


def assert_nothing_active(connect: RunningConnect) -> int:
    """No call Connect made to Slack, nor any answer to a response_url, pings or spoofs; the
    number of texts scanned (so that a test can see it scanned something)."""
    scanned = 0
    for call in connect.slack.calls:
        if call.method in ("auth.test", "users.info", "conversations.info"):
            continue
        for text in _parsed_texts(call.params):
            scanned += 1
            assert not _active_tokens(text), (call.method, text)
    for body in connect.slack.responses():
        for text in _parsed_texts(body):
            scanned += 1
            assert not _active_tokens(text), ("response_url", text)
    return scanned


def mention(connect: RunningConnect, words: str) -> list[Any]:
    """`@Connect words` in #general; the bot's replies in its thread."""
    ts = next_ts()
    event = message_event(f"<@{BOT_USER}> {words}", ts=ts) | {"type": "app_mention"}
    send_event(connect, event)
    return list(
        wait_until(
            lambda: [
                c
                for c in connect.slack.calls_to("chat.postMessage")
                + connect.slack.calls_to("chat.postEphemeral")
                if c.params.get("thread_ts") == ts
            ]
        )
    )


def ask(connect: RunningConnect, text: str, **fields: str) -> dict[str, Any]:
    """`/jira text`: the answer in the ack (checked here) or else through the response_url."""
    ack, response_url = connect.slash(text, **fields)
    assert ack.status_code == 200
    if ack.text:
        answer = dict(ack.json())
        for parsed in _parsed_texts(answer):
            assert not _active_tokens(parsed), ("ack", parsed)
        return answer
    return wait_for_response(connect, response_url)


# -- what a person typed, and Jira's words about it -------------------------------------------


def test_a_mentioned_subscribe_with_a_hostile_filter_pings_nobody(team: RunningConnect) -> None:
    (reply,) = mention(team, f'subscribe status = "{TYPED}"')
    assert "Jira can't use that filter" in reply.params["text"]
    assert "re-authenticate" in reply.params["text"]  # shown, as text
    assert assert_nothing_active(team)


def test_mentioned_search_show_and_assign_ping_nobody(team: RunningConnect) -> None:
    mention(team, f'search status = "{TYPED}"')  # Jira's error quotes the value
    mention(team, "show OPS-4")  # a hostile summary, assignee name
    mention(team, "assign OPS-1 <!channel>")  # someone typed @channel as the argument
    mention(team, f"move OPS-1 {TYPED}")  # a status nobody has
    assert assert_nothing_active(team)


def test_slash_commands_echo_typed_text_and_fields_inertly(team: RunningConnect) -> None:
    ask(team, "search <!channel> session expired")  # should_escape: @channel arrives like so
    ask(team, "search summary ~ session")
    ask(team, "show OPS-4")
    ask(team, "subscribe <!channel>")
    ask(team, f"settings previews {TYPED}")
    ask(team, f"unsubscribe {TYPED}")
    ask(team, "<!channel>")  # not a command
    assert assert_nothing_active(team)


# -- issue fields wherever they are shown -----------------------------------------------------


def test_previews_cards_and_home_show_hostile_fields_inertly(team: RunningConnect) -> None:
    send_event(team, message_event("Is OPS-4 real?"))
    wait_until(lambda: team.slack.calls_to("chat.postMessage"))
    send_event(team, {"type": "app_home_opened", "user": "U0ALICE", "tab": "home"})
    wait_until(lambda: team.slack.calls_to("views.publish"))
    assert assert_nothing_active(team)


def test_a_linked_thread_hears_of_hostile_changes_inertly(team: RunningConnect) -> None:
    slack, jira = team.slack.slack, team.jira.jira
    parent = slack.add_message("C0GENERAL", "the certificates expire friday", user="U0ALICE")
    team.runtime.services.links.link_message(
        MessageRef(TEAM_ID, "C0GENERAL", parent.ts), "U0ALICE", "OPS-2"
    )
    issue = jira.get_issue("OPS-2")
    payload = {
        "timestamp": 1795670000000,
        "webhookEvent": "jira:issue_updated",
        "issue_event_type_name": "issue_generic",
        "user": user_json(jira.user("acc-mal"), cloud=True),
        "issue": issue_json(issue, cloud=True)
        | {"fields": issue_json(issue, cloud=True)["fields"] | {"summary": HOSTILE}},
        "changelog": {
            "id": "99001",
            "items": [
                {"field": "summary", "fromString": issue.summary, "toString": HOSTILE},
                {"field": "priority", "fromString": "Medium", "toString": HOSTILE},
            ],
        },
    }
    assert team.jira_webhook(payload).status_code == 200
    wait_until(lambda: len(slack.thread("C0GENERAL", parent.ts)) >= 2, what="a reply")
    (_, reply) = slack.thread("C0GENERAL", parent.ts)
    assert "renamed" in reply.text

    emitter = team.emit_jira_webhooks()
    try:  # Jira markup converted to mrkdwn: only Jira's own links may become links
        with jira.act_as("acc-mal"):
            jira.add_comment("OPS-2", f"{HOSTILE} {{{{<!here>}}}} [~accountid:acc-mal] *<@U0BOB>*")
        emitter.flush()
        wait_until(lambda: any("commented" in m.text for m in slack.thread("C0GENERAL", parent.ts)))
    finally:
        emitter.stop()
    assert assert_nothing_active(team)


# -- modals -----------------------------------------------------------------------------------


def test_jiras_field_errors_in_the_create_form_are_inert(team: RunningConnect) -> None:
    team.jira.jira.fail_next(
        JiraFieldErrors({"summary": HOSTILE}, [f"Rejected: {HOSTILE}"]), operation="create_issue"
    )
    assert team.interact(shortcut_payload("create_issue", "trig-hostile")).status_code == 200
    form = wait_for_view(team, is_form)
    values = form_values("OPS", option_value(form, "issue_type", "Task"), "Printer jams")
    assert team.interact(submission(form, values)).status_code == 200
    shown = wait_for_view(team, lambda v: v["id"] == form["id"] and "Rejected" in str(v))
    assert "re-authenticate" in json.dumps(shown)  # Jira's words are shown, as text
    assert assert_nothing_active(team)
