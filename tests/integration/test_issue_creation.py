"""services.issues.creation on a real database, the in-memory Jira and Slack's Web API stand-in
over HTTP: what the description says, where the person is told, and what is noted."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from pydantic import SecretStr
from sqlalchemy import select

from clients.slack_web_api import SlackWebApiClient
from handlers.create_issue import CARDS
from models import ConnectAction, JiraSlackLink
from services.connect_services import ConnectServices
from services.issues.create import IssueDraft
from services.issues.creation import IssueCreation
from services.issues.links import INVITE_FIRST
from services.unit_of_work import UnitOfWorkFactory
from simulators.jira_site.memory import InMemoryJira
from simulators.jira_site.sample import with_sample_data
from simulators.slack_workspace.server import FakeSlackServer

T = "T0CONNECT"
TOKEN = "xoxb-creation-test"


@dataclass
class Origin:
    source: str
    team_id: str = T
    user_id: str = "U1"
    channel_id: str | None = None
    message_ts: str | None = None
    thread_ts: str | None = None
    message_author: str | None = None
    response_url: str | None = None


@pytest.fixture
def slack_server() -> Iterator[FakeSlackServer]:
    with FakeSlackServer(token=TOKEN) as server:
        server.slack.add_user("U1", "alice", real_name="Alice Smith")
        server.slack.add_user("U2", "bob", real_name="Bob Jones")
        server.slack.add_channel("C1", "support", members=["U1", "U2"])
        server.slack.add_channel(
            "G1", "elsewhere", members=["U1"], is_private=True, bot_is_member=False
        )
        yield server


@pytest.fixture
def services(uow: UnitOfWorkFactory, slack_server: FakeSlackServer) -> Iterator[ConnectServices]:
    slack = SlackWebApiClient(SecretStr(TOKEN), base_url=slack_server.api_url, timeout=5)
    yield ConnectServices(uow=uow, jira=with_sample_data(InMemoryJira()), slack=slack)
    slack.close()


def draft(services: ConnectServices, description: str = "typed by Alice") -> IssueDraft:
    form = services.create_issue.form("OPS")
    return IssueDraft(
        team_id=T,
        project_key="OPS",
        issue_type_id=form.issue_type.id,
        summary="The replica is down",
        description=description,
    )


def test_from_a_message_the_issue_names_it_and_the_thread_hears_with_the_message_linked(
    services: ConnectServices, slack_server: FakeSlackServer, uow: UnitOfWorkFactory
) -> None:
    message = slack_server.slack.add_message("C1", "the replica is down", user="U2")
    origin = Origin("message", channel_id="C1", message_ts=message.ts, message_author="U2")
    creation = IssueCreation(services, CARDS)

    issue = creation.create(services, origin, draft(services))
    creation.confirm(services, origin, issue, whole_thread=False)

    jira = services.jira
    assert isinstance(jira, InMemoryJira)
    description = jira.get_issue(issue.key).description or ""
    permalink = services.slack.get_permalink("C1", message.ts)
    assert description.startswith("typed by Alice\n\n----\n")
    assert f"From [a Slack message|{permalink}] by Bob Jones." in description
    assert description.endswith("_Created by Alice Smith via Slack_")
    (reply,) = [m for m in slack_server.slack.thread("C1", message.ts) if m.is_reply]
    assert reply.text == f"Created {CARDS.text(issue)}"
    blocks = reply.blocks or []
    assert blocks[: len(CARDS.card(issue))] == CARDS.card(issue)
    assert blocks[-2] == {
        "type": "context",
        "elements": [{"type": "mrkdwn", "text": "Created by <@U1> from this thread"}],
    }
    assert blocks[-1] == CARDS.sync_switch(issue.key, False)
    with uow() as work:
        link = work.session.scalars(select(JiraSlackLink)).one()
        assert (link.issue_key, link.channel_id, link.message_ts) == (issue.key, "C1", message.ts)
        noted = work.session.scalars(select(ConnectAction)).one()
        assert (noted.issue_key, noted.channel_id, noted.thread_ts) == (issue.key, "C1", message.ts)
        assert noted.actor_name == "Alice Smith"


def test_the_whole_thread_goes_below_what_was_typed(
    services: ConnectServices, slack_server: FakeSlackServer
) -> None:
    parent = slack_server.slack.add_message("C1", "first, by Bob", user="U2")
    slack_server.slack.add_message("C1", "second, by Alice", user="U1", thread_ts=parent.ts)
    origin = Origin("message", channel_id="C1", message_ts=parent.ts, message_author="U2")
    creation = IssueCreation(services, CARDS)

    text = creation.with_conversation(origin, "  what I think  ")

    head, conversation = text.split("\n\n----\n", 1)
    assert head == "what I think"
    assert conversation.index("first, by Bob") < conversation.index("second, by Alice")
    assert "*Bob Jones*" in conversation and "*Alice Smith*" in conversation
    # Typed text that is only the first message is not said twice.
    assert creation.with_conversation(origin, "first, by Bob") == conversation


def test_from_a_command_the_answer_goes_to_its_response_url(
    services: ConnectServices, slack_server: FakeSlackServer, uow: UnitOfWorkFactory
) -> None:
    url = slack_server.response_url()
    origin = Origin("command", channel_id="C1", response_url=url)
    creation = IssueCreation(services, CARDS)

    issue = creation.create(services, origin, draft(services))
    creation.confirm(services, origin, issue, whole_thread=False)

    created = {"type": "section", "text": {"type": "mrkdwn", "text": f"Created *{issue.key}*."}}
    assert slack_server.responses(url) == [
        {
            "text": f"Created {CARDS.text(issue)}",
            "blocks": [created, *CARDS.card(issue)],
            "response_type": "ephemeral",
        }
    ]
    jira = services.jira
    assert isinstance(jira, InMemoryJira)
    assert "From [a Slack message" not in (jira.get_issue(issue.key).description or "")
    with uow() as work:
        noted = work.session.scalars(select(ConnectAction)).one()
        assert (noted.channel_id, noted.thread_ts) == ("C1", None)


def test_from_the_global_shortcut_or_a_conversation_hidden_from_the_bot_the_person_gets_a_dm(
    services: ConnectServices, slack_server: FakeSlackServer
) -> None:
    creation = IssueCreation(services, CARDS)
    issue = creation.create(services, Origin("global"), draft(services))
    creation.confirm(services, Origin("global"), issue, whole_thread=False)
    message = slack_server.slack.add_message("G1", "not where the bot is", user="U1")
    outside = Origin("message", channel_id="G1", message_ts=message.ts, message_author="U1")
    creation.confirm(services, outside, issue, whole_thread=False)

    dm = services.slack.open_dm("U1")
    told = [m.text for m in slack_server.slack.messages[dm]]
    text = f"Created {CARDS.text(issue)}"
    assert told == [text, f"{text}. {INVITE_FIRST}"]
    assert slack_server.slack.thread("G1", message.ts)[1:] == []
