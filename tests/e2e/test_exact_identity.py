"""A Slack user is a Jira account only by exact e-mail equality (SPEC §11), end to end against
the fake Jira Cloud server, whose user search is fuzzy and may hide e-mails."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import RunningConnect
from tests.e2e.test_commands import wait_for_response


@pytest.fixture
def site(connect: RunningConnect) -> RunningConnect:
    slack = connect.slack.slack
    # One letter short of Alice's address: Jira Cloud's `user/search?query=` matches prefixes.
    slack.add_user("U0MAL", "mal", real_name="Mal Lory", email="alice@example.co")
    slack.add_user("U0ALICE", "alice", real_name="Alice Adams", email="alice@example.com")
    slack.add_channel("C0GENERAL", "general", members=["U0MAL", "U0ALICE"])
    return connect


def ask(connect: RunningConnect, text: str, **fields: str) -> dict:
    _, response_url = connect.slash(text, **fields)
    return wait_for_response(connect, response_url)


def test_a_fuzzy_hit_with_a_hidden_email_is_not_an_identity(site: RunningConnect) -> None:
    site.jira.api.hidden_emails.add("acc-alice")  # Alice's privacy setting hides her e-mail

    answer = ask(site, "connect", user="U0MAL")["text"]
    assert "No active Jira account has the e-mail alice@example.co" in answer
    assert "not mapped" in ask(site, "whoami", user="U0MAL")["text"]
    assert "can't find your Jira account" in ask(site, "assign OPS-2 me", user="U0MAL")["text"]
    assert site.jira.jira.get_issue("OPS-2").assignee is None

    ask(site, "comment OPS-1 Rebooted it.", user="U0MAL")
    body = site.jira.jira.comments("OPS-1")[-1].body
    assert body.endswith("— Mal Lory via Slack")  # credited by name only, as nobody's account


def test_a_hidden_email_maps_nobody_even_when_it_would_be_equal(site: RunningConnect) -> None:
    site.jira.api.hidden_emails.add("acc-alice")
    assert "No active Jira account" in ask(site, "connect")["text"]

    site.jira.api.hidden_emails.clear()  # once Jira shows the address, it is compared
    assert "You are *Alice Adams* in Jira" in ask(site, "connect")["text"]
