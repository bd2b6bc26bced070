"""The change detector on the poller's snapshots, and with webhooks for the same issue: an
update seen both ways is announced once (SPEC §7)."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from clients.jira_client import JiraHistory
from services.jira_changes.announced_state import MAX_COMMENTS
from services.jira_changes.detector import Change, baseline, detect, detect_snapshot
from services.jira_changes.events import CommentInfo
from tests.unit.jira_webhook_samples import (
    ALICE,
    BOB,
    T0,
    event,
    kinds,
    linked,
    play,
    snapshot,
)


def test_first_poll_sets_the_baseline_and_tells_nothing() -> None:
    polled = detect_snapshot(snapshot(status="In Progress"), [], None)
    assert polled.changes == ()
    assert polled.state["status"] == "In Progress"
    assert detect(event("cloud_issue_created"), polled.state).changes == ()


def test_first_poll_tells_created_for_issues_created_since() -> None:
    fresh = detect_snapshot(snapshot(), [], None, since=T0 - timedelta(minutes=5))
    assert [(c.kind, c.new) for c in fresh.changes] == [
        ("created", "Checkout fails for EU customers")
    ]
    assert detect(event("cloud_issue_created"), fresh.state).changes == ()
    old = detect_snapshot(snapshot(), [], None, since=T0 + timedelta(minutes=5))
    assert old.changes == ()


def test_webhook_then_poll_is_told_once() -> None:
    after_webhook = detect(event("cloud_issue_updated_status"), linked())
    assert kinds(after_webhook.changes) == ["status"]
    later = T0 + timedelta(minutes=30)
    polled = detect_snapshot(snapshot(status="In Progress", updated=later), [], after_webhook.state)
    assert polled.changes == ()


def test_poll_then_webhook_is_told_once_with_the_same_identity() -> None:
    at = datetime(2024, 3, 4, 8, 21, 40, 2000, tzinfo=UTC)
    polled = detect_snapshot(snapshot(status="In Progress", assignee=BOB, updated=at), [], linked())
    assert kinds(polled.changes) == ["status", "assignee"]
    webhooks = play(
        [event("cloud_issue_updated_status"), event("cloud_issue_assigned")], polled.state
    )
    assert webhooks == []
    by_webhook = play(
        [event("cloud_issue_updated_status"), event("cloud_issue_assigned")], linked()
    )
    assert [c.identity for c in polled.changes] == [c.identity for c in by_webhook]


def test_a_webhook_older_than_the_last_poll_tells_nothing() -> None:
    # The poller saw Done before the (older) webhook for In Progress arrived.
    polled = detect_snapshot(snapshot(status="Done", updated=T0 + timedelta(hours=1)), [], linked())
    assert [c.new for c in polled.changes] == ["Done"]
    assert detect(event("cloud_issue_updated_status"), polled.state).changes == ()


def test_a_polled_change_is_credited_to_whom_the_changelog_names() -> None:
    at = T0 + timedelta(minutes=10)
    history = (
        JiraHistory(ALICE, T0 - timedelta(days=3), ("status",)),  # long before
        JiraHistory(BOB, at - timedelta(minutes=2), ("status", "resolution")),
        JiraHistory(ALICE, at - timedelta(minutes=1), ("assignee",)),
    )
    seen = snapshot(status="In Progress", assignee=BOB, updated=at, history=history)
    polled = detect_snapshot(seen, [], linked())
    assert [(c.kind, c.actor) for c in polled.changes] == [("status", BOB), ("assignee", ALICE)]


def test_a_changelog_entry_older_than_the_last_announced_change_credits_nobody() -> None:
    first = T0 + timedelta(minutes=10)
    state = detect_snapshot(snapshot(status="In Progress", updated=first), [], linked()).state
    later = first + timedelta(minutes=10)
    # The entry for this second change is missing (a changelog cut short): the one there is
    # about the first change, and must not be credited with the second.
    history = (JiraHistory(BOB, first - timedelta(seconds=5), ("status",)),)
    polled = detect_snapshot(snapshot(status="Done", updated=later, history=history), [], state)
    assert [(c.new, c.actor) for c in polled.changes] == [("Done", None)]


def test_a_webhook_names_its_own_user_whatever_a_changelog_says() -> None:
    history = (JiraHistory(ALICE, T0 + timedelta(hours=1), ("status",)),)
    hooked = event("cloud_issue_updated_status")
    assert hooked.issue is not None
    hooked = replace(hooked, issue=replace(hooked.issue, history=history))
    (change,) = detect(hooked, linked()).changes
    assert change.actor == hooked.actor


def test_flip_flop_seen_by_polls() -> None:
    state = linked()
    told: list[Change] = []
    for minutes, status in enumerate(["In Progress", "To Do", "In Progress", "In Progress"]):
        seen = snapshot(status=status, updated=T0 + timedelta(minutes=minutes + 1))
        detection = detect_snapshot(seen, [], state)
        told.extend(detection.changes)
        state = detection.state
    assert [c.new for c in told] == ["In Progress", "To Do", "In Progress"]
    assert len({c.identity for c in told}) == 3


def test_poll_tells_moves_and_summary_and_resolution() -> None:
    seen = snapshot(
        key="SUP-7", project_key="SUP", summary="Renamed", resolution="Done",
        updated=T0 + timedelta(hours=2),
    )  # fmt: skip
    polled = detect_snapshot(seen, [], linked())
    assert [(c.kind, c.old, c.new) for c in polled.changes] == [
        ("moved", "OPS-42", "SUP-7"),
        ("resolution", None, "Done"),
        ("summary", "Checkout fails for EU customers", "Renamed"),
    ]
    assert all(c.issue_key == "SUP-7" for c in polled.changes)


def test_poll_ignores_fields_a_snapshot_does_not_show() -> None:
    seen = snapshot(priority=None, status=None, updated=T0 + timedelta(hours=1))
    assert detect_snapshot(seen, [], linked()).changes == ()
    reduced = snapshot(assignee=None, complete=False)
    state = detect(event("cloud_issue_assigned"), linked()).state
    assert detect_snapshot(reduced, [], state).changes == ()


def comment(cid: str, minutes: int, body: str = "text", edited: int | None = None) -> CommentInfo:
    created = T0 + timedelta(minutes=minutes)
    updated = created if edited is None else T0 + timedelta(minutes=edited)
    return CommentInfo(cid, body, BOB, None, created, updated)


def test_poll_tells_new_and_edited_comments_once() -> None:
    state = linked()
    first = detect_snapshot(snapshot(), [comment("1", 5), comment("2", 6)], state)
    assert [(c.kind, c.comment.id if c.comment else None) for c in first.changes] == [
        ("comment_added", "1"),
        ("comment_added", "2"),
    ]
    again = detect_snapshot(snapshot(), [comment("1", 5), comment("2", 6)], first.state)
    assert again.changes == ()
    edited = detect_snapshot(snapshot(), [comment("1", 5, edited=9), comment("2", 6)], again.state)
    assert [(c.kind, c.actor) for c in edited.changes] == [("comment_edited", BOB)]


def test_comment_by_webhook_then_by_poll_is_told_once() -> None:
    state = detect(event("cloud_comment_created"), linked()).state
    told = event("cloud_comment_created").comment
    assert told is not None
    as_polled = replace(told, update_author=None)
    assert detect_snapshot(snapshot(), [as_polled], state).changes == ()
    polled_first = detect_snapshot(snapshot(), [as_polled], linked())
    assert kinds(polled_first.changes) == ["comment_added"]
    assert detect(event("cloud_issue_commented"), polled_first.state).changes == ()
    assert polled_first.changes[0].identity == "10042:comment:10200"


def test_announced_comments_stay_bounded_and_old_ones_stay_quiet() -> None:
    many = [comment(str(n), n + 1) for n in range(MAX_COMMENTS + 50)]
    state = detect_snapshot(snapshot(), many, linked()).state
    assert len(state["comments"]) == MAX_COMMENTS
    assert detect_snapshot(snapshot(), many, state).changes == ()
    newer = detect_snapshot(snapshot(), [*many, comment("new", 999)], state)
    assert [c.comment.id for c in newer.changes if c.comment] == ["new"]


def test_baseline_is_plain_json() -> None:
    state = baseline(snapshot(assignee=BOB), [comment("1", 1)])
    assert json.loads(json.dumps(state)) == state
    assert (state["key"], state["status"], state["assignee_id"]) == (
        "OPS-42",
        "To Do",
        BOB.account_id,
    )
    assert state["comments"] == {"1": "2024-03-04T08:16:22.104+00:00"}
