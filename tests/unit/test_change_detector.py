"""The change detector on webhook events: each change announced once (SPEC §6, §7)."""

from __future__ import annotations

import copy
import json
from datetime import timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.jira_changes.detector import (
    Detection,
    baseline,
    detect,
    detect_deleted,
    detect_snapshot,
)
from services.jira_changes.events import delivery_key, parse_webhook
from tests.unit.jira_webhook_samples import (
    FIXTURE_NAMES,
    T0,
    body,
    event,
    kinds,
    linked,
    play,
    snapshot,
    status_change,
)

# --- webhook events ----------------------------------------------------------------------

CLOUD_STORY = [
    ("cloud_issue_created", ["created"]),
    ("cloud_issue_updated_status", ["status"]),
    ("cloud_issue_assigned", ["assignee"]),
    ("cloud_comment_created", ["comment_added"]),
    ("cloud_issue_commented", []),  # the twin of the comment just told
    ("cloud_comment_updated", ["comment_edited"]),
    ("cloud_issue_unassigned", ["assignee"]),
    ("cloud_issue_updated_priority", ["priority"]),
    ("cloud_issue_updated_summary", ["summary"]),
    ("cloud_comment_created_adf", ["comment_added"]),
    ("cloud_comment_deleted", ["comment_deleted"]),
    ("cloud_issue_updated_empty_changelog", ["assignee"]),  # told by comparing the snapshot
    ("cloud_issue_moved", ["moved", "status"]),
    ("cloud_issue_deleted", ["deleted"]),
]


def test_a_cloud_issue_life_is_told_change_by_change() -> None:
    state: dict[str, Any] | None = None
    for name, expected in CLOUD_STORY:
        detection = detect(event(name), state)
        assert kinds(detection.changes) == expected, name
        state = detection.state
        json.dumps(state)  # stored in a JSON column
        assert kinds(detect(event(name), state).changes) == [], f"{name} told twice"


def test_changes_say_who_changed_what() -> None:
    changes = play(event(name) for name, _ in CLOUD_STORY)
    told = {(c.kind, c.old, c.new, c.actor.display_name if c.actor else None) for c in changes}
    assert ("status", "To Do", "In Progress", "Alice Martin") in told
    assert ("assignee", None, "Bob Chen", "Alice Martin") in told
    assert ("assignee", "Bob Chen", None, "Alice Martin") in told
    assert ("priority", "Medium", "High", "Alice Martin") in told
    assert ("moved", "OPS-42", "SUP-7", "Alice Martin") in told
    assert ("created", None, "Checkout fails for EU customers", "Alice Martin") in told
    comments = [c for c in changes if c.comment is not None]
    assert [(c.kind, c.actor.display_name if c.actor else None) for c in comments] == [
        ("comment_added", "Bob Chen"),
        ("comment_edited", "Bob Chen"),
        ("comment_added", "Alice Martin"),
        ("comment_deleted", "Bob Chen"),
    ]
    assert comments[1].comment is not None
    assert comments[1].comment.body == "Reproduced with a *test card* (Visa and Mastercard)."


def test_important_changes() -> None:
    changes = play(event(name) for name, _ in CLOUD_STORY)
    assert {c.kind for c in changes if not c.important} == {"priority", "summary"}


def test_a_data_center_issue_life() -> None:
    names = [
        "dc_issue_updated_status",
        "dc_issue_assigned",
        "dc_comment_created",
        "dc_issue_commented",
        "dc_old_issue_updated_commented",
        "dc_issue_updated_upper_case_fields",
        "dc_issue_resolved",
        "dc_old_issue_updated_assigned",
        "dc_comment_deleted",
    ]
    changes = play(event(name) for name in names)
    assert [(c.kind, c.old, c.new) for c in changes if c.comment is None] == [
        ("status", "Open", "In Progress"),
        ("assignee", None, "Jane Smith"),
        ("status", "In Progress", "In Review"),  # "Status", not the custom "Sprint"
        ("status", "In Review", "Resolved"),
        ("resolution", None, "Fixed"),
        ("assignee", "Jane Smith", "Marco Lopez"),
    ]
    comments = [(c.kind, c.comment.id) for c in changes if c.comment is not None]
    assert comments == [
        ("comment_added", "40010"),
        ("comment_added", "40011"),
        ("comment_deleted", "40011"),
    ]
    # Data Center comment events name no key; the announced state knows it.
    assert {c.issue_key for c in changes} == {"PAY-7"}


@pytest.mark.parametrize(
    "pair",
    [
        ("cloud_comment_created", "cloud_issue_commented"),
        ("cloud_issue_commented", "cloud_comment_created"),
        ("dc_comment_created", "dc_issue_commented"),
        ("dc_issue_commented", "dc_comment_created"),
    ],
)
def test_comment_twins_are_told_once_in_either_order(pair: tuple[str, str]) -> None:
    at_link = event(
        "dc_issue_updated_status" if pair[0].startswith("dc") else "cloud_issue_created"
    )
    assert at_link.issue is not None
    for state in (None, baseline(at_link.issue)):
        changes = play([event(pair[0]), event(pair[1])], state)
        assert kinds(changes) == ["comment_added"]


def test_changes_of_one_event_come_in_a_stable_order() -> None:
    assert kinds(detect(event("dc_issue_resolved"), None).changes) == ["status", "resolution"]
    moved = detect(event("cloud_issue_moved"), linked()).changes
    assert kinds(moved) == ["moved", "status"]
    assert moved[1].issue_key == "SUP-7"


def test_a_replayed_delivery_gets_the_same_identities() -> None:
    state = linked()
    first = detect(event("cloud_issue_updated_status"), state)
    again = detect(event("cloud_issue_updated_status"), state)  # e.g. after a rollback
    assert first == again
    assert first.changes[0].identity == "10042:status:1:In Progress"


def test_flip_flopping_status_is_told_every_time() -> None:
    t = T0 + timedelta(minutes=1)
    steps = [
        status_change("To Do", "In Progress", t, "1"),
        status_change("In Progress", "To Do", t + timedelta(minutes=1), "2"),
        status_change("To Do", "In Progress", t + timedelta(minutes=2), "3"),
    ]
    changes = play(steps, linked())
    assert [(c.old, c.new) for c in changes] == [
        ("To Do", "In Progress"),
        ("In Progress", "To Do"),
        ("To Do", "In Progress"),
    ]
    assert len({c.identity for c in changes}) == 3


def test_an_older_delivery_arriving_late_does_not_undo_a_newer_one() -> None:
    t = T0 + timedelta(minutes=1)
    to_progress = status_change("To Do", "In Progress", t, "1")
    to_done = status_change("In Progress", "Done", t + timedelta(minutes=1), "2")
    assert [c.new for c in play([to_done, to_progress], linked())] == ["Done"]


def test_a_changelog_repeating_the_announced_value_tells_nothing() -> None:
    state = detect(event("cloud_issue_updated_status"), linked()).state
    again = status_change("To Do", "In Progress", T0 + timedelta(hours=1), "77")
    assert detect(again, state).changes == ()


def test_unassigning_an_unassigned_issue_tells_nothing() -> None:
    assert detect(event("cloud_issue_unassigned"), linked()).changes == ()


def test_changelog_without_an_announced_state_is_told_and_seeds_the_rest() -> None:
    detection = detect(event("cloud_issue_updated_priority"), None)
    assert [(c.kind, c.old, c.new) for c in detection.changes] == [("priority", "Medium", "High")]
    assert detection.state["status"] == "In Progress"  # known from the snapshot now
    assert detect(event("cloud_issue_updated_status"), detection.state).changes == ()


def test_empty_changelog_without_an_announced_state_only_seeds() -> None:
    detection = detect(event("cloud_issue_updated_empty_changelog"), None)
    assert detection.changes == ()
    assert detection.state["assignee"] == "Alice Martin"
    assert detection.state["baselined"] is True


def test_comment_events_do_not_compare_fields() -> None:
    # The reduced issue of a comment event says "In Progress": the status webhook tells that.
    assert kinds(detect(event("cloud_comment_created"), linked()).changes) == ["comment_added"]
    state = detect(event("cloud_comment_created"), linked()).state
    assert kinds(detect(event("cloud_issue_updated_status"), state).changes) == ["status"]


def test_custom_fields_never_pass_for_announced_ones() -> None:
    data = copy.deepcopy(body("dc_issue_updated_upper_case_fields"))
    data["changelog"]["items"] = [
        {"field": "Priority", "fieldtype": "custom", "from": None, "fromString": "P3",
         "to": "1", "toString": "P1"},
    ]  # fmt: skip
    assert detect(parse_webhook(data), None).changes == ()


def test_issue_created_is_told_once_and_not_after_linking() -> None:
    assert kinds(play([event("cloud_issue_created")] * 2)) == ["created"]
    assert detect(event("cloud_issue_created"), linked()).changes == ()


def test_deleted_is_told_once_and_ends_the_story() -> None:
    state = detect(event("cloud_issue_deleted"), linked()).state
    assert state["deleted"] is True
    for name in ("cloud_issue_deleted", "cloud_issue_updated_status", "cloud_comment_created"):
        assert detect(event(name), state).changes == ()
    gone = detect_deleted("10042", "OPS-42", linked(), actor=None)
    assert [(c.kind, c.old, c.identity) for c in gone.changes] == [
        ("deleted", "OPS-42", "10042:deleted")
    ]
    assert detect_deleted("10042", "OPS-42", gone.state, actor=None).changes == ()
    assert detect(event("cloud_issue_deleted"), gone.state).changes == ()


def test_comment_edit_then_deletion() -> None:
    state = linked()
    added = detect(event("cloud_comment_created"), state)
    edited = detect(event("cloud_comment_updated"), added.state)
    assert kinds(edited.changes) == ["comment_edited"]
    assert detect(event("cloud_comment_created"), edited.state).changes == ()  # older news
    deleted = detect(event("cloud_comment_deleted"), edited.state)
    assert kinds(deleted.changes) == ["comment_deleted"]
    assert detect(event("cloud_comment_updated"), deleted.state).changes == ()
    assert detect(event("cloud_comment_deleted"), deleted.state).changes == ()


def test_comments_from_before_the_link_are_not_told() -> None:
    early = copy.deepcopy(body("cloud_comment_created"))
    early["comment"]["created"] = early["comment"]["updated"] = "2024-03-04T09:15:00.000+0100"
    assert detect(parse_webhook(early), linked()).changes == ()
    edited_later = copy.deepcopy(early)
    edited_later["comment"]["updated"] = "2024-03-04T09:40:00.000+0100"
    edit = detect(parse_webhook(edited_later), linked()).changes
    assert kinds(edit) == ["comment_edited"]


def test_moved_by_a_key_change_then_not_again() -> None:
    state = detect(event("cloud_issue_moved"), linked()).state
    assert state["key"] == "SUP-7"
    assert detect(event("cloud_issue_moved"), state).changes == ()
    # An older delivery still naming OPS-42 does not move it back.
    assert kinds(detect(event("cloud_issue_updated_status"), state).changes) == []


@pytest.mark.parametrize(
    "announced",
    [
        {},
        {"version": 99, "status": 5, "comments": [1], "generations": {"status": "x"}},
        {"comments": {"1": "soon"}, "changed_at": {"status": 3}, "comments_floor": []},
        {"deleted": "yes", "baselined": 1, "key": ["OPS-1"]},
    ],
)
def test_damaged_announced_state_reads_as_nothing_announced(announced: dict[str, Any]) -> None:
    detection = detect(event("cloud_issue_updated_status"), announced)
    assert kinds(detection.changes) == ["status"]
    json.dumps(detection.state)


# --- never raises ------------------------------------------------------------------------

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=25,
)
KEYS = [
    "webhookEvent", "issue_event_type_name", "timestamp", "user", "issue", "changelog",
    "comment", "id", "key", "fields", "items", "field", "fieldId", "fieldtype", "from", "to",
    "fromString", "toString", "status", "name", "assignee", "updated", "created", "accountId",
    "displayName", "body", "self", "author", "updateAuthor", "summary",
]  # fmt: skip
VALUES = st.sampled_from(
    ["jira:issue_updated", "jira:issue_created", "comment_created", "issue_commented",
     "issue_comment_deleted", "status", "assignee", "Key", "10042", "OPS-42",
     "2024-03-04T09:15:22.104+0100", 1709540122104]
)  # fmt: skip
JIRA_LIKE = st.recursive(
    VALUES | JSON,
    lambda children: (
        st.lists(children, max_size=3)
        | st.dictionaries(st.sampled_from(KEYS), children, max_size=6)
    ),
    max_leaves=40,
)


@st.composite
def mutated_fixture(draw: st.DrawFn) -> dict[str, Any]:
    """A real delivery with some values swapped for arbitrary JSON."""
    data = body(draw(st.sampled_from(FIXTURE_NAMES)))
    for _ in range(draw(st.integers(0, 4))):
        node: Any = data
        while isinstance(node, dict) and node and draw(st.booleans()):
            key = draw(st.sampled_from(sorted(node)))
            if not isinstance(node[key], dict) or not node[key]:
                node[key] = draw(JIRA_LIKE)
                break
            node = node[key]
    return data


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    payload=st.one_of(JSON, JIRA_LIKE, mutated_fixture()),
    announced=st.one_of(st.none(), JSON, st.just(baseline(snapshot()))),
    identifier=st.none() | st.text(max_size=300),
)
def test_parse_and_detect_never_raise(payload: Any, announced: Any, identifier: str | None) -> None:
    parsed = parse_webhook(payload)
    key = delivery_key(parsed, identifier=identifier, raw_body=repr(payload).encode())
    assert 0 < len(key) <= 255
    first = detect(parsed, announced)
    json.dumps(first.state)
    assert detect(parsed, first.state).changes == ()  # the same delivery again tells nothing
    if parsed.issue is not None:
        polled = detect_snapshot(parsed.issue, (), first.state)
        json.dumps(polled.state)


def test_detection_is_a_plain_value() -> None:
    detection = detect(event("cloud_issue_created"), None)
    assert isinstance(detection, Detection)
    assert isinstance(detection.changes, tuple)
