"""CONNECT_CHANNEL_MANAGERS: who may change what a channel follows (SPEC §11)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from simulators.jira_site.server import FakeJiraServer
from simulators.slack_workspace.server import FakeSlackServer
from tests.e2e.conftest import RunningConnect, connect_settings, running_connect
from tests.e2e.test_commands import wait_for_response

ADMINS_ONLY = "Only Connect admins can change what this channel follows"


def start(
    fake_slack: FakeSlackServer, fake_jira: FakeJiraServer, tmp_path: Path, **extra: Any
) -> Iterator[RunningConnect]:
    settings = connect_settings(fake_slack, fake_jira, tmp_path / "connect.db", **extra)
    with running_connect(settings, fake_slack, fake_jira) as running:
        slack = running.slack.slack
        slack.add_user("U0ALICE", "alice", real_name="Alice Adams", email="alice@example.com")
        slack.add_user("U0BOB", "bob", real_name="Bob Baker", email="bob@example.com")
        slack.add_channel("C0GENERAL", "general", members=["U0ALICE", "U0BOB"])
        yield running


@pytest.fixture
def admins_only(
    fake_slack: FakeSlackServer, fake_jira: FakeJiraServer, tmp_path: Path
) -> Iterator[RunningConnect]:
    yield from start(
        fake_slack,
        fake_jira,
        tmp_path,
        connect_channel_managers="admins",
        connect_admins=("U0BOB",),
    )


def ask(connect: RunningConnect, text: str, user: str = "U0ALICE") -> dict[str, Any]:
    _, response_url = connect.slash(text, user=user, channel="C0GENERAL")
    return wait_for_response(connect, response_url)


@pytest.mark.parametrize(
    "command",
    ["link OPS-1", "unlink OPS-1", "subscribe OPS", "unsubscribe 1", "settings previews off"],
)
def test_with_admins_only_a_member_is_refused_plainly_and_only_to_them(
    admins_only: RunningConnect, command: str
) -> None:
    answer = ask(admins_only, command)
    assert ADMINS_ONLY in answer["text"]
    assert answer.get("response_type", "ephemeral") == "ephemeral"
    assert admins_only.slack.slack.top_level("C0GENERAL") == []


def test_with_admins_only_an_admin_still_manages_the_channel(admins_only: RunningConnect) -> None:
    assert "Linked this channel to *OPS-1*" in ask(admins_only, "link OPS-1", user="U0BOB")["text"]
    assert ADMINS_ONLY in ask(admins_only, "unlink OPS-1")["text"]
    assert "*OPS-1* → this channel" in ask(admins_only, "links")["text"]  # reading is for all


def test_by_default_members_manage_their_channel(
    fake_slack: FakeSlackServer, fake_jira: FakeJiraServer, tmp_path: Path
) -> None:
    for connect in start(fake_slack, fake_jira, tmp_path):
        assert "Linked this channel to *OPS-1*" in ask(connect, "link OPS-1")["text"]
