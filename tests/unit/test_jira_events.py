"""Jira webhook bodies → JiraEvent, and the delivery keys that make a delivery "seen" (SPEC §6).

The fixtures follow captured Jira Cloud and Data Center deliveries: Cloud users carry
`accountId`, Data Center users `name` + `key`; Cloud `comment_*` events carry a reduced issue,
Data Center ones no issue at all; old Data Center updates have no `issue_event_type_name`.
"""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from clients.jira_client import JiraComment, JiraIssue, JiraUser
from services.jira_changes.events import (
    MAX_KEY_LENGTH,
    FieldChange,
    comment_info,
    delivery_key,
    parse_jira_time,
    parse_webhook,
    snapshot_of,
)
from tests.unit.jira_webhook_samples import FIXTURE_NAMES, body, raw

ALICE = "5b10ac8d82e05b22cc7d4ef5"
BOB = "712020:0e4cbe2b-7f5a-4c3b-9f3a-1d2e3f4a5b6c"


def key_of(name: str, identifier: str | None = None) -> str:
    return delivery_key(parse_webhook(body(name)), identifier=identifier, raw_body=raw(name))


# fixture: kind, issue id, issue key, complete snapshot, actor, changelog id, changed fields,
# comment id
EXPECTED = {
    "cloud_issue_created": ("issue_created", "10042", "OPS-42", True, ALICE, None, (), None),
    "cloud_issue_updated_status": (
        "issue_updated", "10042", "OPS-42", True, ALICE, "10500", ("status",), None,
    ),
    "cloud_issue_assigned": (
        "issue_updated", "10042", "OPS-42", True, ALICE, "10501", ("assignee",), None,
    ),
    "cloud_issue_unassigned": (
        "issue_updated", "10042", "OPS-42", True, ALICE, "10502", ("assignee",), None,
    ),
    "cloud_issue_updated_priority": (
        "issue_updated", "10042", "OPS-42", True, ALICE, "10503", ("priority",), None,
    ),
    "cloud_issue_updated_summary": (
        "issue_updated", "10042", "OPS-42", True, ALICE, "10504", ("summary",), None,
    ),
    "cloud_issue_updated_empty_changelog": (
        "issue_updated", "10042", "OPS-42", True, ALICE, "10505", (), None,
    ),
    "cloud_issue_moved": (
        "issue_updated", "10042", "SUP-7", True, ALICE, "10506",
        ("project", "status", "workflow", "key"), None,
    ),
    "cloud_issue_deleted": ("issue_deleted", "10042", "SUP-7", True, ALICE, None, (), None),
    "cloud_comment_created": ("comment_created", "10042", "OPS-42", False, BOB, None, (), "10200"),
    "cloud_issue_commented": ("comment_created", "10042", "OPS-42", True, BOB, None, (), "10200"),
    "cloud_comment_updated": ("comment_updated", "10042", "OPS-42", False, BOB, None, (), "10200"),
    "cloud_comment_deleted": ("comment_deleted", "10042", "OPS-42", False, BOB, None, (), "10200"),
    "cloud_comment_created_adf": (
        "comment_created", "10042", "OPS-42", False, ALICE, None, (), "10201",
    ),
    "dc_issue_updated_status": (
        "issue_updated", "20007", "PAY-7", True, "mlopez", "30100", ("status",), None,
    ),
    "dc_issue_assigned": (
        "issue_updated", "20007", "PAY-7", True, "mlopez", "30101", ("assignee",), None,
    ),
    "dc_issue_resolved": (
        "issue_updated", "20007", "PAY-7", True, "jsmith", "30103", ("resolution", "status"), None,
    ),
    "dc_issue_updated_upper_case_fields": (
        "issue_updated", "20007", "PAY-7", True, "mlopez", "30102",
        ("fix version", "sprint", "status"), None,
    ),
    "dc_old_issue_updated_assigned": (
        "issue_updated", "20007", "PAY-7", True, "jsmith", "30104", ("assignee",), None,
    ),
    "dc_comment_created": ("comment_created", "20007", "", False, "jsmith", None, (), "40010"),
    "dc_issue_commented": ("comment_created", "20007", "PAY-7", True, "jsmith", None, (), "40010"),
    "dc_old_issue_updated_commented": (
        "comment_created", "20007", "PAY-7", True, "mlopez", None, (), "40011",
    ),
    "dc_comment_deleted": ("comment_deleted", "20007", "", False, "mlopez", None, (), "40011"),
}  # fmt: skip


def test_every_fixture_is_covered() -> None:
    assert set(FIXTURE_NAMES) == set(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_fixture_parses_to_the_expected_event(name: str) -> None:
    kind, issue_id, key, complete, actor, changelog_id, fields, comment_id = EXPECTED[name]
    event = parse_webhook(body(name))
    assert event.kind == kind
    assert event.webhook_event == body(name)["webhookEvent"]
    assert event.issue is not None
    assert (event.issue.id, event.issue.key, event.issue.complete) == (issue_id, key, complete)
    assert event.actor is not None and event.actor.account_id == actor
    assert event.changelog_id == changelog_id
    assert tuple(change.field for change in event.changes) == fields
    assert (event.comment.id if event.comment else None) == comment_id
    assert event.timestamp == datetime.fromtimestamp(body(name)["timestamp"] / 1000, tz=UTC)


def test_full_cloud_issue_becomes_a_complete_snapshot() -> None:
    event = parse_webhook(body("cloud_issue_assigned"))
    issue = event.issue
    assert issue is not None
    assert issue.project_key == "OPS"
    assert issue.summary == "Checkout fails for EU customers"
    assert (issue.status, issue.status_category) == ("In Progress", "indeterminate")
    assert (issue.issue_type, issue.priority, issue.resolution) == ("Bug", "Medium", None)
    assert issue.assignee == JiraUser(BOB, "Bob Chen", None, True)
    assert issue.updated == datetime(2024, 3, 4, 8, 21, 40, 2000, tzinfo=UTC)
    assert issue.created == datetime(2024, 3, 4, 8, 15, 22, 104000, tzinfo=UTC)
    assert event.actor == JiraUser(ALICE, "Alice Martin", "alice@acme.example", True)
    assert event.issue_event_type == "issue_assigned"


def test_changelog_items_keep_ids_strings_and_field_ids() -> None:
    status = parse_webhook(body("cloud_issue_updated_status")).changes[0]
    assert status == FieldChange("status", "10000", "To Do", "3", "In Progress", "status", "jira")
    unassigned = parse_webhook(body("cloud_issue_unassigned")).changes[0]
    assert (unassigned.from_id, unassigned.from_string) == (BOB, "Bob Chen")
    assert (unassigned.to_id, unassigned.to_string) == (None, None)


def test_data_center_field_names_are_lower_cased_and_custom_fields_marked() -> None:
    changes = parse_webhook(body("dc_issue_updated_upper_case_fields")).changes
    assert [(c.field, c.field_id, c.field_type) for c in changes] == [
        ("fix version", None, "jira"),
        ("sprint", None, "custom"),
        ("status", None, "jira"),
    ]
    assert changes[2].to_string == "In Review"


def test_moved_issue_carries_the_key_change_and_its_new_project() -> None:
    event = parse_webhook(body("cloud_issue_moved"))
    key_change = next(c for c in event.changes if c.field == "key")
    assert (key_change.from_string, key_change.to_string) == ("OPS-42", "SUP-7")
    assert event.issue is not None and event.issue.project_key == "SUP"


def test_data_center_users_are_named_by_login_not_key() -> None:
    issue = parse_webhook(body("dc_issue_assigned")).issue
    assert issue is not None and issue.assignee is not None
    assert issue.assignee.account_id == "jsmith"  # not "JIRAUSER10100"
    assert issue.assignee.email == "jane.smith@acme.example"
    only_key = copy.deepcopy(body("dc_issue_assigned"))
    del only_key["user"]["name"]
    actor = parse_webhook(only_key).actor
    assert actor is not None and actor.account_id == "mlopez"  # the key, as a last resort


def test_comment_event_carries_a_reduced_issue_and_the_comment() -> None:
    event = parse_webhook(body("cloud_comment_created"))
    issue, comment = event.issue, event.comment
    assert issue is not None and comment is not None
    assert (issue.summary, issue.status, issue.priority) == (
        "Checkout fails for EU customers",
        "In Progress",
        "Medium",
    )
    assert (issue.updated, issue.resolution, issue.complete) == (None, None, False)
    assert comment.body.startswith("Reproduced with a *test card*")
    assert comment.author is not None and comment.author.account_id == BOB
    assert comment.created == comment.updated == datetime(2024, 3, 4, 8, 25, 13, 877000, UTC)


def test_issue_commented_twin_carries_the_same_comment() -> None:
    twin = parse_webhook(body("cloud_issue_commented"))
    single = parse_webhook(body("cloud_comment_created"))
    assert twin.comment == single.comment
    assert twin.issue_event_type == "issue_commented"


def test_comment_update_is_credited_to_its_update_author() -> None:
    edited = copy.deepcopy(body("cloud_comment_updated"))
    edited["comment"]["updateAuthor"] = edited["comment"]["author"] | {
        "accountId": ALICE,
        "displayName": "Alice Martin",
    }
    event = parse_webhook(edited)
    assert event.actor is not None and event.actor.account_id == ALICE
    assert event.comment is not None and event.comment.author is not None
    assert event.comment.author.account_id == BOB


def test_adf_comment_body_becomes_text() -> None:
    comment = parse_webhook(body("cloud_comment_created_adf")).comment
    assert comment is not None and comment.body == "Fixed in *release 2.4*, please retest."


def test_data_center_comment_event_names_its_issue_by_the_comment_url() -> None:
    event = parse_webhook(body("dc_comment_created"))
    assert event.issue is not None and event.issue.id == "20007"
    assert event.comment is not None and event.comment.body.startswith("Proxy timeout")
    deleted = parse_webhook(body("dc_comment_deleted"))
    assert deleted.actor is not None and deleted.actor.display_name == "Marco Lopez"


@pytest.mark.parametrize(
    ("event_type", "kind"),
    [
        ("issue_comment_edited", "comment_updated"),
        ("issue_comment_deleted", "comment_deleted"),
        ("issue_generic", "issue_updated"),
        ("issue_work_started", "issue_updated"),
    ],
)
def test_issue_updated_event_types(event_type: str, kind: str) -> None:
    data = body("cloud_issue_commented") | {"issue_event_type_name": event_type}
    assert parse_webhook(data).kind == kind


def test_old_payload_with_an_edited_comment_is_a_comment_update() -> None:
    data = copy.deepcopy(body("dc_old_issue_updated_commented"))
    data["comment"]["updated"] = "2024-03-05T12:45:00.000+0000"
    assert parse_webhook(data).kind == "comment_updated"
    del data["comment"]
    assert parse_webhook(data).kind == "issue_updated"  # e.g. an old comment deletion


@pytest.mark.parametrize(
    "webhook_event", ["worklog_updated", "jira:worklog_updated", "issuelink_created", "", None]
)
def test_other_events_are_unknown(webhook_event: str | None) -> None:
    data = body("cloud_issue_updated_status") | {"webhookEvent": webhook_event}
    event = parse_webhook(data)
    assert event.kind == "unknown"
    key = delivery_key(event, identifier="abc-1", raw_body=b"{}")
    assert key == "identifier:abc-1"


GARBAGE: list[Any] = [
    {},
    {"issue": 5},
    {"issue": None, "user": None, "changelog": None, "comment": None, "timestamp": None},
    {"webhookEvent": "jira:issue_updated", "issue": {"id": None, "key": None}},
    {"webhookEvent": "jira:issue_updated", "issue": {"id": 10042, "fields": []}},
    {"webhookEvent": "jira:issue_updated", "issue": {"id": "1", "fields": {"status": []}}},
    {"webhookEvent": "jira:issue_updated", "changelog": {"items": "status"}},
    {"webhookEvent": "jira:issue_updated", "changelog": [{"field": "status"}]},
    {"webhookEvent": "jira:issue_updated", "changelog": {"id": 7, "items": [1, None, {}]}},
    {"webhookEvent": "comment_created", "comment": {"id": {}, "body": [1]}},
    {"webhookEvent": "comment_created", "comment": {"id": "1", "body": None, "self": 3}},
    {"webhookEvent": ["jira:issue_created"], "issue_event_type_name": {"x": 1}},
    {"webhookEvent": "jira:issue_created", "timestamp": "soon", "user": []},
    {"webhookEvent": "jira:issue_created", "timestamp": 10**30, "user": {"accountId": 5}},
    {"webhookEvent": "jira:issue_created", "timestamp": True, "user": {"displayName": "x"}},
    {"webhookEvent": "jira:issue_created", "timestamp": -1e300},
    {"webhookEvent": "jira:issue_created", "issue": {"id": "1", "fields": {"updated": "nope"}}},
    {"webhookEvent": "comment_deleted", "comment": {"id": "9", "self": "/issue/x/comment/9"}},
    [],
    "jira:issue_created",
    None,
]


@pytest.mark.parametrize("garbage", GARBAGE)
def test_garbage_never_raises(garbage: Any) -> None:
    event = parse_webhook(garbage)
    key = delivery_key(event, identifier=None, raw_body=b"x")
    assert 0 < len(key) <= MAX_KEY_LENGTH


def test_garbage_keeps_what_makes_sense() -> None:
    event = parse_webhook(
        {
            "webhookEvent": "jira:issue_updated",
            "issue": {"id": 10042, "key": "OPS-42", "fields": []},
            "changelog": {"id": 99, "items": [1, None, {"field": 3}, {"field": "Status"}]},
            "timestamp": "1709540122104",
            "user": {"key": "admin", "active": "yes"},
        }
    )
    assert event.kind == "issue_updated"
    assert event.issue is not None
    assert (event.issue.id, event.issue.key, event.issue.project_key) == ("10042", "OPS-42", "OPS")
    assert event.issue.complete is False
    assert [c.field for c in event.changes] == ["3", "status"]
    assert event.changelog_id == "99"
    assert event.actor == JiraUser("admin", "admin", None, True)
    assert event.timestamp == datetime(2024, 3, 4, 8, 15, 22, 104000, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2024-03-04T09:15:22.104+0100", datetime(2024, 3, 4, 8, 15, 22, 104000, UTC)),
        ("2024-03-04T08:15:22.104+0000", datetime(2024, 3, 4, 8, 15, 22, 104000, UTC)),
        ("2024-03-04T08:15:22Z", datetime(2024, 3, 4, 8, 15, 22, tzinfo=UTC)),
        ("2024-03-04T08:15:22", datetime(2024, 3, 4, 8, 15, 22, tzinfo=UTC)),
        ("yesterday", None),
        ("", None),
        (None, None),
    ],
)
def test_parse_jira_time(text: str | None, expected: datetime | None) -> None:
    assert parse_jira_time(text) == expected


# --- delivery keys -----------------------------------------------------------------------


def test_issue_events_with_a_changelog_are_keyed_by_it() -> None:
    assert key_of("cloud_issue_updated_status") == "changelog:10500"
    assert key_of("dc_issue_resolved", identifier="e1f2") == "changelog:30103"
    assert key_of("cloud_issue_updated_empty_changelog") == "changelog:10505"


def test_comment_twins_share_one_key() -> None:
    assert key_of("cloud_comment_created") == key_of("cloud_issue_commented")
    assert key_of("cloud_comment_created") == "comment:10200:2024-03-04T08:25:13.877+00:00"
    assert key_of("dc_comment_created") == key_of("dc_issue_commented")
    assert key_of("cloud_comment_created", "id-1") == key_of("cloud_issue_commented", "id-2")


def test_comment_edit_and_deletion_have_their_own_keys() -> None:
    created, updated = key_of("cloud_comment_created"), key_of("cloud_comment_updated")
    deleted = key_of("cloud_comment_deleted")
    assert len({created, updated, deleted}) == 3
    assert deleted == "comment:10200:deleted"
    twin = body("cloud_issue_commented") | {"issue_event_type_name": "issue_comment_deleted"}
    assert delivery_key(parse_webhook(twin), identifier=None, raw_body=b"") == deleted


def test_the_same_instant_in_another_timezone_is_the_same_key() -> None:
    data = copy.deepcopy(body("cloud_comment_created"))
    data["comment"]["updated"] = "2024-03-04T03:25:13.877-0500"
    assert delivery_key(parse_webhook(data), identifier=None, raw_body=b"") == key_of(
        "cloud_comment_created"
    )


def test_a_change_made_with_a_comment_keeps_its_changelog_key() -> None:
    data = body("cloud_issue_updated_status") | {
        "comment": body("cloud_comment_created")["comment"]
    }
    event = parse_webhook(data)
    assert event.comment is not None
    assert delivery_key(event, identifier=None, raw_body=b"") == "changelog:10500"


def test_created_and_deleted_without_changelog_are_keyed_by_issue() -> None:
    assert key_of("cloud_issue_created") == "created:10042"
    assert key_of("cloud_issue_deleted", identifier="abc") == "deleted:10042"


def test_otherwise_the_identifier_header_then_the_body_hash() -> None:
    data = body("cloud_issue_commented") | {"comment": None}  # Cloud no longer sends it
    event = parse_webhook(data)
    assert delivery_key(event, identifier=" 7f1c-22 ", raw_body=b"{}") == "identifier:7f1c-22"
    by_body = delivery_key(event, identifier=None, raw_body=b"{}")
    assert by_body == "body:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"
    assert delivery_key(event, identifier="", raw_body=b"{ }") != by_body


def test_keys_stay_within_255_characters_and_distinct() -> None:
    event = parse_webhook({})
    first = delivery_key(event, identifier="x" * 400, raw_body=b"")
    second = delivery_key(event, identifier="x" * 399 + "y", raw_body=b"")
    assert len(first) == len(second) == MAX_KEY_LENGTH
    assert first != second
    assert first == delivery_key(event, identifier="x" * 400, raw_body=b"other")


# --- the poller's view -------------------------------------------------------------------


def test_rest_issue_and_comment_convert_to_the_same_shapes() -> None:
    updated = datetime(2024, 3, 4, 9, 0, tzinfo=timezone(timedelta(hours=1)))
    issue = JiraIssue(
        id="10042",
        key="OPS-42",
        url="https://acme.atlassian.net/browse/OPS-42",
        summary="Checkout fails",
        status="In Progress",
        status_category="indeterminate",
        issue_type="Bug",
        project_key="OPS",
        priority="High",
        assignee=JiraUser(BOB, "Bob Chen"),
        updated=updated,
    )
    snapshot = snapshot_of(issue)
    assert snapshot.complete
    assert (snapshot.status, snapshot.priority, snapshot.updated) == (
        "In Progress",
        "High",
        updated,
    )
    assert snapshot.assignee == JiraUser(BOB, "Bob Chen")
    comment = comment_info(JiraComment("10200", "hi", JiraUser(BOB, "Bob Chen"), updated, updated))
    assert (comment.id, comment.body, comment.updated) == ("10200", "hi", updated)
