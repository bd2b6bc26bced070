"""After Jira was found away, subscription filter checks wait `outage_pause` (the
JIRA_OUTAGE_PAUSE_SECONDS setting) before asking it again, on the router's clock."""

from __future__ import annotations

from typing import Any

import pytest

from clients.jira_client import JiraUnavailable
from models import ChannelSubscription
from services.jira_changes.events import IssueSnapshot
from services.policy import ConnectPolicy
from services.subscriptions.routing import SubscriptionRouter
from simulators.jira_site.memory import InMemoryJira
from simulators.jira_site.sample import with_sample_data


class AwayJira:
    def __init__(self) -> None:
        self.jira = with_sample_data(InMemoryJira())
        self.away = True
        self.searches = 0

    def search(self, *args: Any, **kwargs: Any) -> Any:
        self.searches += 1
        if self.away:
            raise JiraUnavailable("Jira could not be reached.")
        return self.jira.search(*args, **kwargs)


@pytest.mark.parametrize("pause", [0.5, 10.0])
def test_jira_is_asked_again_once_the_outage_pause_is_over(pause: float) -> None:
    now = [100.0]
    jira = AwayJira()
    router = SubscriptionRouter(
        jira,  # type: ignore[arg-type]
        ConnectPolicy(),
        clock=lambda: now[0],
        outage_pause=pause,
    )
    subscription = ChannelSubscription(project_key="OPS", jql='summary ~ "backup"')
    issue = IssueSnapshot(id="10001", key="OPS-1", project_key="OPS")

    with pytest.raises(JiraUnavailable):
        router.matches(subscription, issue)
    jira.away = False
    now[0] += pause * 0.9
    with pytest.raises(JiraUnavailable, match="not asked again yet"):
        router.matches(subscription, issue)
    assert jira.searches == 1
    now[0] += pause * 0.2
    router.matches(subscription, issue)
    assert jira.searches == 2
