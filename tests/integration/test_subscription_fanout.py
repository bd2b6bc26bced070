"""Subscription fan-out on SQLite and PostgreSQL: webhook events through the detector and the
Notifier into outbox rows, sent by the dispatcher, one thread per issue per channel."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from clients.jira_client import JiraIssue
from clients.slack_client import SlackError, SlackUnavailable
from models import ChannelSubscription, NotificationOutbox, SubscriptionThread
from services.issues.links import LinkService
from services.jira_changes.deliveries import DeliveryProcessor
from services.jira_changes.events import parse_webhook
from services.notifications.fan_out import Notifier
from services.notifications.outbox import OutboxDispatcher
from services.notifications.render import render_notification
from services.policy import ConnectPolicy
from services.subscriptions.routing import SubscriptionRouter
from services.subscriptions.threads import SubscriptionThreads
from services.unit_of_work import UnitOfWorkFactory
from simulators.jira_site.memory import InMemoryJira
from simulators.jira_site.sample import with_sample_data
from simulators.jira_site.webhooks import JiraWebhookEmitter
from simulators.slack_workspace.memory import InMemorySlack, SlackMessage

T = "T0CONNECT"
BOT = "UCONNECTBOT"


class Clock:
    def __init__(self) -> None:
        self.now = datetime.now(UTC)  # Slack ts are real time: so is the clock's start
        self._lock = threading.Lock()

    def __call__(self) -> datetime:
        with self._lock:
            return self.now

    def advance(self, seconds: float) -> None:
        with self._lock:
            self.now += timedelta(seconds=seconds)


class Site:
    """Jira, Slack and Connect's worker side, driven step by step."""

    def __init__(self, uow: UnitOfWorkFactory, policy: ConnectPolicy) -> None:
        self.uow = uow
        self.clock = Clock()
        self.jira = with_sample_data(InMemoryJira())
        self.slack = InMemorySlack(team_id=T)
        for channel in ("C1", "C2", "C3"):
            self.slack.add_channel(channel, channel.lower(), members=["U1"])
        self.router = SubscriptionRouter(self.jira, policy)
        notifier = Notifier(
            connect_account=lambda: "acc-connect",
            jira_base_url=self.jira.base_url,
            clock=self.clock,
            subscriptions=self.router,
        )
        self.processor = DeliveryProcessor(uow, notifier, clock=self.clock)
        self.dispatcher = OutboxDispatcher(
            uow,
            self.slack,
            render_notification,
            worker_id="w1",
            clock=self.clock,
            threads=SubscriptionThreads(),
        )
        self.links = LinkService(uow, self.jira, self.slack, policy)
        self.payloads: list[dict[str, Any]] = []
        self.emitter = JiraWebhookEmitter(self.jira, self.payloads.append).start()

    def subscribe(
        self, channel: str, project: str | None, jql: str | None = None, *, kinds: str = ""
    ) -> None:
        extra = {"event_kinds": kinds} if kinds else {}
        with self.uow() as work:
            highest = len(
                work.session.scalars(
                    select(ChannelSubscription).where(ChannelSubscription.channel_id == channel)
                ).all()
            )
            work.session.add(
                ChannelSubscription(
                    team_id=T,
                    channel_id=channel,
                    number=highest + 1,
                    project_key=project,
                    jql=jql,
                    created_by="U1",
                    **extra,
                )
            )
            work.commit()

    def process(self) -> None:
        """Deliver what Jira did so far, as the delivery job would."""
        self.emitter.flush()
        while self.payloads:
            payload = self.payloads.pop(0)
            with self.uow() as work:
                self.processor.process(work.session, parse_webhook(payload))
                work.commit()

    def send(self, after: float = 2.5) -> None:
        """One dispatcher pass (a change is due at once), then move the clock on: past
        Slack's pace of a channel and past the burst window of what was posted."""
        self.dispatcher.run_once()
        self.clock.advance(after)

    def posts(self, channel: str) -> list[SlackMessage]:
        return [m for m in self.slack.messages.get(channel, []) if m.user == BOT]

    def create(self, summary: str, **fields: Any) -> JiraIssue:
        with self.jira.act_as("bob@example.com"):
            return self.jira.add_issue(fields.pop("project", "OPS"), summary, **fields)

    def comment(self, key: str, text: str) -> None:
        with self.jira.act_as("carol@example.com"):
            self.jira.add_comment(key, text)


@pytest.fixture
def site(uow: UnitOfWorkFactory) -> Iterator[Site]:
    site = Site(uow, ConnectPolicy())
    yield site
    site.emitter.stop()


def test_first_post_top_level_then_replies_in_its_thread(site: Site) -> None:
    site.subscribe("C1", "OPS")
    issue = site.create("Disk full on build agents", priority="High")
    site.process()
    site.send()
    (first,) = site.posts("C1")
    assert not first.is_reply and issue.key in first.text and "created" in first.text
    site.comment(issue.key, "Cleaned /tmp.")
    site.process()
    site.send()
    posts = site.posts("C1")
    assert len(posts) == 2
    assert posts[1].thread_ts == first.ts and "Cleaned /tmp." in posts[1].text
    with site.uow() as work:
        (thread,) = work.session.scalars(select(SubscriptionThread)).all()
        assert (thread.channel_id, thread.issue_id, thread.thread_ts) == ("C1", issue.id, first.ts)


def test_changes_within_the_burst_window_make_the_first_post(site: Site) -> None:
    site.subscribe("C1", "OPS")
    issue = site.create("Queue backlog")
    site.process()
    site.comment(issue.key, "Looking.")
    site.process()
    site.send()
    (only,) = site.posts("C1")
    assert "created" in only.text and "Looking." in only.text


def test_a_later_event_waits_until_the_first_post_is_out(site: Site) -> None:
    site.subscribe("C1", "OPS")
    issue = site.create("Certificates expire")
    site.process()
    site.slack.fail_next(
        SlackUnavailable("ratelimited", retry_after=30.0), method="post_message", times=1
    )
    site.send()  # the first post is rate limited: it will be tried again in 30 s
    assert site.posts("C1") == []
    site.clock.advance(5)
    site.comment(issue.key, "Renewing now.")
    site.process()
    for _ in range(5):  # the comment is due, but its thread is not there yet
        site.send(after=3)
    assert site.posts("C1") == []
    with site.uow() as work:
        waiting = work.session.scalars(  # the comment: the rate-limited post spent no attempt
            select(NotificationOutbox).where(
                NotificationOutbox.attempts == 0, NotificationOutbox.outages == 0
            )
        ).one()
        assert waiting.status == "pending" and waiting.thread_ts is None
    site.clock.advance(20)  # the rate limit's 30 s are up
    site.send()
    (first,) = site.posts("C1")
    assert not first.is_reply and "created" in first.text
    site.send(after=1.5)
    first, reply = site.posts("C1")
    assert reply.thread_ts == first.ts and "Renewing now." in reply.text


def test_when_the_first_post_fails_for_good_the_next_one_starts_the_thread(site: Site) -> None:
    site.subscribe("C1", "OPS")
    issue = site.create("Flaky deploys")
    site.process()
    site.slack.fail_next(SlackError("invalid_blocks"), method="post_message")
    site.send()
    site.comment(issue.key, "First comment.")
    site.process()
    site.send()
    (first,) = site.posts("C1")
    assert not first.is_reply and "First comment." in first.text
    site.comment(issue.key, "Second comment.")
    site.process()
    site.send()
    assert site.posts("C1")[1].thread_ts == first.ts


def test_a_filter_keeps_other_issues_out_and_kinds_are_respected(site: Site) -> None:
    site.subscribe("C1", "OPS", "priority = High")
    site.subscribe("C2", "OPS", kinds="created")
    site.subscribe("C3", None, "priority in (High, Highest) AND type = Bug")
    high = site.create("Database down", priority="High", issue_type="Bug")
    low = site.create("Typo in footer", priority="Low")
    web = site.create("Broken form", project="WEB", priority="High", issue_type="Bug")
    site.process()
    for _ in range(3):
        site.send(after=1.5)
    assert [p.text.count(high.key) > 0 for p in site.posts("C1")] == [True]
    assert sorted(k for p in site.posts("C2") for k in (high.key, low.key) if k in p.text) == [
        high.key,
        low.key,
    ]
    assert sorted(k for p in site.posts("C3") for k in (high.key, web.key) if k in p.text) == [
        high.key,
        web.key,
    ]
    site.comment(high.key, "On it.")
    site.process()
    site.send(after=3)
    assert len(site.posts("C1")) == 2 and len(site.posts("C2")) == 2  # C2 follows creations only
    # Every filter here was decided without asking Jira.
    assert [name for name, _, _ in site.jira.calls if name == "search"] == []


def test_a_filter_only_jira_can_answer_is_asked_once_per_issue_version(site: Site) -> None:
    site.subscribe("C1", "OPS", 'summary ~ "outage"')
    site.subscribe("C2", "OPS", 'summary ~ "outage"')
    site.create("Outage in eu-west")
    site.create("Quarterly report")
    site.process()
    site.send()
    site.send(after=1.5)
    assert len(site.posts("C1")) == 1 and len(site.posts("C2")) == 1
    searches = [args[0] for name, args, _ in site.jira.calls if name == "search"]
    assert len(searches) == 2  # one per issue, shared by both channels
    assert all(query.endswith('AND (project = "OPS" AND summary ~ "outage")') for query in searches)


def test_a_channel_that_links_and_subscribes_hears_each_change_once(site: Site) -> None:
    site.subscribe("C1", "OPS")
    site.links.link_channel(T, "C1", "U1", "OPS-2")
    with site.jira.act_as("bob@example.com"):
        site.jira.transition_issue("OPS-2", "11")
    site.process()
    site.send()
    site.send(after=1.5)
    (post,) = site.posts("C1")
    assert "To Do → In Progress" in post.text


def test_projects_outside_jira_projects_are_never_posted(uow: UnitOfWorkFactory) -> None:
    site = Site(uow, ConnectPolicy(allowed_projects=frozenset({"WEB"})))
    try:
        site.subscribe("C1", None, "priority = High")
        site.create("Secret ops thing", priority="High")
        web = site.create("Public web thing", project="WEB", priority="High")
        site.process()
        site.send()
        site.send(after=1.5)
        (post,) = site.posts("C1")
        assert web.key in post.text
    finally:
        site.emitter.stop()


def test_an_unsubscribed_channel_hears_nothing_more(site: Site) -> None:
    site.subscribe("C1", "OPS")
    issue = site.create("Noisy alerts")
    site.process()
    site.send()
    with site.uow() as work:
        for row in work.session.scalars(select(ChannelSubscription)):
            row.active = False
        work.commit()
    site.comment(issue.key, "Muted.")
    site.process()
    site.send()
    assert len(site.posts("C1")) == 1


def test_a_comment_event_without_the_filtered_field_asks_jira(site: Site) -> None:
    site.subscribe("C1", "OPS", "priority = High")
    issue = site.create("Replica lag", priority="High")
    site.process()
    site.send()
    (first,) = site.posts("C1")
    # Jira Cloud's comment events carry a reduced issue: no priority, so Jira is asked.
    reduced = {"id": issue.id, "key": issue.key, "fields": {"summary": issue.summary}}
    payload = {
        "webhookEvent": "comment_created",
        "issue": reduced,
        "comment": {
            "id": "90001",
            "body": "Lag is back under a second.",
            "author": {"accountId": "acc-carol", "displayName": "Carol Chen"},
            "created": "2030-01-01T10:00:00.000+0000",
            "updated": "2030-01-01T10:00:00.000+0000",
        },
    }
    site.jira.calls.clear()
    with site.uow() as work:
        site.processor.process(work.session, parse_webhook(payload))
        work.commit()
    site.send()
    assert [args for name, args, _ in site.jira.calls if name == "search"] == [
        (f'key = {issue.key} AND (project = "OPS" AND priority = High)',)
    ]
    reply = site.posts("C1")[1]
    assert reply.thread_ts == first.ts and "Lag is back under a second." in reply.text


def test_fan_out_to_many_channels_is_rows_not_sends(site: Site) -> None:
    channels = [f"CMANY{n:03}" for n in range(200)]
    for channel in channels:
        site.subscribe(channel, "OPS", "priority = High")
    site.create("Everyone wants to know", priority="High")
    site.process()  # intake's side: rows only, no Slack call and no Jira search
    assert site.slack.calls == []
    assert [name for name, _, _ in site.jira.calls if name == "search"] == []
    with site.uow() as work:
        rows = work.session.scalars(select(NotificationOutbox)).all()
        assert sorted(row.channel_id for row in rows) == channels
    site.clock.advance(2.5)
    while site.dispatcher.run_once():
        pass
    assert all(len(site.posts(channel)) == 1 for channel in channels)
