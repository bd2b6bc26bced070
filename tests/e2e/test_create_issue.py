"""Creating issues through the modal, the way Slack drives it: open, fill, submit."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.e2e.conftest import RunningConnect, wait_quiet
from tests.waiting import wait_until


@pytest.fixture
def team(connect: RunningConnect) -> RunningConnect:
    slack = connect.slack.slack
    slack.add_user("U0ALICE", "alice", real_name="Alice Adams", email="alice@example.com")
    slack.add_user("U0BOB", "bob", real_name="Bob Baker", email="bob@example.com")
    slack.add_channel("C0GENERAL", "general", members=["U0ALICE", "U0BOB"])
    slack.add_channel("G0SECRET", "secret", members=["U0ALICE"], is_private=True)
    slack.add_channel("C0NOBOT", "nobot", members=["U0ALICE", "U0BOB"], bot_is_member=False)
    return connect


def wait_for_view(connect: RunningConnect, predicate: Any, timeout: float = 10) -> dict[str, Any]:
    return wait_until(
        lambda: next((v for v in list(connect.slack.views.by_id.values()) if predicate(v)), None),
        timeout=timeout,
        what="such a view",
    )


def block_ids(view: dict[str, Any]) -> list[str]:
    return [block.get("block_id", "") for block in view["blocks"]]


def is_form(view: dict[str, Any]) -> bool:
    return "summary" in block_ids(view)


def shortcut_payload(callback_id: str, trigger: str, **extra: Any) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "type": "shortcut",
        "callback_id": callback_id,
        "trigger_id": trigger,
        "team": {"id": "T0TEAM", "domain": "acme"},
        "user": {"id": "U0ALICE", "username": "alice", "team_id": "T0TEAM"},
        "api_app_id": "A0CONNECT",
        "token": "x",
        "action_ts": "1.2",
        "is_enterprise_install": False,
    }
    payload.update(extra)
    return payload


def message_shortcut(
    connect: RunningConnect, channel: str, text: str, trigger: str
) -> tuple[dict[str, Any], str]:
    posted = connect.slack.slack.add_message(channel, text, user="U0BOB")
    payload = shortcut_payload(
        "create_issue_from_message",
        trigger,
        type="message_action",
        channel={"id": channel, "name": "general"},
        message={"type": "message", "user": "U0BOB", "ts": posted.ts, "text": text},
        message_ts=posted.ts,
        response_url=connect.slack.response_url(),
    )
    return payload, posted.ts


def submission(view: dict[str, Any], values: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "view_submission",
        "team": {"id": "T0TEAM", "domain": "acme"},
        "user": {"id": "U0ALICE", "team_id": "T0TEAM"},
        "api_app_id": "A0CONNECT",
        "view": {**view, "state": {"values": values}},
    }


def form_values(project: str, type_id: str, summary: str, **more: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "project": {
            "create_project": {"type": "static_select", "selected_option": {"value": project}}
        },
        "issue_type": {
            "create_issue_type": {"type": "static_select", "selected_option": {"value": type_id}}
        },
        "summary": {"summary": {"type": "plain_text_input", "value": summary}},
        "description": {
            "description": {"type": "plain_text_input", "value": more.pop("description", None)}
        },
        "priority": {"priority": {"type": "static_select", "selected_option": None}},
        "assignee": {
            "assignee": {"type": "users_select", "selected_user": more.pop("assignee", None)}
        },
    }
    values.update(more)
    return values


def option_value(view: dict[str, Any], block_id: str, label: str) -> str:
    block = next(b for b in view["blocks"] if b.get("block_id") == block_id)
    return next(o["value"] for o in block["element"]["options"] if o["text"]["text"] == label)


def test_global_shortcut_opens_at_once_then_fills_and_creates(team: RunningConnect) -> None:
    response = team.interact(shortcut_payload("create_issue", "trig-global"))
    assert response.status_code == 200
    opened = team.slack.wait_for("views.open")
    assert "Loading" in str(opened.params["view"])
    form = wait_for_view(team, is_form)
    labels = [block["label"]["text"] for block in form["blocks"] if block["type"] == "input"]
    assert labels[:6] == ["Project", "Issue type", "Summary", "Description", "Priority", "Assignee"]
    task = option_value(form, "issue_type", "Task")
    values = form_values(
        "OPS", task, "Printer on 3rd floor jams", description="Every *morning*.", assignee="U0BOB"
    )
    answer = team.interact(submission(form, values))
    assert answer.json()["response_action"] == "update"
    created = wait_for_view(team, lambda v: "Created" in str(v["blocks"]) and v["id"] == form["id"])
    key = next(
        issue.key
        for issue in team.jira.jira.search_all("project = OPS")
        if "Printer" in issue.summary
    )
    assert key in str(created["blocks"])
    issue = team.jira.jira.get_issue(key)
    assert issue.assignee is not None and issue.assignee.account_id == "acc-bob"
    assert "Every *morning*." in (issue.description or "")
    assert "Created by Alice Adams via Slack" in (issue.description or "")
    dm = team.slack.wait_for("chat.postMessage", lambda call: key in str(call.params.get("blocks")))
    assert dm.params["channel"].startswith("D")


def test_once_jiras_answers_are_kept_a_global_shortcut_opens_with_the_form(
    team: RunningConnect,
) -> None:
    team.interact(shortcut_payload("create_issue", "trig-cold"))
    first = wait_for_view(team, is_form)  # opened loading, then filled in after asking Jira
    asked_jira = len(team.jira.jira.calls)
    team.slack.reset_calls()
    team.interact(shortcut_payload("create_issue", "trig-warm"))
    opened = team.slack.wait_for(
        "views.open", lambda call: call.params["trigger_id"] == "trig-warm"
    )
    view = opened.params["view"]
    view = json.loads(view) if isinstance(view, str) else view
    assert is_form(view)  # the form itself: no loading view, nothing to update
    assert block_ids(view) == block_ids(first)
    wait_quiet(team)
    assert [call.method for call in team.slack.calls] == ["views.open"]
    assert len(team.jira.jira.calls) == asked_jira
    # It is the same form as ever: a project picked, a submission creates.
    form = wait_for_view(team, lambda v: is_form(v) and v["id"] != first["id"])
    values = form_values("OPS", option_value(form, "issue_type", "Task"), "Opened warm")
    assert team.interact(submission(form, values)).json()["response_action"] == "update"
    wait_for_view(team, lambda v: "Created" in str(v["blocks"]) and v["id"] == form["id"])


def test_a_message_shortcut_reads_its_message_even_when_the_form_is_kept(
    team: RunningConnect,
) -> None:
    team.interact(shortcut_payload("create_issue", "trig-warm-up"))
    wait_for_view(team, is_form)
    payload, _ts = message_shortcut(team, "C0GENERAL", "Disk full on db-3", "trig-message")
    team.interact(payload)
    opened = team.slack.wait_for(
        "views.open", lambda call: call.params["trigger_id"] == "trig-message"
    )
    assert "Loading" in str(opened.params["view"])
    filled = wait_for_view(team, lambda v: is_form(v) and "Disk full on db-3" in str(v))
    assert filled


def test_the_same_submission_twice_creates_one_issue(team: RunningConnect) -> None:
    team.interact(shortcut_payload("create_issue", "trig-twice"))
    form = wait_for_view(team, is_form)
    payload = submission(
        form, form_values("OPS", option_value(form, "issue_type", "Task"), "Only once please")
    )
    assert team.interact(payload).status_code == 200
    assert team.interact(payload).status_code == 200
    wait_for_view(team, lambda v: "Created" in str(v["blocks"]))
    wait_quiet(team)
    assert (
        len(
            [
                i
                for i in team.jira.jira.search_all("project = OPS")
                if i.summary == "Only once please"
            ]
        )
        == 1
    )


def test_empty_summary_is_refused_on_the_field(team: RunningConnect) -> None:
    team.interact(shortcut_payload("create_issue", "trig-empty"))
    form = wait_for_view(team, is_form)
    answer = team.interact(
        submission(form, form_values("OPS", option_value(form, "issue_type", "Task"), "  "))
    )
    assert answer.json() == {
        "response_action": "errors",
        "errors": {"summary": "Give the issue a summary."},
    }


def test_required_custom_fields_are_rendered_and_jira_errors_land_on_them(
    team: RunningConnect,
) -> None:
    team.interact(shortcut_payload("create_issue", "trig-web"))
    form = wait_for_view(team, is_form)
    bug = option_value(form, "issue_type", "Bug")
    change = {
        "type": "block_actions",
        "team": {"id": "T0TEAM"},
        "user": {"id": "U0ALICE"},
        "view": {**form, "state": {"values": form_values("WEB", bug, "Broken logo")}},
        "actions": [
            {
                "action_id": "create_issue_type",
                "block_id": "issue_type",
                "type": "static_select",
                "selected_option": {"value": bug},
            }
        ],
        "trigger_id": "x",
    }
    assert team.interact(change).status_code == 200
    web_form = wait_for_view(team, lambda v: any(b.startswith("extra:") for b in block_ids(v)))
    extra = next(b for b in web_form["blocks"] if b.get("block_id", "").startswith("extra:"))
    assert extra["label"]["text"] == "Severity"
    assert not extra["optional"]
    # Submit without it (as if Slack let it through): Jira's error shows on that field.
    values = form_values("WEB", bug, "Broken logo", description="kept")
    team.interact(submission(web_form, values))
    again = wait_for_view(
        team,
        lambda v: (
            "Severity" in str(v["blocks"])
            and ":warning:" in str(v["blocks"])
            and v["id"] == web_form["id"]
        ),
    )
    ids = block_ids(again)
    warning_index = next(
        i
        for i, b in enumerate(again["blocks"])
        if ":warning:" in str(b)
        and b["type"] == "context"
        and i > 0
        and ids[i - 1].startswith("extra:")
    )
    assert warning_index > 0
    summary_block = next(b for b in again["blocks"] if b.get("block_id") == "summary")
    assert summary_block["element"]["initial_value"] == "Broken logo"


def test_message_shortcut_prefills_creates_links_and_replies_in_the_thread(
    team: RunningConnect,
) -> None:
    payload, ts = message_shortcut(
        team,
        "C0GENERAL",
        "Checkout page 500s for <@U0ALICE>\nSince the deploy at 10:00",
        "trig-msg",
    )
    team.interact(payload)
    form = wait_for_view(team, is_form)
    summary = next(b for b in form["blocks"] if b.get("block_id") == "summary")
    assert summary["element"]["initial_value"] == "Checkout page 500s for @Alice Adams"
    description = next(b for b in form["blocks"] if b.get("block_id") == "description")
    assert "Since the deploy at 10:00" in description["element"]["initial_value"]
    values = form_values(
        "OPS",
        option_value(form, "issue_type", "Bug"),
        summary["element"]["initial_value"],
        description=description["element"]["initial_value"],
    )
    team.interact(submission(form, values))
    reply = team.slack.wait_for("chat.postMessage", lambda call: call.params.get("thread_ts") == ts)
    key = next(
        i.key
        for i in team.jira.jira.search_all("project = OPS")
        if i.summary.startswith("Checkout page")
    )
    assert key in str(reply.params["blocks"])
    issue = team.jira.jira.get_issue(key)
    assert "Since the deploy at 10:00" in (issue.description or "")
    assert "by Bob Baker" in (issue.description or "")
    links = team.jira.jira.remote_links(key)
    assert len(links) == 1 and ts.replace(".", "") in links[0].url


def test_from_a_public_channel_without_the_bot_the_creator_is_told_in_a_dm(
    team: RunningConnect,
) -> None:
    payload, ts = message_shortcut(team, "C0NOBOT", "Search is slow", "trig-nobot")
    team.interact(payload)
    form = wait_for_view(team, is_form)
    values = form_values("OPS", option_value(form, "issue_type", "Bug"), "Search is slow")
    team.interact(submission(form, values))
    dm = team.slack.wait_for("chat.postMessage", lambda call: call.params["channel"] == "D0ALICE")
    (key,) = [i.key for i in team.jira.jira.search_all('summary ~ "Search is slow"')]
    assert "Created" in dm.params["text"] and key in dm.params["text"]
    assert "invite me with `/invite @Connect`" in dm.params["text"]
    assert key in json.dumps(dm.params["blocks"])  # the card comes along
    assert team.slack.slack.thread("C0NOBOT", ts)[1:] == []
    assert team.runtime.services.links.channel_links("T0TEAM", "C0NOBOT") == []
    assert team.jira.jira.remote_links(key) == []


def test_private_sources_carry_a_visibility_notice(team: RunningConnect) -> None:
    payload, _ = message_shortcut(team, "G0SECRET", "salary numbers", "trig-private")
    team.interact(payload)
    form = wait_for_view(team, is_form)
    assert "visible to everyone who can see the Jira issue" in str(form["blocks"])


def test_slash_create_prefills_project_and_summary(team: RunningConnect) -> None:
    response, _ = team.slash("create WEB Fix the footer", trigger_id="trig-cmd")
    assert response.status_code == 200
    form = wait_for_view(team, is_form)
    project = next(b for b in form["blocks"] if b.get("block_id") == "project")
    assert project["element"]["initial_option"]["value"] == "WEB"
    summary = next(b for b in form["blocks"] if b.get("block_id") == "summary")
    assert summary["element"]["initial_value"] == "Fix the footer"


def test_slash_create_without_a_project_word_keeps_every_word(team: RunningConnect) -> None:
    team.slash("create Printer is on fire", trigger_id="trig-cmd2")
    form = wait_for_view(team, is_form)
    summary = next(b for b in form["blocks"] if b.get("block_id") == "summary")
    assert summary["element"]["initial_value"] == "Printer is on fire"


def test_jira_down_while_loading_says_so_in_the_modal(team: RunningConnect) -> None:
    team.jira.fail_next(503, times=50)
    team.interact(shortcut_payload("create_issue", "trig-down"))
    wait_for_view(team, lambda v: "Jira is not reachable" in str(v["blocks"]), timeout=20)
