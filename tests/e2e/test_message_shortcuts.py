"""Linking a message to an issue, adding it as a comment, and the issue picker, end to end."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from bot.container import build_bolt_app, build_runtime, build_web_app
from bot.server import WebServer
from simulators.jira_site.server import FakeJiraServer
from simulators.slack_workspace.server import FakeSlackServer
from tests.e2e.conftest import RunningConnect, connect_settings, wait_quiet
from tests.waiting import wait_until

TEAM = {"id": "T0TEAM", "domain": "acme"}
ALICE = {"id": "U0ALICE", "username": "alice", "name": "alice", "team_id": "T0TEAM"}
INVITE = "invite me with `/invite @Connect`"


@pytest.fixture
def team(connect: RunningConnect) -> RunningConnect:
    slack = connect.slack.slack
    slack.add_user("U0ALICE", "alice", real_name="Alice Adams", email="alice@example.com")
    slack.add_user("U0BOB", "bob", real_name="Bob Baker", email="bob@example.com")
    slack.add_channel("C0GENERAL", "general", members=["U0ALICE", "U0BOB"])
    slack.add_channel("G0SECRET", "secret", members=["U0ALICE", "U0BOB"], is_private=True)
    slack.add_channel("C0NOBOT", "nobot", members=["U0ALICE", "U0BOB"], bot_is_member=False)
    return connect


# -- payloads, as Slack sends them ---------------------------------------------------------------


def message_action(
    callback_id: str,
    trigger: str,
    *,
    channel: dict[str, Any],
    message: dict[str, Any],
    response_url: str,
) -> dict[str, Any]:
    return {
        "type": "message_action",
        "token": "deprecated",
        "action_ts": "1700000000.000100",
        "team": TEAM,
        "user": ALICE,
        "channel": channel,
        "is_enterprise_install": False,
        "enterprise": None,
        "callback_id": callback_id,
        "trigger_id": trigger,
        "response_url": response_url,
        "message_ts": message["ts"],
        "message": message,
    }


def shortcut_on(
    connect: RunningConnect,
    callback_id: str,
    channel_id: str,
    text: str,
    *,
    trigger: str,
    channel_name: str | None = "general",
    author: str = "U0BOB",
    thread_ts: str | None = None,
) -> tuple[dict[str, Any], str]:
    """A message Bob wrote (stored in the fake Slack), and the shortcut payload on it."""
    posted = connect.slack.slack.add_message(channel_id, text, user=author, thread_ts=thread_ts)
    message: dict[str, Any] = {"type": "message", "user": author, "ts": posted.ts, "text": text}
    if thread_ts:
        message["thread_ts"] = thread_ts
    channel = {"id": channel_id} | ({"name": channel_name} if channel_name else {})
    payload = message_action(
        callback_id,
        trigger,
        channel=channel,
        message=message,
        response_url=connect.slack.response_url(),
    )
    return payload, posted.ts


def picked(view: dict[str, Any], key: str | None) -> dict[str, Any]:
    option = {"text": {"type": "plain_text", "text": f"{key} · …"}, "value": key} if key else None
    return {
        "type": "view_submission",
        "team": TEAM,
        "user": ALICE,
        "api_app_id": "A0CONNECT",
        "token": "deprecated",
        "trigger_id": "1700000000.1.submit",
        "view": {
            **view,
            "state": {
                "values": {
                    "issue": {
                        "issue_picker": {"type": "external_select", "selected_option": option}
                    }
                }
            },
        },
        "response_urls": [],
        "is_enterprise_install": False,
        "enterprise": None,
    }


def suggestion(value: str, view: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "type": "block_suggestion",
        "user": ALICE,
        "container": {"type": "view", "view_id": (view or {}).get("id", "V0")},
        "api_app_id": "A0CONNECT",
        "token": "deprecated",
        "action_id": "issue_picker",
        "block_id": "issue",
        "value": value,
        "team": TEAM,
        "enterprise": None,
        "is_enterprise_install": False,
        "view": view or {"id": "V0", "type": "modal", "callback_id": "link_message_modal"},
    }


# -- helpers ------------------------------------------------------------------------------------


def open_modal(connect: RunningConnect, payload: dict[str, Any]) -> dict[str, Any]:
    """Use the shortcut; the modal it opened, as Slack stores it (with id and hash)."""
    assert connect.interact(payload).status_code == 200
    trigger = payload["trigger_id"]
    opened = connect.slack.wait_for("views.open", lambda c: c.params["trigger_id"] == trigger)
    return dict(opened.answer["view"])


def current(connect: RunningConnect, view: dict[str, Any]) -> dict[str, Any]:
    return connect.slack.views.by_id[view["id"]]


def options(connect: RunningConnect, value: str) -> list[dict[str, Any]]:
    response = connect.interact(suggestion(value))
    assert response.status_code == 200
    return list(response.json()["options"])


def thread_replies(connect: RunningConnect, channel: str, ts: str) -> list[Any]:
    return [m for m in connect.slack.slack.thread(channel, ts) if m.ts != ts]


def told(connect: RunningConnect, user: str = "U0ALICE", timeout: float = 10) -> str:
    """What Connect told the user alone: an ephemeral, or else a DM."""

    def latest() -> str | None:
        slack = connect.slack.slack
        ephemerals = [e.text for e in slack.ephemerals if e.user == user]
        dms = [m.text for m in slack.messages.get("D" + user[1:], [])]
        return (ephemerals + dms or [None])[-1]

    return str(wait_until(latest, timeout=timeout))


@contextmanager
def running_with(
    fake_slack: FakeSlackServer, fake_jira: FakeJiraServer, database: Path, **settings: Any
) -> Iterator[RunningConnect]:
    runtime = build_runtime(connect_settings(fake_slack, fake_jira, database, **settings))
    server = WebServer(build_web_app(runtime, build_bolt_app(runtime)), host="127.0.0.1", port=0)
    threading.Thread(target=server.run, daemon=True).start()
    try:
        yield RunningConnect(server.url, runtime, fake_slack, fake_jira)
    finally:
        server.close()
        runtime.close()


# -- the link shortcut ---------------------------------------------------------------------------


def test_link_shortcut_opens_the_picker_modal_with_its_trigger(team: RunningConnect) -> None:
    payload, ts = shortcut_on(
        team, "link_message_to_issue", "C0GENERAL", "Backups failing again", trigger="trig-open"
    )
    response = team.interact(payload)
    assert response.status_code == 200
    assert response.text == ""
    opened = team.slack.wait_for("views.open")
    assert opened.params["trigger_id"] == "trig-open"
    view = opened.params["view"]
    assert view["callback_id"] == "link_message_modal"
    assert view["title"]["text"] == "Link to Jira issue"
    (picker,) = [b for b in view["blocks"] if b["type"] == "input"]
    assert picker["block_id"] == "issue" and picker["label"]["text"] == "Issue"
    assert picker["element"]["type"] == "external_select"
    assert picker["element"]["action_id"] == "issue_picker"
    assert picker["element"]["min_query_length"] == 1
    assert picker["element"]["placeholder"]["text"] == "Type a key or words"
    source = json.loads(view["private_metadata"])
    assert source["channel_id"] == "C0GENERAL" and source["message_ts"] == ts
    assert source["team_id"] == "T0TEAM" and source["author_id"] == "U0BOB"


def test_picker_offers_the_typed_key(team: RunningConnect) -> None:
    expected = [
        {
            "text": {
                "type": "plain_text",
                "text": "OPS-1 · Nightly database backup fails on replica",
                "emoji": True,
            },
            "value": "OPS-1",
        }
    ]
    assert options(team, "OPS-1") == expected
    assert options(team, " ops-1 ") == expected
    assert options(team, "OPS-999") == []


def test_picker_offers_search_results_for_words(team: RunningConnect) -> None:
    assert [o["value"] for o in options(team, "backup")] == ["OPS-1"]
    assert "WEB-1" in [o["value"] for o in options(team, "Login button")]
    assert options(team, "nothing like this anywhere") == []
    assert all(len(o["text"]["text"]) <= 75 for o in options(team, "a"))


def test_picker_never_offers_projects_outside_jira_projects(
    fake_slack: FakeSlackServer, fake_jira: FakeJiraServer, tmp_path: Path
) -> None:
    with running_with(fake_slack, fake_jira, tmp_path / "c.db", jira_projects=("OPS",)) as connect:
        assert options(connect, "WEB-1") == []
        assert options(connect, "Login button") == []
        assert [o["value"] for o in options(connect, "OPS-1")] == ["OPS-1"]
    assert not any("WEB-1" in request.path for request in fake_jira.requests)


def test_picker_answers_without_waiting_for_a_slow_jira(team: RunningConnect) -> None:
    # Jira takes longer than Slack waits for options: the picker answers (empty) anyway.
    team.jira.delay_seconds = 6
    assert options(team, "OPS-1") == []


def test_submitting_links_the_message_once(team: RunningConnect) -> None:
    payload, ts = shortcut_on(
        team, "link_message_to_issue", "C0GENERAL", "Backups failing again", trigger="trig-link"
    )
    view = open_modal(team, payload)
    answer = team.interact(picked(view, "OPS-1"))
    assert answer.json() == {"response_action": "clear"}
    (reply,) = wait_until(lambda: thread_replies(team, "C0GENERAL", ts))
    blocks = str(reply.blocks)
    assert "OPS-1" in blocks and "Nightly database backup" in blocks
    assert "Linked by <@U0ALICE>" in blocks
    links = team.runtime.services.links.channel_links("T0TEAM", "C0GENERAL")
    assert [(link.issue_key, link.message_ts) for link in links] == [("OPS-1", ts)]
    (remote,) = team.jira.jira.remote_links("OPS-1")
    assert ts.replace(".", "") in remote.url and "#general" in remote.title

    # The same again (a second try, or a double click): nothing new anywhere.
    assert team.interact(picked(view, "OPS-1")).json() == {"response_action": "clear"}
    assert "already linked to *<" in told(team)
    assert len(team.jira.jira.remote_links("OPS-1")) == 1
    assert len(thread_replies(team, "C0GENERAL", ts)) == 1
    assert len(team.runtime.services.links.channel_links("T0TEAM", "C0GENERAL")) == 1


def test_a_reply_in_a_thread_and_a_bot_message_can_be_linked(team: RunningConnect) -> None:
    parent = team.slack.slack.add_message("C0GENERAL", "Deploy thread", user="U0BOB")
    payload, _ = shortcut_on(
        team,
        "link_message_to_issue",
        "C0GENERAL",
        "a reply",
        trigger="trig-reply",
        thread_ts=parent.ts,
    )
    team.interact(picked(open_modal(team, payload), "OPS-2"))
    reply = wait_until(
        lambda: [m for m in thread_replies(team, "C0GENERAL", parent.ts) if m.user != "U0BOB"]
    )
    assert "OPS-2" in str(reply[0].blocks)

    posted = team.slack.slack.add_message("C0GENERAL", "Deploy failed", user="B0DEPLOY")
    bot_message = {
        "type": "message",
        "subtype": "bot_message",
        "bot_id": "B0DEPLOY",
        "username": "deploybot",
        "bot_profile": {"id": "B0DEPLOY", "name": "Deploy Bot"},
        "ts": posted.ts,
        "text": "Deploy failed",
    }
    payload = message_action(
        "link_message_to_issue",
        "trig-bot",
        channel={"id": "C0GENERAL", "name": "general"},
        message=bot_message,
        response_url=team.slack.response_url(),
    )
    team.interact(picked(open_modal(team, payload), "OPS-3"))
    assert "OPS-3" in str(
        wait_until(lambda: thread_replies(team, "C0GENERAL", posted.ts))[0].blocks
    )
    assert len(team.jira.jira.remote_links("OPS-3")) == 1


def test_a_submission_without_an_issue_is_refused_on_the_field(team: RunningConnect) -> None:
    payload, _ = shortcut_on(team, "link_message_to_issue", "C0GENERAL", "hi", trigger="trig-e")
    view = open_modal(team, payload)
    answer = team.interact(picked(view, None)).json()
    assert answer["response_action"] == "errors" and "Choose an issue" in answer["errors"]["issue"]
    answer = team.interact(picked(view, "not a key")).json()
    assert (
        answer["response_action"] == "errors" and "is not an issue key" in answer["errors"]["issue"]
    )


def test_bot_not_in_the_channel_tells_the_user_to_invite_it(team: RunningConnect) -> None:
    payload, ts = shortcut_on(
        team,
        "link_message_to_issue",
        "C0NOBOT",
        "hello",
        trigger="trig-nobot",
        channel_name="nobot",
    )
    view = open_modal(team, payload)
    notice = wait_until(
        lambda: INVITE in str(current(team, view)["blocks"]) and current(team, view)
    )
    assert notice["submit"] is None
    # Submitted before the notice showed: the user hears it, and nothing is linked.
    team.interact(picked(view, "OPS-1"))
    assert INVITE in told(team)
    assert team.jira.jira.remote_links("OPS-1") == []
    assert team.runtime.services.links.channel_links("T0TEAM", "C0NOBOT") == []
    assert thread_replies(team, "C0NOBOT", ts) == []


def test_jira_down_gives_the_user_a_clear_message(team: RunningConnect) -> None:
    payload, ts = shortcut_on(
        team, "link_message_to_issue", "C0GENERAL", "Backups", trigger="trig-down"
    )
    view = open_modal(team, payload)
    team.jira.fail_next(503, times=50)
    assert team.interact(picked(view, "OPS-1")).json() == {"response_action": "clear"}
    message = told(team, timeout=25)
    assert "Jira is not reachable" in message and "Traceback" not in message
    assert thread_replies(team, "C0GENERAL", ts) == []


def test_an_unknown_issue_is_not_found(team: RunningConnect) -> None:
    payload, _ = shortcut_on(team, "link_message_to_issue", "C0GENERAL", "x", trigger="trig-404")
    team.interact(picked(open_modal(team, payload), "OPS-999"))
    assert "can't find *OPS-999*" in told(team)


# -- the comment shortcut ------------------------------------------------------------------------


def test_comment_shortcut_modal_previews_the_message(team: RunningConnect) -> None:
    payload, _ = shortcut_on(
        team, "comment_on_issue_from_message", "C0GENERAL", "The replica is back", trigger="trig-c"
    )
    view = open_modal(team, payload)
    assert view["callback_id"] == "comment_message_modal"
    assert view["title"]["text"] == "Comment on Jira issue"
    assert "<@U0BOB>: “The replica is back”" in str(view["blocks"])
    assert "visible to everyone" not in str(view["blocks"])
    assert [b["block_id"] for b in view["blocks"] if b["type"] == "input"] == ["issue"]


def test_comment_adds_the_message_with_permalink_and_author(team: RunningConnect) -> None:
    text = "The replica is *back*, thanks <@U0ALICE>"
    payload, ts = shortcut_on(
        team, "comment_on_issue_from_message", "C0GENERAL", text, trigger="trig-comment"
    )
    view = open_modal(team, payload)
    submission = picked(view, "OPS-1")
    assert team.interact(submission).json() == {"response_action": "clear"}
    assert team.interact(submission).status_code == 200  # a double click
    (reply,) = wait_until(lambda: thread_replies(team, "C0GENERAL", ts))
    assert "Added this message as a comment on *<" in str(reply.blocks) and "OPS-1" in reply.text
    wait_quiet(team)
    (comment,) = team.jira.jira.comments("OPS-1")
    permalink = team.slack.slack.get_permalink("C0GENERAL", ts)
    assert comment.body.startswith("The replica is *back*, thanks @Alice Adams\n\n")
    assert f"— Bob Baker in Slack: {permalink}" in comment.body
    assert comment.body.endswith("(added by Alice Adams via Slack)")


def test_comment_with_a_long_text_or_no_text(team: RunningConnect) -> None:
    long_text = " ".join(f"word{i}" for i in range(800))  # about 6,000 characters
    assert len(long_text) > 4000
    payload, _ = shortcut_on(
        team, "comment_on_issue_from_message", "C0GENERAL", long_text, trigger="trig-long"
    )
    view = open_modal(team, payload)
    assert len(view["private_metadata"]) <= 3000
    team.interact(picked(view, "OPS-2"))
    comment = wait_until(lambda: team.jira.jira.comments("OPS-2"))[0]
    assert comment.body.startswith(long_text + "\n\n— Bob Baker in Slack: ")

    payload, _ = shortcut_on(
        team, "comment_on_issue_from_message", "C0GENERAL", "", trigger="trig-files"
    )
    view = open_modal(team, payload)
    assert "(a message with no text)" in str(view["blocks"])
    team.interact(picked(view, "OPS-3"))
    comment = wait_until(lambda: team.jira.jira.comments("OPS-3"))[0]
    assert comment.body.startswith("(a message with no text)\n\n— Bob Baker in Slack: ")


def test_private_sources_say_the_text_will_be_visible_in_jira(team: RunningConnect) -> None:
    payload, _ = shortcut_on(
        team,
        "comment_on_issue_from_message",
        "G0SECRET",
        "salary numbers",
        trigger="trig-private",
        channel_name="privategroup",
    )
    view = open_modal(team, payload)
    assert "visible to everyone who can see the Jira issue" in str(view["blocks"])

    # A private channel with a C id and no name in the payload: Connect looks it up.
    team.slack.slack.add_channel("C0SECRET2", "secret-two", members=["U0ALICE"], is_private=True)
    payload, _ = shortcut_on(
        team,
        "comment_on_issue_from_message",
        "C0SECRET2",
        "more numbers",
        trigger="trig-unnamed",
        channel_name=None,
    )
    view = open_modal(team, payload)
    assert "visible to everyone" not in str(view["blocks"])
    wait_until(lambda: "visible to everyone" in str(current(team, view)["blocks"]))


def test_comment_where_the_bot_is_not_invited_asks_for_an_invite(team: RunningConnect) -> None:
    payload, _ = shortcut_on(
        team,
        "comment_on_issue_from_message",
        "C0NOBOT",
        "hello",
        trigger="trig-c-nobot",
        channel_name="nobot",
    )
    view = open_modal(team, payload)
    team.interact(picked(view, "OPS-1"))
    assert INVITE in told(team)
    assert team.jira.jira.comments("OPS-1") == []


def test_a_malformed_shortcut_payload_is_a_400(team: RunningConnect) -> None:
    payload, _ = shortcut_on(team, "link_message_to_issue", "C0GENERAL", "x", trigger="trig-bad")
    del payload["message"]
    assert team.interact(payload).status_code == 400
    view = {"id": "V1", "type": "modal", "hash": "1.a", "callback_id": "link_message_modal"}
    broken = picked({**view, "private_metadata": "{not json"}, "OPS-1")
    assert team.interact(broken).status_code == 400
