"""The outbox under failure: sent once, rescheduled on 429, found again after a crash."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from clients.slack_client import SlackUnavailable
from models import NotificationOutbox
from models.delivery import FAILED, PENDING, SENDING, SENT
from services.notifications.outbox import METADATA_EVENT, METADATA_KEY, OutboxDispatcher
from services.unit_of_work import UnitOfWorkFactory
from simulators.slack_workspace.memory import InMemorySlack

T0 = datetime.now(UTC).replace(microsecond=0)  # Slack ts are real time: so is the clock


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


def render(payload: Any) -> tuple[str, list[dict[str, Any]]]:
    return str(payload["text"]), [
        {"type": "section", "text": {"type": "mrkdwn", "text": payload["text"]}}
    ]


@pytest.fixture
def slack() -> InMemorySlack:
    slack = InMemorySlack()
    slack.add_channel("C1", "general")
    slack.add_channel("C2", "random")
    return slack


@pytest.fixture
def clock() -> Clock:
    return Clock()


def dispatcher(
    uow: UnitOfWorkFactory, slack: InMemorySlack, clock: Clock, name: str = "w1"
) -> OutboxDispatcher:
    return OutboxDispatcher(uow, slack, render, worker_id=name, clock=clock)


def add(
    uow: UnitOfWorkFactory, key: str, channel: str = "C1", *, due: datetime = T0, **extra: Any
) -> None:
    with uow() as work:
        work.session.add(
            NotificationOutbox(
                team_id="T1",
                idempotency_key=key,
                channel_id=channel,
                payload={"text": f"news {key}"},
                created_at=T0 - timedelta(seconds=5),
                available_at=due,
                **extra,
            )
        )
        work.commit()


def row(uow: UnitOfWorkFactory, key: str) -> NotificationOutbox:
    with uow() as work:
        found = work.session.scalars(
            select(NotificationOutbox).where(NotificationOutbox.idempotency_key == key)
        ).one()
        work.session.expunge(found)  # read after the unit of work ends
        return found


def posts(slack: InMemorySlack, channel: str = "C1") -> list[Any]:
    return [m for m in slack.messages.get(channel, []) if m.user == slack.bot_user_id]


def test_a_due_row_is_sent_once_with_its_key_in_metadata(uow, slack, clock) -> None:
    add(uow, "k1")
    add(uow, "later", due=T0 + timedelta(seconds=10), channel="C2")
    sender = dispatcher(uow, slack, clock)
    assert sender.run_once() == 1
    assert sender.run_once() == 0
    sent = posts(slack)
    assert [m.text for m in sent] == ["news k1"]
    assert sent[0].metadata == {"event_type": METADATA_EVENT, "event_payload": {METADATA_KEY: "k1"}}
    stored = row(uow, "k1")
    assert stored.status == SENT and stored.posted_ts == sent[0].ts
    assert row(uow, "later").status == PENDING


def test_rate_limits_delay_but_neither_lose_nor_double(uow, slack, clock) -> None:
    add(uow, "k1")
    slack.fail_next(SlackUnavailable("ratelimited", retry_after=3), method="post_message", times=2)
    sender = dispatcher(uow, slack, clock)
    sender.run_once()
    assert row(uow, "k1").status == PENDING
    assert row(uow, "k1").available_at == T0 + timedelta(seconds=3)
    assert sender.run_once() == 0  # not due yet
    clock.now += timedelta(seconds=3)
    sender.run_once()
    clock.now += timedelta(seconds=3)
    sender.run_once()
    assert row(uow, "k1").status == SENT
    assert len(posts(slack)) == 1


def test_a_crash_between_send_and_mark_does_not_post_twice(uow, slack, clock) -> None:
    # The dead sender posted (the key is in Slack) but never marked the row.
    slack.post_message(
        "C1",
        text="news k1",
        metadata={"event_type": METADATA_EVENT, "event_payload": {METADATA_KEY: "k1"}},
    )
    add(
        uow,
        "k1",
        status=SENDING,
        claimed_by="dead",
        claimed_until=T0 - timedelta(seconds=1),
        attempts=1,
    )
    dispatcher(uow, slack, clock).run_once()
    assert row(uow, "k1").status == SENT
    assert len(posts(slack)) == 1


def test_a_crash_before_the_send_still_sends(uow, slack, clock) -> None:
    add(
        uow,
        "k1",
        status=SENDING,
        claimed_by="dead",
        claimed_until=T0 - timedelta(seconds=1),
        attempts=1,
    )
    dispatcher(uow, slack, clock).run_once()
    assert row(uow, "k1").status == SENT
    assert len(posts(slack)) == 1


def test_a_live_claim_is_left_alone(uow, slack, clock) -> None:
    add(
        uow,
        "k1",
        status=SENDING,
        claimed_by="other",
        claimed_until=T0 + timedelta(seconds=30),
        attempts=1,
    )
    assert dispatcher(uow, slack, clock).run_once() == 0
    assert posts(slack) == []


def test_one_message_a_second_per_channel(uow, slack, clock) -> None:
    for key in ("a", "b", "c"):
        add(uow, key)
    add(uow, "other", channel="C2")
    sender = dispatcher(uow, slack, clock)
    assert sender.run_once() == 2  # one per channel
    assert sender.run_once() == 0  # C1 posted less than a second ago, C2 has nothing left
    clock.now += timedelta(seconds=1)
    assert sender.run_once() == 1
    assert len(posts(slack)) == 2 and len(posts(slack, "C2")) == 1


def test_permanent_errors_fail_the_row(uow, slack, clock) -> None:
    add(uow, "gone", channel="CGONE")
    slack.fail_next("channel_not_found", method="post_message")
    dispatcher(uow, slack, clock).run_once()
    assert row(uow, "gone").status == FAILED
    assert row(uow, "gone").last_error == "channel_not_found"


def test_several_dispatchers_send_each_row_once(uow, slack) -> None:
    channels = [f"C{i:03d}" for i in range(30)]
    for channel in channels:
        slack.add_channel(channel, channel)
        add(uow, f"k-{channel}", channel=channel)
    clock = Clock()
    senders = [dispatcher(uow, slack, clock, name=f"w{i}") for i in range(4)]
    barrier = threading.Barrier(len(senders))

    def drain(sender: OutboxDispatcher) -> None:
        barrier.wait()
        while sender.run_once(limit=3):
            pass

    threads = [threading.Thread(target=drain, args=(s,)) for s in senders]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    for channel in channels:
        assert len(posts(slack, channel)) == 1, channel
    with uow() as work:
        assert set(work.session.scalars(select(NotificationOutbox.status))) == {SENT}


def test_a_busy_channels_backlog_does_not_hold_up_quiet_channels(uow, slack, clock) -> None:
    for index in range(30):
        add(uow, f"busy-{index:02d}", channel="C1", due=T0 - timedelta(seconds=60 - index))
    add(uow, "quiet", channel="C2")
    sender = dispatcher(uow, slack, clock)
    sender.run_once(limit=5)  # the five oldest rows are all #C1's: one of them goes out
    sender.run_once(limit=5)  # #C1 is paced now, so the query looks past its backlog
    assert len(posts(slack, "C2")) == 1
    assert len(posts(slack, "C1")) == 1


def grow(uow: UnitOfWorkFactory, key: str, text: str) -> None:
    """What the notifier does when a change joins a row's burst: a bigger payload, the next
    revision, and a posted row due again."""
    with uow() as work:
        found = work.session.scalars(
            select(NotificationOutbox).where(NotificationOutbox.idempotency_key == key)
        ).one()
        found.payload = {"text": text}
        found.revision += 1
        if found.status == SENT:
            found.status, found.available_at = PENDING, T0
        work.commit()


def test_a_grown_burst_edits_the_posted_message(uow, slack, clock) -> None:
    add(uow, "k1")
    sender = dispatcher(uow, slack, clock)
    sender.run_once()
    grow(uow, "k1", "news k1 and more")
    assert sender.run_once() == 0  # Slack's pace of the channel: not within the second
    clock.now += timedelta(seconds=1)
    assert sender.run_once() == 1
    (only,) = posts(slack)
    assert only.text == "news k1 and more" and only.edited
    stored = row(uow, "k1")
    assert stored.status == SENT and stored.sent_revision == stored.revision == 1
    assert len(slack.calls_to("post_message")) == 1


def test_a_change_joined_while_the_row_was_being_sent_is_edited_in_after(uow, slack, clock) -> None:
    add(uow, "k1")

    posted = threading.Event()
    original = slack.post_message

    def post_then_join(channel: str, **kwargs: Any) -> Any:
        answer = original(channel, **kwargs)
        if not posted.is_set():
            posted.set()
            grow(uow, "k1", "news k1, joined mid-send")  # the notifier, between post and mark
        return answer

    slack.post_message = post_then_join  # type: ignore[method-assign]
    sender = dispatcher(uow, slack, clock)
    sender.run_once()
    stored = row(uow, "k1")
    assert stored.status == PENDING and stored.sent_revision == 0 and stored.revision == 1
    clock.now += timedelta(seconds=1)
    sender.run_once()
    (only,) = posts(slack)
    assert only.text == "news k1, joined mid-send"
    assert row(uow, "k1").status == SENT


def test_an_unknown_outcome_found_in_slack_is_edited_not_posted_again(uow, slack, clock) -> None:
    # The dead sender posted the first version; a change joined the row before it was retried.
    slack.post_message(
        "C1",
        text="news k1",
        metadata={"event_type": METADATA_EVENT, "event_payload": {METADATA_KEY: "k1"}},
    )
    add(
        uow,
        "k1",
        status=SENDING,
        claimed_by="dead",
        claimed_until=T0 - timedelta(seconds=1),
        attempts=1,
    )
    grow(uow, "k1", "news k1 and the change after it")
    dispatcher(uow, slack, clock).run_once()
    (only,) = posts(slack)
    assert only.text == "news k1 and the change after it" and only.edited
    assert row(uow, "k1").status == SENT


def test_a_dm_row_goes_to_the_persons_dm_and_is_edited_there(uow, slack, clock) -> None:
    slack.add_user("U1", "carol", real_name="Carol Chen", email="carol@example.com")
    add(uow, "dm1", channel="U1")
    sender = dispatcher(uow, slack, clock)
    sender.run_once()
    dm = slack.open_dm("U1")
    stored = row(uow, "dm1")
    assert stored.posted_channel == dm and [m.text for m in posts(slack, dm)] == ["news dm1"]
    grow(uow, "dm1", "news dm1 grown")
    clock.now += timedelta(seconds=1)
    sender.run_once()
    assert [m.text for m in posts(slack, dm)] == ["news dm1 grown"]


def test_a_burst_whose_message_was_deleted_goes_on_in_a_new_one(uow, slack, clock) -> None:
    add(uow, "k1")
    sender = dispatcher(uow, slack, clock)
    sender.run_once()
    (first,) = posts(slack)
    slack.messages["C1"].remove(first)  # someone deleted it
    grow(uow, "k1", "news k1 and more")
    clock.now += timedelta(seconds=1)
    sender.run_once()
    (again,) = posts(slack)
    assert again.text == "news k1 and more" and again.ts != first.ts
    stored = row(uow, "k1")
    assert stored.status == SENT and stored.posted_ts == again.ts
