from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from services.errors import NotPermitted
from services.issues.links import BotNotInChannel, LinkService, MessageRef, remote_link_global_id
from services.policy import ConnectPolicy
from services.unit_of_work import UnitOfWorkFactory
from simulators.jira_site.memory import InMemoryJira
from simulators.jira_site.sample import with_sample_data
from simulators.slack_workspace.memory import InMemorySlack

T = "T0CONNECT"


@pytest.fixture
def slack() -> InMemorySlack:
    slack = InMemorySlack(team_id=T)
    slack.add_user("U1", "alice", email="alice@example.com")
    slack.add_user("U2", "bob", email="bob@example.com")
    slack.add_channel("C1", "general", members=["U1"])
    slack.add_channel("CSECRET", "secret-plans", members=["U1"], is_private=True)
    return slack


@pytest.fixture
def links(uow: UnitOfWorkFactory, slack: InMemorySlack) -> LinkService:
    return LinkService(
        uow, with_sample_data(InMemoryJira()), slack, ConnectPolicy(admins=frozenset({"UADMIN"}))
    )


def test_linking_a_message_twice_links_once_with_one_remote_link(
    links: LinkService, slack: InMemorySlack
) -> None:
    posted = slack.add_message("C1", "the replica is down", user="U1")
    ref = MessageRef(T, "C1", posted.ts)
    first = links.link_message(ref, "U1", "OPS-1")
    second = links.link_message(ref, "U2", "ops-1")
    assert first.created and not second.created
    jira = links.jira
    assert isinstance(jira, InMemoryJira)
    remote = jira.remote_links("OPS-1")
    assert len(remote) == 1
    assert remote[0].url == first.link.permalink
    assert remote[0].global_id == remote_link_global_id(first.link.permalink or "")
    assert [link.issue_key for link in links.channel_links(T, "C1")] == ["OPS-1"]


def test_concurrent_links_of_one_message_make_one_row(
    links: LinkService, slack: InMemorySlack
) -> None:
    posted = slack.add_message("C1", "race", user="U1")
    ref = MessageRef(T, "C1", posted.ts)
    with ThreadPoolExecutor(4) as pool:
        outcomes = list(pool.map(lambda _: links.link_message(ref, "U1", "OPS-2"), range(4)))
    assert sum(outcome.created for outcome in outcomes) == 1
    assert len(links.channel_links(T, "C1")) == 1


def test_a_message_in_a_public_channel_without_the_bot_is_not_linked(
    links: LinkService, slack: InMemorySlack
) -> None:
    slack.add_channel("CNOBOT", "nobot", members=["U1"], bot_is_member=False)
    posted = slack.add_message("CNOBOT", "readable, but no reply from the bot", user="U1")
    with pytest.raises(BotNotInChannel):
        links.link_message(MessageRef(T, "CNOBOT", posted.ts), "U1", "OPS-1")
    assert links.channel_links(T, "CNOBOT") == []
    jira = links.jira
    assert isinstance(jira, InMemoryJira)
    assert jira.remote_links("OPS-1") == []


def test_private_channel_names_stay_out_of_jira(links: LinkService, slack: InMemorySlack) -> None:
    posted = slack.add_message("CSECRET", "classified", user="U1")
    links.link_message(MessageRef(T, "CSECRET", posted.ts), "U1", "OPS-1")
    jira = links.jira
    assert isinstance(jira, InMemoryJira)
    assert "secret-plans" not in jira.remote_links("OPS-1")[0].title


def test_unlink_then_relink_revives_the_row(links: LinkService) -> None:
    assert links.link_channel(T, "C1", "U1", "OPS-1").created
    assert links.unlink_channel(T, "C1", "U1", "OPS-1") == ["OPS-1"]
    assert links.channel_links(T, "C1") == []
    assert links.link_channel(T, "C1", "U1", "OPS-1").created


def test_permissions_members_and_admins(links: LinkService, slack: InMemorySlack) -> None:
    with pytest.raises(NotPermitted):
        links.link_channel(T, "C1", "U2", "OPS-1")
    assert links.link_channel(T, "C1", "UADMIN", "OPS-1").created
    slack.add_channel("CNOBOT", "nobot", members=["U1"], bot_is_member=False)
    with pytest.raises(BotNotInChannel):
        links.link_channel(T, "CNOBOT", "U1", "OPS-1")


def test_teams_do_not_see_each_others_links(links: LinkService) -> None:
    links.link_channel(T, "C1", "U1", "OPS-1")
    assert links.channel_links("T0OTHER", "C1") == []
