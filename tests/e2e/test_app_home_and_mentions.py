"""App Home (app_home_opened → views.publish) and `@Connect …` mentions, end to end."""

from __future__ import annotations

import json
from typing import Any

import pytest

from models import ChannelSubscription
from tests.e2e.conftest import RunningConnect
from tests.e2e.slack_events import (
    TEAM_ID,
    block_action,
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
    slack.add_user("U0ALICE", "alice", real_name="Alice Adams", email="alice@example.com")
    slack.add_user("U0BOB", "bob", real_name="Bob Baker", email="bob@example.com")
    slack.add_user("U0DAVE", "dave", real_name="Dave Doe", email="dave@elsewhere.com")
    slack.add_channel("C0GENERAL", "general", members=["U0ALICE", "U0BOB", "U0DAVE"])
    return connect


def home_opened(user: str) -> dict[str, Any]:
    return {
        "type": "app_home_opened",
        "user": user,
        "channel": "D0HOME" + user[-4:],
        "tab": "home",
        "event_ts": next_ts(),
    }


def published_home(connect: RunningConnect, user: str, *, count: int = 1) -> str:
    def home() -> str | None:
        calls = [c for c in connect.slack.calls_to("views.publish") if c.params["user_id"] == user]
        return json.dumps(calls[-1].params["view"]) if len(calls) >= count else None

    return str(wait_until(home))


def test_app_home_shows_my_open_issues_mapping_and_subscriptions(team: RunningConnect) -> None:
    with team.runtime.services.uow() as work:
        work.session.add(
            ChannelSubscription(
                team_id=TEAM_ID,
                channel_id="C0GENERAL",
                number=1,
                project_key="OPS",
                created_by="U0ALICE",
            )
        )
        work.commit()
    send_event(team, home_opened("U0ALICE"))
    home = published_home(team, "U0ALICE")
    assert "Alice Adams" in home and "alice@example.com" in home
    assert "OPS-1" in home  # assigned to Alice, In Progress
    assert "OPS-3" not in home and "WEB-1" not in home  # Done / someone else's
    assert "<#C0GENERAL>" in home and "*OPS*" in home
    assert team.slack.views.home["U0ALICE"]["type"] == "home"
    search = [r for r in team.jira.requests if "search" in r.path]
    assert any("acc-alice" in json.dumps([r.query, r.body]) for r in search)


def test_the_home_is_refreshed_on_every_open(team: RunningConnect) -> None:
    send_event(team, home_opened("U0ALICE"))
    published_home(team, "U0ALICE")
    team.jira.jira.assign_issue("OPS-2", "acc-alice")
    send_event(team, home_opened("U0ALICE"))
    assert "OPS-2" in published_home(team, "U0ALICE", count=2)


def test_someone_unmapped_gets_a_connect_button_that_says_why(team: RunningConnect) -> None:
    send_event(team, home_opened("U0DAVE"))
    home = published_home(team, "U0DAVE")
    assert "not connected to Jira" in home and "home_connect" in home
    payload = block_action(
        {"type": "button", "action_id": "home_connect", "block_id": "x", "value": "connect"},
        user="U0DAVE",
        response_url=team.slack.response_url(),
    )
    payload["container"] = {"type": "view", "view_id": team.slack.views.home["U0DAVE"]["id"]}
    assert team.interact(payload).status_code == 200
    again = published_home(team, "U0DAVE", count=2)
    assert "No active Jira account has the e-mail dave@elsewhere.com" in again


def test_the_home_says_when_jira_is_down(team: RunningConnect) -> None:
    team.jira.fail_next(503, times=50)
    send_event(team, home_opened("U0BOB"))
    assert "Jira is not reachable" in published_home(team, "U0BOB")


def test_the_messages_tab_publishes_nothing(team: RunningConnect) -> None:
    send_event(team, {**home_opened("U0ALICE"), "tab": "messages"})
    settle(team)
    assert team.slack.calls_to("views.publish") == []


# -- mentions -----------------------------------------------------------------------------------


def mention(text: str, *, user: str = "U0ALICE", ts: str | None = None) -> dict[str, Any]:
    stamp = ts or next_ts()
    return {
        "type": "app_mention",
        "user": user,
        "text": text,
        "ts": stamp,
        "channel": "C0GENERAL",
        "event_ts": stamp,
        "team": TEAM_ID,
        "client_msg_id": "5b3f1e1a-0000-4000-8000-000000000001",
    }


def test_mention_help_answers_in_the_thread(team: RunningConnect) -> None:
    ts = next_ts()
    send_event(team, mention("<@UCONNECTBOT> help", ts=ts))
    (reply,) = wait_until(lambda: posts(team))
    assert reply["thread_ts"] == ts and "/jira settings" in reply["text"]


def test_mention_show_posts_the_card_and_a_repeat_posts_nothing(team: RunningConnect) -> None:
    event = mention("<@UCONNECTBOT> show OPS-1")
    send_event(team, event, event_id="Ev0MENTION")
    (reply,) = wait_until(lambda: posts(team))
    blocks = json.dumps(reply["blocks"])
    assert "OPS-1" in blocks and "card_assign_me" in blocks
    assert "share_issue" not in blocks  # already in the channel
    send_event(team, event, event_id="Ev0MENTION", retry=1)
    settle(team)
    assert len(posts(team)) == 1


def test_mention_create_offers_a_button_that_opens_the_form(team: RunningConnect) -> None:
    send_event(team, mention("<@UCONNECTBOT> create OPS Printer on fire"))
    (reply,) = wait_until(lambda: posts(team))
    button = reply["blocks"][-1]["elements"][0]
    assert button["value"] == "OPS Printer on fire"
    payload = block_action(
        {**button, "block_id": "b"},
        response_url=team.slack.response_url(),
        message={"ts": next_ts(), "text": reply["text"], "blocks": reply["blocks"]},
    )
    assert team.interact(payload).status_code == 200
    opened = team.slack.wait_for("views.open")
    assert opened.params["trigger_id"] == payload["trigger_id"]
    filled = team.slack.wait_for("views.update")
    assert "Printer on fire" in json.dumps(filled.params["view"])


def test_mention_whoami_is_only_shown_to_the_person(team: RunningConnect) -> None:
    send_event(team, mention("<@UCONNECTBOT> whoami"))
    wait_until(lambda: team.slack.calls_to("chat.postEphemeral"))
    assert posts(team) == []


def test_a_bad_mention_gets_the_usage(team: RunningConnect) -> None:
    send_event(team, mention("<@UCONNECTBOT> assign OPS-1"))
    (reply,) = wait_until(lambda: posts(team))
    assert "Usage: `/jira assign KEY" in reply["text"]


def test_mention_settings_behaves_like_the_command(team: RunningConnect) -> None:
    send_event(team, mention("<@UCONNECTBOT> settings previews off"))
    (reply,) = wait_until(lambda: posts(team))
    assert "previews are now *off*" in reply["text"]
    _, shown = team.slash("settings")
    assert "Issue-key previews: *off*" in wait_for_response(team, shown)["text"]
