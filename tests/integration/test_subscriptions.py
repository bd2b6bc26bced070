"""`/jira subscribe | subscriptions | unsubscribe` on SQLite and PostgreSQL: numbers,
permissions, and filters judged by Jira before they are stored."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from clients.jira_client import JiraUnavailable
from models.channels import EVENT_KINDS
from services.commands import UsageError
from services.errors import InvalidRequest, JiraDown, NotPermitted
from services.issues.links import BotNotInChannel
from services.policy import ConnectPolicy
from services.subscriptions.service import SubscribeRequest, SubscriptionService, parse_subscribe
from services.unit_of_work import UnitOfWorkFactory
from simulators.jira_site.memory import InMemoryJira
from simulators.jira_site.sample import with_sample_data
from simulators.slack_workspace.memory import InMemorySlack

T = "T0CONNECT"
USAGE = "`/jira subscribe [PROJECT] [JQL…] [--events K,K]`"


@pytest.fixture
def slack() -> InMemorySlack:
    slack = InMemorySlack(team_id=T)
    slack.add_user("U1", "alice")
    slack.add_user("U2", "bob")
    slack.add_channel("C1", "ops", members=["U1"])
    slack.add_channel("C2", "web", members=["U1", "U2"])
    slack.add_channel("CNOBOT", "nobot", members=["U1"], bot_is_member=False)
    return slack


@pytest.fixture
def jira() -> InMemoryJira:
    return with_sample_data(InMemoryJira())


def service(
    uow: UnitOfWorkFactory, jira: InMemoryJira, slack: InMemorySlack, **policy: frozenset[str]
) -> SubscriptionService:
    policy.setdefault("admins", frozenset({"UADMIN"}))
    return SubscriptionService(uow, jira, slack, ConnectPolicy(**policy))


@pytest.fixture
def subscriptions(
    uow: UnitOfWorkFactory, jira: InMemoryJira, slack: InMemorySlack
) -> SubscriptionService:
    return service(uow, jira, slack)


def ask(text: str) -> SubscribeRequest:
    return parse_subscribe(text, usage=USAGE)


def test_subscribe_list_unsubscribe_with_small_numbers(subscriptions: SubscriptionService) -> None:
    first = subscriptions.subscribe(T, "C1", "U1", ask("OPS"))
    second = subscriptions.subscribe(T, "C1", "U1", ask("ops priority = High --events created"))
    third = subscriptions.subscribe(T, "C1", "U1", ask("labels = backups"))
    other = subscriptions.subscribe(T, "C2", "U2", ask("WEB"))
    assert [o.subscription.number for o in (first, second, third, other)] == [1, 2, 3, 1]
    assert all(o.created for o in (first, second, third, other))
    assert (second.subscription.project_key, second.subscription.jql) == ("OPS", "priority = High")
    assert second.subscription.kinds == ("created",)
    assert (third.subscription.project_key, third.subscription.jql) == (None, "labels = backups")
    assert first.subscription.kinds == EVENT_KINDS

    listed = subscriptions.channel_subscriptions(T, "C1")
    assert [view.number for view in listed] == [1, 2, 3]
    assert subscriptions.unsubscribe(T, "C1", "U1", 2).jql == "priority = High"
    assert [view.number for view in subscriptions.channel_subscriptions(T, "C1")] == [1, 3]
    with pytest.raises(InvalidRequest, match="no subscription #2"):
        subscriptions.unsubscribe(T, "C1", "U1", 2)
    with pytest.raises(InvalidRequest, match="no subscription #1"):
        subscriptions.unsubscribe(T, "C9", "UADMIN", 1)
    # A removed number is not handed out again: an old ID never names a new subscription.
    assert subscriptions.subscribe(T, "C1", "U1", ask("WEB")).subscription.number == 4
    assert subscriptions.channel_subscriptions("T0OTHER", "C1") == []


def test_the_same_filter_again_updates_its_kinds(subscriptions: SubscriptionService) -> None:
    subscriptions.subscribe(T, "C1", "U1", ask("OPS priority = High"))
    again = subscriptions.subscribe(T, "C1", "U1", ask("OPS priority = High"))
    assert not again.created and not again.changed_kinds
    narrowed = subscriptions.subscribe(T, "C1", "U1", ask("OPS priority = High --events created"))
    assert not narrowed.created and narrowed.changed_kinds
    (only,) = subscriptions.channel_subscriptions(T, "C1")
    assert only.kinds == ("created",)


def test_members_and_admins_only_and_the_bot_must_be_there(
    subscriptions: SubscriptionService,
) -> None:
    with pytest.raises(NotPermitted):
        subscriptions.subscribe(T, "C1", "U2", ask("OPS"))
    made = subscriptions.subscribe(T, "C1", "UADMIN", ask("OPS"))
    with pytest.raises(NotPermitted):
        subscriptions.unsubscribe(T, "C1", "U2", made.subscription.number)
    with pytest.raises(BotNotInChannel):
        subscriptions.subscribe(T, "CNOBOT", "U1", ask("OPS"))
    assert subscriptions.unsubscribe(T, "C1", "U1", made.subscription.number).number == 1


@pytest.mark.parametrize(
    ("text", "jira_says"),
    [
        ("OPS priority = Urgent", "The value 'Urgent' does not exist for the field 'priority'."),
        ("flavour = sweet", "Field 'flavour' does not exist"),
        ("assignee = nobody()", "Unable to find JQL function 'nobody()'."),
    ],
)
def test_a_bad_filter_is_refused_with_jiras_own_words(
    subscriptions: SubscriptionService, text: str, jira_says: str
) -> None:
    with pytest.raises(InvalidRequest) as refused:
        subscriptions.subscribe(T, "C1", "U1", ask(text))
    assert jira_says in refused.value.user_message
    assert refused.value.user_message.startswith("Jira can't use that filter:")
    assert subscriptions.channel_subscriptions(T, "C1") == []


def test_projects_must_exist_and_be_allowed(
    uow: UnitOfWorkFactory, jira: InMemoryJira, slack: InMemorySlack
) -> None:
    only_web = service(uow, jira, slack, allowed_projects=frozenset({"WEB"}))
    with pytest.raises(InvalidRequest, match="can't find a project \\*OPS\\*"):
        only_web.subscribe(T, "C1", "U1", ask("OPS"))
    with pytest.raises(InvalidRequest, match="can't find a project \\*NOPE\\*"):
        only_web.subscribe(T, "C1", "U1", ask("NOPE --events created"))
    assert only_web.subscribe(T, "C1", "U1", ask("WEB")).subscription.project_key == "WEB"


def test_a_project_alone_costs_no_search_and_jql_one(
    subscriptions: SubscriptionService, jira: InMemoryJira
) -> None:
    subscriptions.subscribe(T, "C1", "U1", ask("OPS"))
    assert [name for name, _, _ in jira.calls] == ["projects"]
    jira.calls.clear()
    subscriptions.subscribe(T, "C1", "U1", ask("priority = High"))
    assert [(name, args) for name, args, _ in jira.calls] == [("search", ("priority = High",))]


def test_jira_down_is_said_plainly(subscriptions: SubscriptionService, jira: InMemoryJira) -> None:
    jira.fail_next(JiraUnavailable("down"), times=5)
    with pytest.raises(JiraDown):
        subscriptions.subscribe(T, "C1", "U1", ask("OPS"))


def test_usage_errors_name_the_usage() -> None:
    with pytest.raises(UsageError) as caught:
        ask("OPS --events shipped")
    assert caught.value.usage == USAGE


def test_concurrent_subscribes_get_distinct_numbers(subscriptions: SubscriptionService) -> None:
    texts = [f"OPS labels = l{n}" for n in range(4)]
    with ThreadPoolExecutor(4) as pool:
        made = list(pool.map(lambda t: subscriptions.subscribe(T, "C1", "U1", ask(t)), texts))
    assert sorted(o.subscription.number for o in made) == [1, 2, 3, 4]
