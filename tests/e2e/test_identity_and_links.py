"""Identity (connect/whoami/disconnect), assign, comment and channel links, end to end."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import RunningConnect
from tests.e2e.test_commands import wait_for_response


@pytest.fixture
def team(connect: RunningConnect) -> RunningConnect:
    slack = connect.slack.slack
    slack.add_user("U0ALICE", "alice", real_name="Alice Adams", email="Alice@Example.com")
    slack.add_user("U0BOB", "bob", real_name="Bob Baker", email="bob@example.com")
    slack.add_user("U0DAVE", "dave", real_name="Dave Doe", email="dave@elsewhere.com")
    slack.add_channel("C0GENERAL", "general", members=["U0ALICE", "U0BOB"])
    slack.add_channel("C0OTHER", "other", members=["U0BOB"])
    return connect


def ask(connect: RunningConnect, text: str, **fields: str) -> dict:
    _, response_url = connect.slash(text, **fields)
    return wait_for_response(connect, response_url)


def test_connect_whoami_disconnect(team: RunningConnect) -> None:
    assert "not mapped" in ask(team, "whoami")["text"]
    assert "You are *Alice Adams* in Jira" in ask(team, "connect")["text"]
    assert "You are *Alice Adams* in Jira" in ask(team, "whoami")["text"]
    assert "forgot your Jira mapping" in ask(team, "disconnect")["text"]
    assert "not mapped" in ask(team, "whoami")["text"]


def test_connect_without_a_jira_account_says_why(team: RunningConnect) -> None:
    assert (
        "No active Jira account has the e-mail dave@elsewhere.com"
        in ask(team, "connect", user="U0DAVE")["text"]
    )


def test_assign_me_someone_and_none(team: RunningConnect) -> None:
    jira = team.jira.jira
    assert "Assigned *OPS-2* to Alice Adams" in ask(team, "assign OPS-2 me")["text"]
    assert jira.get_issue("OPS-2").assignee.account_id == "acc-alice"
    assert "to Bob Baker" in ask(team, "assign OPS-2 <@U0BOB|bob>")["text"]
    assert jira.get_issue("OPS-2").assignee.account_id == "acc-bob"
    assert "to nobody" in ask(team, "assign OPS-2 none")["text"]
    assert jira.get_issue("OPS-2").assignee is None


def test_assign_to_someone_without_jira_or_gibberish(team: RunningConnect) -> None:
    assert "can't find a Jira account for <@U0DAVE>" in ask(team, "assign OPS-2 <@U0DAVE>")["text"]
    answer = ask(team, "assign OPS-2 whoever")["text"]
    assert "is not @someone" in answer and "Usage: `/jira assign KEY @user|me|none`" in answer


def test_comment_is_credited_to_the_person(team: RunningConnect) -> None:
    answer = ask(team, "comment OPS-1 The replica is back.\nChecked twice.")
    assert "Added your comment to *<" in answer["text"]
    body = team.jira.jira.comments("OPS-1")[-1].body
    assert "The replica is back." in body and "Checked twice." in body
    assert body.endswith("— Alice Adams via Slack")


def test_link_unlink_and_list_in_a_channel(team: RunningConnect) -> None:
    assert "Linked this channel to *OPS-1*" in ask(team, "link OPS-1")["text"]
    assert "already linked to *OPS-1*" in ask(team, "link ops-1")["text"]
    assert "*OPS-1* → this channel" in ask(team, "links")["text"]
    assert "Unlinked *OPS-1*" in ask(team, "unlink OPS-1")["text"]
    assert "No issues are linked" in ask(team, "links")["text"]
    assert "has no link to *OPS-1*" in ask(team, "unlink OPS-1")["text"]


def test_only_members_or_admins_change_a_channels_links(team: RunningConnect) -> None:
    answer = ask(team, "link OPS-1", channel="C0OTHER")  # Alice is not in #other
    assert "Only members of this channel" in answer["text"]


def test_a_channel_without_the_bot_is_told_to_invite_it(team: RunningConnect) -> None:
    team.slack.slack.add_channel("C0NOBOT", "nobot", members=["U0ALICE"], bot_is_member=False)
    assert "invite me with `/invite @Connect`" in ask(team, "link OPS-1", channel="C0NOBOT")["text"]
