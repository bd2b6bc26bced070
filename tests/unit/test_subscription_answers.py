"""The answers Jira gave to subscription filters are kept for a while, in bounded memory: a
flood of deliveries about distinct issue versions (each its own question) cannot grow them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from models import ChannelSubscription
from services.jira_changes.events import IssueSnapshot
from services.policy import ConnectPolicy
from services.subscriptions.routing import SubscriptionRouter
from simulators.jira_site.memory import InMemoryJira
from simulators.jira_site.sample import with_sample_data

KEPT = 4096


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def searches(jira: InMemoryJira) -> int:
    return sum(1 for name, _, _ in jira.calls if name == "search")


def subscription(jql: str) -> ChannelSubscription:
    return ChannelSubscription(
        team_id="T1",
        channel_id="C1",
        number=1,
        project_key="OPS",
        jql=jql,
        event_kinds="created,transitioned",
        created_by="U1",
        active=True,
    )


def version(n: int) -> IssueSnapshot:
    updated = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(seconds=n)
    return IssueSnapshot(id="10001", key="OPS-1", project_key="OPS", updated=updated)


def test_an_answer_is_kept_for_its_ttl() -> None:
    jira, clock = with_sample_data(InMemoryJira()), Clock()
    router = SubscriptionRouter(jira, ConnectPolicy(), clock=clock, answer_ttl=60)
    labelled = subscription("labels = backups")  # labels are not in snapshots: Jira is asked
    assert router.matches(labelled, version(0))
    clock.now += 59
    assert router.matches(labelled, version(0))
    assert searches(jira) == 1
    clock.now += 2
    assert router.matches(labelled, version(0))
    assert searches(jira) == 2


def test_answers_kept_stay_bounded_under_a_flood_of_issue_versions() -> None:
    jira, clock = with_sample_data(InMemoryJira()), Clock()
    router = SubscriptionRouter(jira, ConnectPolicy(), clock=clock)
    labelled = subscription("labels = backups")
    for n in range(KEPT + 300):  # all within the TTL: the clock stands still
        assert router.matches(labelled, version(n))
    assert searches(jira) == KEPT + 300
    assert len(router._answers) <= KEPT
