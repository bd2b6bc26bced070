"""Personal notifications over HTTP (SPEC §7): a person mapped to a Jira account is DMed when an
issue is assigned to them, when they are @mentioned (Cloud ADF, Cloud wiki, Data Center wiki),
and when an issue they reported or watch is commented on or changes status; never for their own
changes, never a restricted comment, one DM per change, as they chose with `/jira notify`."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from simulators.jira_site.webhooks import JiraWebhookEmitter, issue_json, user_json
from tests.e2e.conftest import RunningConnect, wait_settled
from tests.e2e.test_commands import wait_for_response
from tests.waiting import wait_until

TEAM = "T0TEAM"
CAROL_DM = "D0CAROL"  # the fake Slack's DM with U0CAROL


@pytest.fixture
def people(
    connect: RunningConnect,
) -> Iterator[tuple[RunningConnect, JiraWebhookEmitter, threading.Event]]:
    """Alice, Bob and Carol in Slack and in Jira, Carol mapped to her Jira account; Jira's
    changes arrive as Cloud webhooks, while the gate (set) lets them through. No issue is
    linked to any channel: DMs need none."""
    slack = connect.slack.slack
    for user, name, real in (
        ("U0ALICE", "alice", "Alice Adams"),
        ("U0BOB", "bob", "Bob Baker"),
        ("U0CAROL", "carol", "Carol Chen"),
    ):
        slack.add_user(user, name, real_name=real, email=f"{name}@example.com")
    slack.add_channel("C0GENERAL", "general", members=["U0ALICE", "U0BOB", "U0CAROL"])
    assert connect.runtime.services.users.connect(TEAM, "U0CAROL").connected
    gate = threading.Event()
    gate.set()

    def deliver(payload: dict[str, Any]) -> None:
        gate.wait(20)
        connect.jira_webhook(payload)

    emitter = JiraWebhookEmitter(connect.jira.jira, deliver, cloud=True).start()
    yield connect, emitter, gate
    gate.set()
    emitter.stop()


def dms(connect: RunningConnect, channel: str = CAROL_DM) -> list[Any]:
    return [m for m in connect.slack.slack.messages.get(channel, []) if m.user != "U0CAROL"]


def wait_for_dms(connect: RunningConnect, count: int, channel: str = CAROL_DM) -> list[Any]:
    return wait_until(
        lambda: found if len(found := dms(connect, channel)) >= count else None,
        what=f"{count} DM(s) in {channel}",
    )


def settled_dms(connect: RunningConnect, emitter: JiraWebhookEmitter) -> list[Any]:
    """Every change so far delivered and every notification sent: the DMs there will be."""
    emitter.flush()
    wait_settled(connect)
    return dms(connect)


def assign(connect: RunningConnect, key: str, who: str, *, by: str) -> None:
    with connect.jira.jira.act_as(by):
        connect.jira.jira.assign_issue(key, who)


def slash(connect: RunningConnect, text: str, user: str = "U0CAROL") -> dict[str, Any]:
    response, url = connect.slash(text, user=user)
    assert response.status_code == 200
    return wait_for_response(connect, url)


def action_ids(message: Any) -> list[str]:
    return [
        element.get("action_id", "")
        for block in message.blocks or []
        if block.get("type") == "actions"
        for element in block.get("elements", [])
    ]


def test_an_assignment_dms_the_assignee_with_the_cards_buttons(people) -> None:
    connect, _, _ = people
    assign(connect, "OPS-1", "acc-carol", by="alice@example.com")
    (dm,) = wait_for_dms(connect, 1)
    assert "Alice Adams" in dm.text and "assigned" in dm.text and "OPS-1" in dm.text
    assert "Carol Chen" in dm.text
    assert action_ids(dm), "the DM carries the card's buttons"
    context = json.dumps(dm.blocks)
    assert "you are assigned" in context and "/jira notify" in context
    assert dms(connect, "D0ALICE") == [] and dms(connect, "D0BOB") == []


def test_a_mention_in_a_cloud_adf_comment_dms_the_person(people) -> None:
    connect, _, _ = people
    issue = connect.jira.jira.get_issue("OPS-2")
    bob = connect.jira.jira.user("bob@example.com")
    adf = {
        "type": "doc",
        "version": 1,
        "content": [
            {
                "type": "paragraph",
                "content": [
                    {"type": "mention", "attrs": {"id": "acc-carol", "text": "@Carol Chen"}},
                    {"type": "text", "text": " can you renew the certificate?"},
                ],
            }
        ],
    }
    payload = {
        "timestamp": 1795670000000,
        "webhookEvent": "comment_created",
        "issue": issue_json(issue, cloud=True),
        "comment": {
            "id": "88001",
            "body": adf,
            "author": user_json(bob, cloud=True),
            "updateAuthor": user_json(bob, cloud=True),
            "created": "2026-12-07T10:00:00.000+0000",
            "updated": "2026-12-07T10:00:00.000+0000",
        },
    }
    assert connect.jira_webhook(payload).json()["status"] == "accepted"
    (dm,) = wait_for_dms(connect, 1)
    assert "Bob Baker" in dm.text and "commented on" in dm.text
    assert "can you renew the certificate?" in dm.text
    assert "you were mentioned" in json.dumps(dm.blocks)


def test_a_cloud_wiki_mention_made_in_jira_dms_the_person(people) -> None:
    connect, _, _ = people
    with connect.jira.jira.act_as("bob@example.com"):
        connect.jira.jira.add_comment("OPS-3", "[~accountid:acc-carol] please double-check")
    (dm,) = wait_for_dms(connect, 1)
    assert "please double-check" in dm.text and "OPS-3" in dm.text


def test_a_data_center_wiki_mention_dms_the_person(people) -> None:
    connect, _, _ = people
    issue = connect.jira.jira.get_issue("OPS-2")
    bob = connect.jira.jira.user("bob@example.com")
    payload = {  # Data Center: users by name, one issue_updated event for the comment
        "timestamp": 1795670000000,
        "webhookEvent": "jira:issue_updated",
        "issue_event_type_name": "issue_commented",
        "user": user_json(bob, cloud=False),
        "issue": issue_json(issue, cloud=False),
        "comment": {
            "id": "88002",
            "body": "Thanks [~acc-carol], the renewal is booked.",
            "author": user_json(bob, cloud=False),
            "updateAuthor": user_json(bob, cloud=False),
            "created": "2026-12-07T10:00:00.000+0000",
            "updated": "2026-12-07T10:00:00.000+0000",
        },
    }
    assert connect.jira_webhook(payload).json()["status"] == "accepted"
    (dm,) = wait_for_dms(connect, 1)
    assert "the renewal is booked" in dm.text and "Bob Baker" in dm.text


def test_a_description_that_now_mentions_someone_dms_them(people) -> None:
    connect, emitter, _ = people
    with connect.jira.jira.act_as("alice@example.com"):
        connect.jira.jira.update_issue("OPS-1", description="Owner: [~accountid:acc-carol]")
    (dm,) = wait_for_dms(connect, 1)
    assert "Alice Adams" in dm.text and "description" in dm.text and "OPS-1" in dm.text
    settled_dms(connect, emitter)
    assert connect.slack.slack.messages.get("C0GENERAL", []) == []  # a DM only


def test_the_reporter_and_watchers_are_dmed_when_they_chose_so(people) -> None:
    connect, emitter, _ = people
    answer = slash(connect, "notify assigned,mentions,reported,watching")
    assert "Done." in answer["text"] and "`assigned,mentions,reported,watching`" in answer["text"]
    jira = connect.jira.jira
    with jira.act_as("bob@example.com"):  # OPS-2 was reported by Carol
        jira.transition_issue("OPS-2", "11")
    (moved,) = wait_for_dms(connect, 1)
    assert "To Do → In Progress" in moved.text and "you reported it" in json.dumps(moved.blocks)
    jira.add_watcher("OPS-3", "carol@example.com")
    with jira.act_as("bob@example.com"):
        jira.add_comment("OPS-3", "Rolled back on the staging cluster.")
    _, watched = wait_for_dms(connect, 2)
    assert "Rolled back" in watched.text and "you watch it" in json.dumps(watched.blocks)
    with jira.act_as("bob@example.com"):  # a priority change is not news for a watcher
        jira.update_issue("OPS-3", priority="High")
    assert len(settled_dms(connect, emitter)) == 2


def test_watching_and_reporting_are_not_told_by_default(people) -> None:
    connect, emitter, _ = people
    jira = connect.jira.jira
    jira.add_watcher("OPS-3", "carol@example.com")
    with jira.act_as("bob@example.com"):
        jira.transition_issue("OPS-2", "11")  # Carol reported it
        jira.add_comment("OPS-3", "Nobody asked to hear this.")
    assert settled_dms(connect, emitter) == []
    assign(connect, "OPS-3", "acc-carol", by="bob@example.com")  # assigned: on by default
    (dm,) = wait_for_dms(connect, 1)
    assert "assigned" in dm.text and "Nobody asked" not in dm.text


def test_ones_own_changes_are_never_dmed(people) -> None:
    connect, emitter, gate = people
    assign(connect, "OPS-1", "acc-carol", by="carol@example.com")  # in Jira, as herself
    emitter.flush()
    # Through Connect: made with Connect's account and credited to Carol once Jira accepted
    # it. Its webhook is let through after that (a real Jira's takes longer than the note).
    gate.clear()
    answer = slash(connect, "assign OPS-3 me")
    assert "OPS-3" in answer["text"]
    gate.set()
    with connect.jira.jira.act_as("carol@example.com"):
        connect.jira.jira.add_comment("OPS-2", "Note to self [~accountid:acc-carol]")
    assert settled_dms(connect, emitter) == []
    assign(connect, "OPS-2", "acc-carol", by="alice@example.com")  # someone else's change
    (dm,) = wait_for_dms(connect, 1)
    assert "Alice Adams" in dm.text and "OPS-2" in dm.text


def test_preferences_are_shown_changed_and_respected(people) -> None:
    connect, emitter, _ = people
    shown = slash(connect, "notify")
    assert "`assigned,mentions`" in shown["text"]
    assert "Done." in slash(connect, "notify off")["text"]
    assert "nothing (`off`)" in slash(connect, "notify")["text"]
    assign(connect, "OPS-1", "acc-carol", by="alice@example.com")
    assert settled_dms(connect, emitter) == []
    refused = slash(connect, "notify assigned,everything")
    assert "Unknown notification kind" in refused["text"] and "everything" in refused["text"]
    slash(connect, "notify mentions")
    assign(connect, "OPS-2", "acc-carol", by="alice@example.com")  # not chosen: no DM
    assert settled_dms(connect, emitter) == []
    with connect.jira.jira.act_as("bob@example.com"):
        connect.jira.jira.add_comment("OPS-2", "[~accountid:acc-carol] over to you")
    (dm,) = wait_for_dms(connect, 1)
    assert "over to you" in dm.text
    assert len(settled_dms(connect, emitter)) == 1


def test_assigned_and_mentioned_by_one_change_is_one_dm(people) -> None:
    connect, emitter, _ = people
    with connect.jira.jira.act_as("alice@example.com"):
        created = connect.jira.jira.add_issue(
            "OPS",
            "Renew the wildcard certificate",
            assignee="acc-carol",
            description="[~accountid:acc-carol] yours, thanks",
        )
    (dm,) = wait_for_dms(connect, 1)
    assert created.key in dm.text and "created" in dm.text
    assert "you are assigned and you were mentioned" in json.dumps(dm.blocks)
    assert len(settled_dms(connect, emitter)) == 1


def test_a_restricted_comment_is_never_dmed(people) -> None:
    connect, emitter, _ = people
    with connect.jira.jira.act_as("bob@example.com"):
        connect.jira.jira.add_comment(
            "OPS-2",
            "[~accountid:acc-carol] the private key is in vault path x",
            visibility=("role", "Administrators"),
        )
    assert settled_dms(connect, emitter) == []
    with connect.jira.jira.act_as("bob@example.com"):
        connect.jira.jira.add_comment("OPS-2", "[~accountid:acc-carol] see the admin note")
    (dm,) = wait_for_dms(connect, 1)
    assert "see the admin note" in dm.text and "vault" not in dm.text


def test_app_home_switches_choose_what_is_dmed(people) -> None:
    connect, emitter, _ = people
    response = connect.post_slack(
        b"payload="
        + json.dumps(
            {
                "type": "block_actions",
                "team": {"id": TEAM},
                "user": {"id": "U0CAROL"},
                "api_app_id": "A0CONNECT",
                "trigger_id": "1.2.3",
                "view": {"id": "V0HOME", "type": "home"},
                "actions": [
                    {
                        "type": "checkboxes",
                        "action_id": "home_notify",
                        "block_id": "home_notify_switches",
                        "selected_options": [{"value": "watching"}],
                    }
                ],
            }
        ).encode()
    )
    assert response.status_code == 200
    home = wait_until(lambda: connect.slack.views.home.get("U0CAROL"), what="App Home published")
    switches = next(
        element
        for block in home["blocks"]
        if block.get("type") == "actions"
        for element in block["elements"]
        if element.get("action_id") == "home_notify"
    )
    assert [o["value"] for o in switches["initial_options"]] == ["watching"]
    assert "`watching`" in slash(connect, "notify")["text"]
    assign(connect, "OPS-1", "acc-carol", by="alice@example.com")  # assigned is off now
    assert settled_dms(connect, emitter) == []


def test_a_security_level_issue_is_dmed_without_its_summary(people) -> None:
    connect, _, _ = people
    jira = connect.jira.jira
    jira.update_issue("OPS-2", security="Confidential")  # Jira sends no webhook for it
    summary = jira.get_issue("OPS-2").summary
    assign(connect, "OPS-2", "acc-carol", by="alice@example.com")
    (dm,) = wait_for_dms(connect, 1)
    assert "OPS-2" in dm.text and "assigned" in dm.text
    assert summary not in dm.text and summary not in json.dumps(dm.blocks)
    assert "restricted" in json.dumps(dm.blocks)
