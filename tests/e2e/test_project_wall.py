"""JIRA_PROJECTS is a wall for notifications (SPEC §7, §11): an issue moved out of it, or a
project taken out of it, retires its links and subscription threads, and nothing about it
is posted again — whether Jira's webhook or the poller tells of it."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from models import (
    JiraSlackLink,
    NotificationOutbox,
    PollCursor,
    ProcessedDelivery,
    SubscriptionThread,
)
from models.delivery import DONE, PENDING, SENDING
from services.jira_changes.monitor import CURSOR_SCOPE
from simulators.jira_site.server import FakeJiraServer
from simulators.jira_site.webhooks import JiraWebhookEmitter
from simulators.slack_workspace.server import FakeSlackServer
from tests.e2e.conftest import RunningConnect, connect_settings, running_connect
from tests.e2e.test_commands import wait_for_response
from tests.waiting import wait_until

TEAM = "T0TEAM"


def ask(connect: RunningConnect, text: str, channel: str) -> str:
    _, response_url = connect.slash(text, channel=channel)
    return str(wait_for_response(connect, response_url)["text"])


def bot_posts(connect: RunningConnect, channel: str) -> list[Any]:
    slack = connect.slack.slack
    return [m for m in slack.messages.get(channel, []) if m.user == slack.bot_user_id]


def everything_handled(connect: RunningConnect) -> bool:
    """Every stored delivery processed and every queued notification settled (or none)."""
    with connect.runtime.services.uow() as work:
        deliveries = list(work.session.scalars(select(ProcessedDelivery.status)))
        pending = list(
            work.session.scalars(
                select(NotificationOutbox.id).where(
                    NotificationOutbox.status.in_((PENDING, SENDING))
                )
            )
        )
    return all(status == DONE for status in deliveries) and not pending


def active_links(connect: RunningConnect) -> list[str]:
    with connect.runtime.services.uow() as work:
        return list(
            work.session.scalars(
                select(JiraSlackLink.issue_key).where(JiraSlackLink.retired_at.is_(None))
            )
        )


def threads(connect: RunningConnect) -> list[str]:
    with connect.runtime.services.uow() as work:
        return list(work.session.scalars(select(SubscriptionThread.issue_id)))


def seen_everywhere(connect: RunningConnect) -> str:
    """All the bot posted, thread replies included, as one text."""
    slack = connect.slack.slack
    texts = []
    for channel, messages in slack.messages.items():
        for message in messages:
            texts.append(message.text)
            texts += [reply.text for reply in slack.thread(channel, message.ts)]
    return "\n".join(texts)


def _people_and_channels(connect: RunningConnect) -> None:
    slack = connect.slack.slack
    slack.add_user("U0ALICE", "alice", real_name="Alice Adams", email="alice@example.com")
    for channel, name in (("C0OPS", "ops"), ("C0WEB", "web"), ("C0SUBS", "subs")):
        slack.add_channel(channel, name, members=["U0ALICE"])


@pytest.fixture
def walled(
    fake_slack: FakeSlackServer, fake_jira: FakeJiraServer, tmp_path: Path
) -> Iterator[tuple[RunningConnect, JiraWebhookEmitter]]:
    """Connect allowed OPS and WEB; Jira also has SECRET. Jira's changes arrive as webhooks."""
    fake_jira.jira.add_project("SECRET", "Secret")
    settings = connect_settings(
        fake_slack, fake_jira, tmp_path / "connect.db", jira_projects="OPS,WEB"
    )
    with running_connect(settings, fake_slack, fake_jira) as connect:
        _people_and_channels(connect)
        emitter = connect.emit_jira_webhooks()
        yield connect, emitter
        emitter.stop()


def test_an_issue_moved_out_of_the_wall_is_unlinked_and_never_told(walled) -> None:
    connect, emitter = walled
    jira = connect.jira.jira
    assert "Linked this channel" in ask(connect, "link OPS-2", "C0OPS")
    assert "Subscribed" in ask(connect, "subscribe OPS", "C0SUBS")
    with jira.act_as("bob@example.com"):
        jira.add_comment("OPS-2", "Renewing the certificates today.")
    emitter.flush()
    wait_until(lambda: len(bot_posts(connect, "C0OPS")) == 1, what="the comment in #ops")
    wait_until(lambda: len(bot_posts(connect, "C0SUBS")) == 1, what="the comment in #subs")
    before = seen_everywhere(connect)
    assert threads(connect)

    with jira.act_as("bob@example.com"):
        moved = jira.move_issue("OPS-2", "SECRET")
        jira.update_issue(moved.key, summary="Acquire competitor quietly")
        jira.add_comment(moved.key, "Board meets on the 12th.")
    emitter.flush()
    wait_until(lambda: everything_handled(connect), what="the deliveries to be handled")

    assert seen_everywhere(connect) == before  # not a word more, anywhere
    assert moved.key not in before
    assert active_links(connect) == []
    assert threads(connect) == []
    assert "No issues are linked" in ask(connect, "links", "C0OPS")


def test_an_issue_moved_within_the_wall_is_still_followed(walled) -> None:
    connect, emitter = walled
    jira = connect.jira.jira
    assert "Linked this channel" in ask(connect, "link OPS-2", "C0OPS")
    with jira.act_as("bob@example.com"):
        moved = jira.move_issue("OPS-2", "WEB")
    emitter.flush()
    wait_until(lambda: bot_posts(connect, "C0OPS") != [], what="the move in #ops")
    (post,) = bot_posts(connect, "C0OPS")
    assert "moved OPS-2 to " + moved.key in post.text
    assert active_links(connect) == [moved.key]
    assert moved.key in ask(connect, "links", "C0OPS")


@pytest.fixture
def polled(
    fake_slack: FakeSlackServer, fake_jira: FakeJiraServer, tmp_path: Path
) -> Iterator[RunningConnect]:
    """Connect allowed OPS and WEB, polling twice a second; no webhooks reach it."""
    fake_jira.jira.add_project("SECRET", "Secret")
    settings = connect_settings(
        fake_slack,
        fake_jira,
        tmp_path / "connect.db",
        jira_projects="OPS,WEB",
        connect_poll_interval=0.5,
    )
    with running_connect(settings, fake_slack, fake_jira) as connect:
        _people_and_channels(connect)
        yield connect


def polled_since(connect: RunningConnect, moment: datetime) -> bool:
    with connect.runtime.services.uow() as work:
        cursor = work.session.scalars(
            select(PollCursor.cursor_at).where(PollCursor.scope == CURSOR_SCOPE)
        ).first()
    return cursor is not None and cursor > moment


def test_the_poller_retires_an_issue_moved_out_of_the_wall(polled) -> None:
    connect = polled
    jira = connect.jira.jira
    assert "Linked this channel" in ask(connect, "link OPS-2", "C0OPS")
    with jira.act_as("bob@example.com"):
        moved = jira.move_issue("OPS-2", "SECRET")
        jira.update_issue(moved.key, summary="Acquire competitor quietly")
        jira.add_comment(moved.key, "Board meets on the 12th.")
    # A cycle that started after the poller's webhook grace (2 cycles of at least 1 s) has
    # seen the changes.
    settled = jira.now() + timedelta(seconds=2.5)
    wait_until(lambda: polled_since(connect, settled), what="a poll after the move")
    wait_until(lambda: everything_handled(connect), what="the notifications to be handled")

    assert bot_posts(connect, "C0OPS") == []
    assert active_links(connect) == []
    assert "No issues are linked" in ask(connect, "links", "C0OPS")


def test_a_project_taken_out_of_the_wall_is_retired_when_connect_starts(
    fake_slack: FakeSlackServer, fake_jira: FakeJiraServer, tmp_path: Path
) -> None:
    database = tmp_path / "connect.db"
    jira = fake_jira.jira
    before = connect_settings(fake_slack, fake_jira, database, jira_projects="OPS,WEB")
    with running_connect(before, fake_slack, fake_jira) as connect:
        _people_and_channels(connect)
        assert "Linked this channel" in ask(connect, "link WEB-1", "C0WEB")
        assert "Linked this channel" in ask(connect, "link OPS-1", "C0OPS")
        assert "Subscribed" in ask(connect, "subscribe WEB", "C0SUBS")
        emitter = connect.emit_jira_webhooks()
        with jira.act_as("bob@example.com"):
            jira.add_comment("WEB-1", "Checkout copy is ready.")
        emitter.flush()
        emitter.stop()
        wait_until(lambda: len(bot_posts(connect, "C0WEB")) == 1, what="the comment in #web")
        wait_until(lambda: len(bot_posts(connect, "C0SUBS")) == 1, what="the comment in #subs")
        assert sorted(active_links(connect)) == ["OPS-1", "WEB-1"]
        assert threads(connect)

    after = connect_settings(fake_slack, fake_jira, database, jira_projects="OPS")
    with running_connect(after, fake_slack, fake_jira) as connect:
        wait_until(lambda: active_links(connect) == ["OPS-1"], what="WEB-1's link to be retired")
        assert threads(connect) == []
        assert "No issues are linked" in ask(connect, "links", "C0WEB")
        said = seen_everywhere(connect)
        emitter = connect.emit_jira_webhooks()
        with jira.act_as("bob@example.com"):
            jira.add_comment("WEB-1", "Launch moved to the 14th.")
            jira.update_issue("WEB-1", summary="Secret launch plan")
        emitter.flush()
        emitter.stop()
        wait_until(lambda: everything_handled(connect), what="the deliveries to be handled")
        assert seen_everywhere(connect) == said
