"""The buttons on issue cards: Assign to me, Transition, Comment, through signed requests."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.e2e.conftest import RunningConnect
from tests.e2e.slack_events import (
    TEAM_ID,
    block_action,
    card_button,
    message_event,
    next_ts,
    posts,
    send_event,
    settle,
)
from tests.e2e.test_commands import wait_for_response
from tests.waiting import wait_until


@pytest.fixture
def team(connect: RunningConnect) -> RunningConnect:
    slack = connect.slack.slack
    # Mapped by e-mail to the fake Jira's users alice, bob and carol.
    slack.add_user("U0ALICE", "alice", real_name="Alice Adams", email="alice@example.com")
    slack.add_user("U0BOB", "bob", real_name="Bob Baker", email="bob@example.com")
    slack.add_user("U0CAROL", "carol", real_name="Carol Chen", email="carol@example.com")
    slack.add_user("U0DAVE", "dave", real_name="Dave Doe", email="dave@elsewhere.com")
    slack.add_channel("C0GENERAL", "general", members=["U0ALICE", "U0BOB", "U0CAROL", "U0DAVE"])
    return connect


def preview_of(connect: RunningConnect, text: str) -> dict[str, Any]:
    """A person names a key; the preview Connect posted in the thread, as Slack stores it."""
    ts = next_ts()
    send_event(connect, message_event(text, ts=ts, user="U0CAROL"))
    params = wait_until(lambda: posts(connect))[-1]
    stored = wait_until(lambda: list(connect.slack.slack.thread("C0GENERAL", ts)))
    message = next(m for m in stored if m.user == "UCONNECTBOT")
    return {"ts": message.ts, "thread_ts": ts, "text": params["text"], "blocks": params["blocks"]}


def click(
    connect: RunningConnect,
    message: dict[str, Any],
    action_id: str,
    *,
    user: str = "U0BOB",
    **extra: Any,
) -> str:
    button = {**card_button(message["blocks"], action_id), **extra}
    response_url = connect.slack.response_url()
    payload = block_action(button, user=user, message=message, response_url=response_url)
    assert connect.interact(payload).status_code == 200
    return response_url


def updated_blocks(connect: RunningConnect) -> str:
    call = connect.slack.wait_for("chat.update")
    assert call.params["channel"] == "C0GENERAL"
    return json.dumps(call.params["blocks"])


def test_assign_to_me_assigns_the_clicking_users_jira_account(team: RunningConnect) -> None:
    preview = preview_of(team, "who takes OPS-2?")
    click(team, preview, "card_assign_me", user="U0BOB")
    blocks = updated_blocks(team)
    assert team.jira.jira.get_issue("OPS-2").assignee.account_id == "acc-bob"
    assert "Bob Baker" in blocks and "<@U0BOB> assigned this" in blocks
    assert "card_assign_me" in blocks  # still a card with its buttons, in place
    update = team.slack.calls_to("chat.update")[0].params
    assert update["ts"] == preview["ts"]


def test_someone_without_a_jira_account_is_asked_to_connect(team: RunningConnect) -> None:
    preview = preview_of(team, "OPS-2 please")
    response_url = click(team, preview, "card_assign_me", user="U0DAVE")
    answer = wait_for_response(team, response_url)
    assert "/jira connect" in answer["text"] and answer["replace_original"] is False
    assert team.jira.jira.get_issue("OPS-2").assignee is None


def test_transition_options_come_from_jira_and_picking_one_moves_the_issue(
    team: RunningConnect,
) -> None:
    preview = preview_of(team, "OPS-2 status?")
    select = card_button(preview["blocks"], "card_transition")
    assert select["type"] == "external_select"
    suggestion = {
        "type": "block_suggestion",
        "user": {"id": "U0ALICE", "team_id": TEAM_ID},
        "team": {"id": TEAM_ID, "domain": "acme"},
        "api_app_id": "A0CONNECT",
        "token": "deprecated",
        "container": {"type": "message", "message_ts": preview["ts"], "channel_id": "C0GENERAL"},
        "action_id": "card_transition",
        "block_id": select["block_id"],
        "value": "",
    }
    response = team.interact(suggestion)
    assert response.status_code == 200
    options = response.json()["options"]
    progress = next(o for o in options if "In Progress" in o["text"]["text"])
    click(team, preview, "card_transition", user="U0ALICE", selected_option=progress)
    blocks = updated_blocks(team)
    assert team.jira.jira.get_issue("OPS-2").status == "In Progress"
    assert "In Progress" in blocks and "<@U0ALICE> moved this To Do" in blocks


def test_transition_options_of_a_restricted_or_unknown_key_are_empty(
    team: RunningConnect,
) -> None:
    suggestion = {
        "type": "block_suggestion",
        "user": {"id": "U0ALICE"},
        "team": {"id": TEAM_ID},
        "action_id": "card_transition",
        "block_id": "card:OPS-999:actions",
        "value": "",
    }
    response = team.interact(suggestion)
    assert response.status_code == 200 and response.json()["options"] == []


def test_comment_opens_a_modal_and_adds_the_comment_credited(team: RunningConnect) -> None:
    preview = preview_of(team, "OPS-1 needs a note")
    click(team, preview, "card_comment", user="U0ALICE")
    opened = team.slack.wait_for("views.open")
    view = opened.answer["view"]
    assert view["callback_id"] == "card_comment"
    assert [b["label"]["text"] for b in view["blocks"] if b["type"] == "input"] == ["Comment"]
    submission = {
        "type": "view_submission",
        "team": {"id": TEAM_ID, "domain": "acme"},
        "user": {"id": "U0ALICE", "team_id": TEAM_ID},
        "api_app_id": "A0CONNECT",
        "trigger_id": "1.2.submit",
        "view": {
            **view,
            "state": {
                "values": {
                    "comment": {
                        "comment": {"type": "plain_text_input", "value": "Replica is *back*"}
                    }
                }
            },
        },
    }
    response = team.interact(submission)
    assert response.status_code == 200 and response.json()["response_action"] == "update"
    body = wait_until(lambda: [c.body for c in team.jira.jira.comments("OPS-1")][-1:])[0]
    assert "Replica is *back*" in body and body.endswith("— Alice Adams via Slack")
    done = team.slack.wait_for(
        "views.update", lambda c: "Added your comment" in json.dumps(c.params)
    )
    assert done.params["view_id"] == view["id"]
    # A double submit adds one comment.
    team.interact(submission)
    settle(team)
    assert len([c for c in team.jira.jira.comments("OPS-1") if "Replica" in c.body]) == 1


def test_comment_by_someone_without_a_jira_account_says_so_in_the_modal(
    team: RunningConnect,
) -> None:
    preview = preview_of(team, "OPS-1 from dave")
    click(team, preview, "card_comment", user="U0DAVE")
    view = team.slack.wait_for("views.open").answer["view"]
    notice = team.slack.wait_for("views.update", lambda c: "/jira connect" in json.dumps(c.params))
    assert notice.params["external_id"] == view["external_id"]
    shown = team.slack.views.by_id[view["id"]]  # the same modal, now a notice without Submit
    assert shown["submit"] is None and "I don't know your Jira account" in json.dumps(shown)


def test_an_empty_comment_is_refused_in_the_modal(team: RunningConnect) -> None:
    preview = preview_of(team, "OPS-1 again")
    click(team, preview, "card_comment", user="U0ALICE")
    view = team.slack.wait_for("views.open").answer["view"]
    submission = {
        "type": "view_submission",
        "team": {"id": TEAM_ID},
        "user": {"id": "U0ALICE"},
        "view": {**view, "state": {"values": {"comment": {"comment": {"value": "  "}}}}},
    }
    answer = team.interact(submission).json()
    assert answer["response_action"] == "errors" and "comment" in answer["errors"]


def test_assign_on_an_ephemeral_show_card_replaces_it(team: RunningConnect) -> None:
    _, shown = team.slash("show OPS-2", user="U0CAROL")
    card = wait_for_response(team, shown)
    button = card_button(card["blocks"], "card_assign_me")
    response_url = team.slack.response_url()
    payload = block_action(button, user="U0CAROL", response_url=response_url, ephemeral=True)
    assert team.interact(payload).status_code == 200
    answer = wait_for_response(team, response_url)
    assert answer["replace_original"] is True
    assert "Carol Chen" in json.dumps(answer["blocks"])
    assert team.jira.jira.get_issue("OPS-2").assignee.account_id == "acc-carol"


def test_a_notification_carries_the_card_buttons_and_assign_updates_it(
    team: RunningConnect,
) -> None:
    from services.issues.links import MessageRef

    parent = team.slack.slack.add_message("C0GENERAL", "certs expire friday", user="U0ALICE")
    team.runtime.services.links.link_message(
        MessageRef("T0TEAM", "C0GENERAL", parent.ts), "U0ALICE", "OPS-2"
    )
    emitter = team.emit_jira_webhooks()
    try:
        with team.jira.jira.act_as("carol@example.com"):
            team.jira.jira.add_comment("OPS-2", "renewing now")
        emitter.flush()
        notice = wait_until(
            lambda: [
                m
                for m in team.slack.slack.thread("C0GENERAL", parent.ts)
                if m.user == "UCONNECTBOT" and "renewing now" in m.text
            ]
        )[0]
    finally:
        emitter.stop()
    message = {
        "ts": notice.ts,
        "thread_ts": parent.ts,
        "text": notice.text,
        "blocks": notice.blocks,
    }
    click(team, message, "card_assign_me", user="U0BOB")
    blocks = updated_blocks(team)
    assert team.jira.jira.get_issue("OPS-2").assignee.account_id == "acc-bob"
    assert "renewing now" in blocks and "Bob Baker" in blocks  # the news stays, the card updates


def test_assign_on_a_card_inside_a_modal_updates_the_modal(team: RunningConnect) -> None:
    preview = preview_of(team, "OPS-2 in a modal")
    card = [b for b in preview["blocks"] if b.get("type") != "context"]
    modal = {"type": "modal", "title": {"type": "plain_text", "text": "Issue"}, "blocks": card}
    opened = team.slack.views.open({"trigger_id": "trig-card", "view": modal}, pushed=False)["view"]
    button = card_button(card, "card_assign_me")
    payload = block_action(button, user="U0BOB", response_url=team.slack.response_url())
    del payload["response_url"]  # Slack sends none for a modal's buttons
    payload["container"] = {"type": "view", "view_id": opened["id"]}
    payload["view"] = opened
    assert team.interact(payload).status_code == 200
    update = team.slack.wait_for("views.update")
    assert update.params["view_id"] == opened["id"] and update.params["hash"] == opened["hash"]
    assert "Bob Baker" in json.dumps(team.slack.views.by_id[opened["id"]]["blocks"])
    assert team.jira.jira.get_issue("OPS-2").assignee.account_id == "acc-bob"
