"""Nothing is lost (SPEC §7): Jira webhooks stored as the intake stores them, processed by the
delivery job, sent by the outbox to an in-memory Slack that enforces Slack's limits, on a clock
the test moves. A Jira outage spends no attempt and holds only what needs Jira; a burst too big
for one message goes out as several."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select

from clients.jira_client import JiraClient, JiraUnavailable
from clients.slack_limits import MAX_BLOCKS, MAX_MESSAGE_TEXT, MAX_SECTION_TEXT
from models import ChannelSubscription, NotificationOutbox, ProcessedDelivery
from models.delivery import DONE, FAILED, HELD, PENDING, SENT
from services.jira_changes.intake import WebhookIntake
from services.notifications.failed_work import FailedWork
from services.notifications.held import HeldNotifications
from services.policy import ConnectPolicy
from services.subscriptions.routing import SubscriptionRouter
from services.unit_of_work import UnitOfWorkFactory
from tests.integration.test_subscription_fanout import Site, T


class SwitchableJira:
    """The in-memory Jira behind a switch: while `down`, every call is refused."""

    def __init__(self, jira: JiraClient) -> None:
        self.jira = jira
        self.down = False
        self.refused = 0

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self.jira, name)
        if not callable(attribute):
            return attribute

        def call(*args: Any, **kwargs: Any) -> Any:
            if self.down:
                self.refused += 1
                raise JiraUnavailable("Jira could not be reached.")
            return attribute(*args, **kwargs)

        return call


class StoredSite(Site):
    """Deliveries go through the intake and the delivery job, as in production."""

    def __init__(self, uow: UnitOfWorkFactory) -> None:
        super().__init__(uow, ConnectPolicy())
        self.switch = SwitchableJira(self.jira)
        self.router = SubscriptionRouter(self.switch, ConnectPolicy(), clock=self.seconds)
        self.processor.notifier.subscriptions = self.router
        self.intake = WebhookIntake(uow)
        self.held = HeldNotifications(uow, self.router, clock=self.clock)
        self.clock.advance(60)  # deliveries stored now (real time) are due on this clock

    def seconds(self) -> float:
        return self.clock().timestamp()

    def store(self) -> None:
        """What Jira sent so far, stored as the webhook endpoint stores it."""
        self.emitter.flush()
        while self.payloads:
            payload = self.payloads.pop(0)
            raw = json.dumps(payload).encode()
            self.intake.accept(payload, raw_body=raw, identifier=None)  # twins: stored once

    def work(self, rounds: int = 1, after: float = 2.5) -> None:
        """Each round: the delivery job and the held check, time passes, then the outbox."""
        for _ in range(rounds):
            self.processor.run_once(limit=100)
            self.held.run_once()
            self.clock.advance(after)
            while self.dispatcher.run_once():
                self.clock.advance(1.1)

    def deliveries(self) -> list[ProcessedDelivery]:
        with self.uow() as work:
            rows = list(work.session.scalars(select(ProcessedDelivery)))
            work.session.expunge_all()
        return rows

    def rows(self) -> list[NotificationOutbox]:
        with self.uow() as work:
            rows = list(work.session.scalars(select(NotificationOutbox)))
            work.session.expunge_all()
        return rows


@pytest.fixture
def stored(uow: UnitOfWorkFactory) -> Iterator[StoredSite]:
    site = StoredSite(uow)
    yield site
    site.emitter.stop()


def _move(site: StoredSite, key: str) -> None:
    with site.jira.act_as("bob@example.com"):
        site.jira.transition_issue(key, "11")  # To Do -> In Progress


def test_a_jira_outage_spends_no_attempt_and_holds_only_the_filter_check(
    stored: StoredSite,
) -> None:
    stored.links.link_channel(T, "C1", "U1", "OPS-2")
    stored.subscribe("C2", "OPS", 'summary ~ "certificates"')  # only Jira can answer `~`
    stored.subscribe("C3", "OPS")  # decided locally
    stored.switch.down = True
    _move(stored, "OPS-2")
    stored.store()

    for _ in range(12):  # 150 s and more of outage: far past the old five attempts
        stored.work(after=15)
    (delivery,) = stored.deliveries()
    assert delivery.status == DONE and delivery.attempts == 0
    # The linked channel and the other subscription heard of it during the outage.
    assert "To Do → In Progress" in stored.posts("C1")[0].text
    assert "To Do → In Progress" in stored.posts("C3")[0].text
    assert stored.posts("C2") == []
    (held,) = [row for row in stored.rows() if row.channel_id == "C2"]
    assert held.status == HELD and held.attempts == 0 and held.outages > 1
    assert FailedWork(stored.uow).counts().held["notification"] == 1

    stored.switch.down = False
    stored.work(rounds=2, after=300)  # within the longest rest, Jira is asked again
    (post,) = stored.posts("C2")
    assert "To Do → In Progress" in post.text
    assert all(row.status == SENT for row in stored.rows())
    assert FailedWork(stored.uow).counts().held == {"delivery": 0, "notification": 0}


class FlakyRouter(SubscriptionRouter):
    """Jira needed before any workspace is known (as a lookup of the issue's project would)."""

    down = True

    def teams_for(self, session: Any, issue: Any) -> set[str]:
        if self.down:
            raise JiraUnavailable("Jira is unavailable (HTTP 503).", status=503)
        return super().teams_for(session, issue)


def test_a_delivery_that_meets_an_outage_waits_without_spending_attempts(
    stored: StoredSite,
) -> None:
    router = FlakyRouter(stored.switch, ConnectPolicy(), clock=stored.seconds)
    stored.processor.notifier.subscriptions = router
    stored.subscribe("C3", "OPS")
    _move(stored, "OPS-2")
    stored.store()
    for _ in range(12):
        stored.work(after=30)
    (delivery,) = stored.deliveries()
    assert (delivery.status, delivery.attempts) == (PENDING, 0) and delivery.outages >= 5
    assert "JiraUnavailable" in (delivery.last_error or "")
    assert FailedWork(stored.uow).counts().held["delivery"] == 1
    router.down = False
    stored.work(rounds=2, after=300)
    (delivery,) = stored.deliveries()
    assert (delivery.status, delivery.attempts) == (DONE, 0)
    assert "To Do → In Progress" in stored.posts("C3")[0].text


def test_a_burst_during_an_outage_asks_jira_once_not_once_per_delivery(
    stored: StoredSite,
) -> None:
    stored.links.link_channel(T, "C1", "U1", "OPS-2")
    stored.subscribe("C2", "OPS", 'summary ~ "certificates"')
    stored.switch.down = True
    for number in range(10):
        stored.comment("OPS-2", f"during the outage {number}")
    stored.store()
    stored.processor.run_once(limit=100)
    assert stored.switch.refused == 1  # then held without waiting on Jira again
    assert [d.status for d in stored.deliveries()] == [DONE] * 10
    (held,) = [row for row in stored.rows() if row.status == HELD]  # one burst, held
    assert len(held.payload["changes"]) == 10
    stored.switch.down = False
    stored.work(rounds=2, after=300)
    (post,) = stored.posts("C2")
    assert all(f"during the outage {number}" in post.text for number in range(10))


def test_a_held_filter_that_does_not_match_posts_nothing(stored: StoredSite) -> None:
    stored.subscribe("C2", "OPS", 'summary ~ "nothing-like-this"')
    stored.switch.down = True
    _move(stored, "OPS-2")
    stored.store()
    stored.work(rounds=3)
    stored.switch.down = False
    stored.work(rounds=2, after=300)
    assert stored.posts("C2") == []
    (row,) = stored.rows()
    assert row.status == "skipped"


class BrokenForOneTeam(SubscriptionRouter):
    """Another workspace whose routing fails (a bug, a stored filter nobody can read)."""

    def active_subscriptions(self, session: Any, team_id: str) -> list[ChannelSubscription]:
        if team_id == "T0OTHER":
            raise RuntimeError("this workspace's subscriptions cannot be read")
        return super().active_subscriptions(session, team_id)


def test_one_workspace_failing_does_not_fail_the_others(stored: StoredSite) -> None:
    stored.processor.notifier.subscriptions = BrokenForOneTeam(stored.switch, ConnectPolicy())
    stored.links.link_channel(T, "C1", "U1", "OPS-2")
    stored.subscribe("C2", "OPS")
    with stored.uow() as work:
        work.session.add(
            ChannelSubscription(
                team_id="T0OTHER", channel_id="C9", number=1, project_key="OPS", created_by="U9"
            )
        )
        work.commit()
    _move(stored, "OPS-2")
    stored.store()
    for _ in range(6):
        stored.work(after=200)
    # This workspace heard of it once, though the delivery was tried until it failed for good.
    assert [p.text.count("To Do → In Progress") for p in stored.posts("C1")] == [1]
    assert [p.text.count("To Do → In Progress") for p in stored.posts("C2")] == [1]
    (delivery,) = stored.deliveries()
    assert (delivery.status, delivery.attempts) == (FAILED, 5)
    assert "RuntimeError" in (delivery.last_error or "")
    (item,) = FailedWork(stored.uow).items()
    assert (item.kind, item.destination) == ("delivery", "Jira issue OPS-2")


def test_slack_outage_spends_no_attempt(stored: StoredSite) -> None:
    from clients.slack_client import SlackUnavailable

    stored.links.link_channel(T, "C1", "U1", "OPS-2")
    _move(stored, "OPS-2")
    stored.store()
    stored.slack.fail_next(
        SlackUnavailable("http_503", "Slack is down"), method="post_message", times=12
    )
    stored.work(rounds=14, after=301)
    (row,) = stored.rows()
    assert row.status == SENT and row.attempts == 1
    assert "To Do → In Progress" in stored.posts("C1")[0].text


def test_failed_work_is_listed_and_queued_again(stored: StoredSite) -> None:
    from clients.slack_client import SlackError

    stored.links.link_channel(T, "C1", "U1", "OPS-2")
    _move(stored, "OPS-2")
    stored.store()
    stored.slack.fail_next(SlackError("invalid_blocks"), method="post_message")
    stored.work()
    failed = FailedWork(stored.uow)
    (item,) = failed.items()
    assert (item.kind, item.destination, item.error) == ("notification", "C1", "invalid_blocks")
    assert failed.counts().failed["notification"] == 1
    assert failed.retry([item.id]) == [item.id]
    stored.work()
    assert "To Do → In Progress" in stored.posts("C1")[0].text
    assert failed.items() == [] and stored.rows()[0].status == SENT


def test_sixty_comments_in_one_burst_are_all_posted_within_slacks_limits(
    stored: StoredSite,
) -> None:
    stored.links.link_channel(T, "C1", "U1", "OPS-2")
    for number in range(60):
        stored.comment("OPS-2", f"comment-{number:02d} " + "x" * 1400)
    stored.store()
    stored.work(rounds=3)  # all 60 processed within the burst window
    posts = stored.posts("C1")
    text = " ".join(post.text + json.dumps(post.blocks) for post in posts)
    assert all(f"comment-{number:02d}" in text for number in range(60))
    for post in posts:
        assert len(post.blocks or []) <= MAX_BLOCKS and len(post.text) <= MAX_MESSAGE_TEXT
        for block in post.blocks or []:
            assert len((block.get("text") or {}).get("text", "")) <= MAX_SECTION_TEXT
    assert [row.status for row in stored.rows()] == [SENT] * len(stored.rows())
    assert not [d for d in stored.deliveries() if d.status in (PENDING, FAILED)]
