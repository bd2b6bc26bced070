"""No window to wait for (SPEC §7): the first change of a burst is posted at once, and the
changes after it within the burst window edit that message in place (`chat.update`), also
when the outcome of the first post was unknown (a 5xx after Slack posted it)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from models import NotificationOutbox, ProcessedDelivery, utcnow
from models.delivery import PENDING
from services.issues.links import MessageRef
from simulators.jira_site.webhooks import JiraWebhookEmitter
from tests.e2e.conftest import RunningConnect, rows_with_status, wait_marked_sent, wait_settled
from tests.waiting import wait_until

TEAM = "T0TEAM"


class SteppedClock:
    """Connect's clock, moved only by the test: the burst window and Slack's pace of one
    message a second per channel are crossed when the test says so, never by waiting."""

    def __init__(self) -> None:
        self.now = utcnow()
        self._lock = threading.Lock()

    def __call__(self) -> datetime:
        with self._lock:
            return self.now

    def advance(self, seconds: float) -> None:
        with self._lock:
            self.now += timedelta(seconds=seconds)


@pytest.fixture
def thread(connect: RunningConnect) -> Iterator[tuple[RunningConnect, str, JiraWebhookEmitter]]:
    """OPS-2 linked to a thread in #general; Jira's changes arrive as Cloud webhooks."""
    slack = connect.slack.slack
    slack.add_user("U0ALICE", "alice", real_name="Alice Adams", email="alice@example.com")
    slack.add_channel("C0GENERAL", "general", members=["U0ALICE"])
    parent = slack.add_message("C0GENERAL", "the certificates expire friday", user="U0ALICE")
    connect.runtime.services.links.link_message(
        MessageRef(TEAM, "C0GENERAL", parent.ts), "U0ALICE", "OPS-2"
    )
    emitter = connect.emit_jira_webhooks()
    yield connect, parent.ts, emitter
    emitter.stop()


def replies(connect: RunningConnect, thread_ts: str) -> list[Any]:
    return [m for m in connect.slack.slack.thread("C0GENERAL", thread_ts) if m.ts != thread_ts]


def deliveries_done(connect: RunningConnect) -> bool:
    return rows_with_status(connect.runtime.services.uow, ProcessedDelivery, PENDING) == 0


def comment(connect: RunningConnect, text: str) -> None:
    with connect.jira.jira.act_as("bob@example.com"):
        connect.jira.jira.add_comment("OPS-2", text)


def test_the_first_change_posts_at_once_and_a_burst_edits_it_in_place(thread) -> None:
    connect, ts, emitter = thread
    clock = SteppedClock()
    connect.runtime.clock = clock
    comment(connect, "change number 1")
    emitter.flush()
    # Posted without the clock moving at all: nothing waits for a window to close.
    (first,) = wait_until(lambda: replies(connect, ts), what="the first change posted")
    assert "change number 1" in first.text and not first.edited
    for n in range(2, 11):  # nine more within the same second
        comment(connect, f"change number {n}")
    emitter.flush()
    wait_until(lambda: deliveries_done(connect), what="the burst's deliveries processed")
    wait_marked_sent(connect)
    clock.advance(1.1)  # Slack's pace of the channel allows the edit; the window is still open
    wait_until(
        lambda: [m for m in replies(connect, ts) if "change number 10" in m.text],
        what="the message edited to show the whole burst",
    )
    wait_settled(connect)
    (only,) = replies(connect, ts)
    assert only.ts == first.ts and only.edited
    for n in range(1, 11):
        assert f"change number {n}\n" in only.text + "\n"
    assert len(connect.slack.calls_to("chat.postMessage")) == 1
    assert connect.slack.calls_to("chat.update")


def test_a_change_after_the_window_is_a_message_of_its_own(thread) -> None:
    connect, ts, emitter = thread
    clock = SteppedClock()
    connect.runtime.clock = clock
    comment(connect, "before the window closed")
    emitter.flush()
    wait_until(lambda: replies(connect, ts), what="the first change posted")
    # ...and marked sent, with the time of its post: advanced before that, the clock would
    # date the post 2.5 s later and the next change would still join it.
    wait_settled(connect)
    clock.advance(2.5)  # the window (2 s from the first post) is over
    comment(connect, "after the window closed")
    emitter.flush()
    first, second = wait_until(
        lambda: found if len(found := replies(connect, ts)) == 2 else None,
        what="a second message",
    )
    assert "before the window" in first.text and "after the window" not in first.text
    assert "after the window" in second.text


def test_a_post_whose_outcome_was_unknown_is_edited_not_posted_again(thread) -> None:
    """Slack posted the first change but answered 500 (as after a crash between the post and
    marking it sent): the row waits as an unknown outcome, a second change joins it, and the
    retry finds the message by its key and edits it. One message, with both changes."""
    connect, ts, emitter = thread
    clock = SteppedClock()
    connect.runtime.clock = clock
    connect.slack.fail_next("chat.postMessage", status=500, applied=True)
    comment(connect, "the first change")
    emitter.flush()
    wait_until(lambda: replies(connect, ts), what="the post Slack applied")
    wait_until(lambda: unknown_rows(connect) == 1, what="the row left with an unknown outcome")
    comment(connect, "the second change")
    emitter.flush()
    wait_until(lambda: deliveries_done(connect), what="the second change processed")
    clock.advance(10)  # past the outage back-off: the row is tried again
    wait_until(
        lambda: any("the second change" in m.text for m in replies(connect, ts)),
        what="the message edited with the second change",
    )
    wait_settled(connect)
    (only,) = replies(connect, ts)
    assert "the first change" in only.text and "the second change" in only.text
    assert len(connect.slack.calls_to("chat.postMessage")) == 1


def unknown_rows(connect: RunningConnect) -> int:
    with connect.runtime.services.uow() as work:
        rows = work.session.scalars(select(NotificationOutbox)).all()
        return sum(1 for row in rows if row.status == "sending" and row.posted_ts is None)


def test_a_burst_edits_the_dm_it_went_to_as_well(thread) -> None:
    """Carol, mapped, is mentioned three times in a burst: one DM, edited to hold all three."""
    connect, ts, emitter = thread
    slack = connect.slack.slack
    slack.add_user("U0CAROL", "carol", real_name="Carol Chen", email="carol@example.com")
    assert connect.runtime.services.users.connect(TEAM, "U0CAROL").connected
    clock = SteppedClock()
    connect.runtime.clock = clock
    comment(connect, "[~accountid:acc-carol] mention number 1")
    emitter.flush()
    wait_until(lambda: slack.messages.get("D0CAROL"), what="the first mention DMed")
    for n in (2, 3):
        comment(connect, f"[~accountid:acc-carol] mention number {n}")
    emitter.flush()
    wait_until(lambda: deliveries_done(connect), what="the burst's deliveries processed")
    wait_marked_sent(connect)
    clock.advance(1.1)
    wait_until(
        lambda: any("mention number 3" in m.text for m in slack.messages.get("D0CAROL", [])),
        what="the DM edited to show the whole burst",
    )
    wait_settled(connect)
    (dm,) = slack.messages["D0CAROL"]
    assert all(f"mention number {n}" in dm.text for n in (1, 2, 3)) and dm.edited
    (reply,) = replies(connect, ts)  # the linked thread: one message with all three too
    assert all(f"mention number {n}" in reply.text for n in (1, 2, 3))
