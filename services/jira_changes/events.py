"""Jira webhook deliveries as Connect's own events (SPEC §6).

`parse_webhook` reads any JSON object Jira (Cloud or Data Center, current or old) may send and
never raises: what it cannot make sense of becomes `JiraEvent(kind="unknown")`.
`delivery_key` names what a delivery is about, so that the same thing delivered twice (a retry,
or Cloud's `comment_created` + `jira:issue_updated`/`issue_commented` twins) is processed once.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from clients.jira_client import JiraComment, JiraHistory, JiraIssue, JiraUser
from services.issues.keys import project_of
from services.jira_changes.wire import (
    WireChangeItem,
    WireComment,
    WireFields,
    WireIssue,
    WireUser,
    WireVisibility,
    WireWebhook,
)
from services.markup import adf_to_text
from services.markup.mentions import mentioned_accounts

EventKind = Literal[
    "issue_created",
    "issue_updated",
    "issue_deleted",
    "comment_created",
    "comment_updated",
    "comment_deleted",
    "unknown",
]

MAX_KEY_LENGTH = 255

_WEBHOOK_KINDS: dict[str, EventKind] = {
    "jira:issue_created": "issue_created",
    "jira:issue_updated": "issue_updated",
    "jira:issue_deleted": "issue_deleted",
    "comment_created": "comment_created",
    "comment_updated": "comment_updated",
    "comment_deleted": "comment_deleted",
}
# `jira:issue_updated` raised by a comment: Cloud sends it beside `comment_*` for the same one.
_COMMENT_EVENT_TYPES: dict[str, EventKind] = {
    "issue_commented": "comment_created",
    "issue_comment_edited": "comment_updated",
    "issue_comment_deleted": "comment_deleted",
}
_COMMENT_KINDS = frozenset({"comment_created", "comment_updated", "comment_deleted"})
# Data Center's comment_deleted has no `issue`; the comment's own URL names it.
_ISSUE_IN_URL = re.compile(r"/issue/(\d+)/comment/")


@dataclass(frozen=True, slots=True)
class IssueSnapshot:
    """The issue as one delivery (or one poll) saw it. `complete` is False for the reduced
    issue of comment events, whose missing values are None rather than known to be empty.
    `key` and `project_key` are "" when the delivery does not say."""

    id: str
    key: str
    project_key: str
    summary: str | None = None
    status: str | None = None
    status_category: str | None = None
    issue_type: str | None = None
    priority: str | None = None
    assignee: JiraUser | None = None
    resolution: str | None = None
    updated: datetime | None = None
    created: datetime | None = None
    complete: bool = False
    # The poller's: the changelog its search brought (who changed which field, when).
    history: tuple[JiraHistory, ...] = ()
    reporter: JiraUser | None = None
    # Who the description @mentions (account ids, or user names on Data Center).
    mentions: tuple[str, ...] = ()
    # The issue security level's name (SPEC §7: then no summary is shown); `security_known`
    # is False when the delivery does not say (comment events), and the stored known tells.
    security: str | None = None
    security_known: bool = False

    @property
    def restricted(self) -> bool:
        return bool(self.security)


@dataclass(frozen=True, slots=True)
class FieldChange:
    """One `changelog.items` entry; `field` is lower case ("status", "key", "fix version")."""

    field: str
    from_id: str | None = None
    from_string: str | None = None
    to_id: str | None = None
    to_string: str | None = None
    field_id: str | None = None
    field_type: str | None = None  # "jira" or "custom"


@dataclass(frozen=True, slots=True)
class CommentInfo:
    id: str
    body: str  # wiki markup / plain text; ADF bodies converted
    author: JiraUser | None = None
    update_author: JiraUser | None = None
    created: datetime | None = None
    updated: datetime | None = None
    restricted: bool = False  # a role or group `visibility`: its body is never shown
    mentions: tuple[str, ...] = ()  # who it @mentions (account ids, or DC user names)


@dataclass(frozen=True, slots=True)
class JiraEvent:
    kind: EventKind
    webhook_event: str | None = None
    issue_event_type: str | None = None
    issue: IssueSnapshot | None = None
    actor: JiraUser | None = None  # top-level `user`, else the comment's (update) author
    changelog_id: str | None = None
    changes: tuple[FieldChange, ...] = ()
    comment: CommentInfo | None = None
    timestamp: datetime | None = None


UNKNOWN = JiraEvent(kind="unknown")
_NO_FIELDS = WireFields.model_validate({})


def parse_webhook(body: Mapping[str, Any]) -> JiraEvent:
    """Any JSON object → a JiraEvent; never raises."""
    try:
        if not isinstance(body, Mapping):
            return UNKNOWN
        wire = WireWebhook.model_validate({str(k): v for k, v in body.items()})
        return _event(wire)
    except Exception:  # a webhook must never turn into a 500; odd input is an unknown event
        return UNKNOWN


def _event(wire: WireWebhook) -> JiraEvent:
    comment = _comment(wire.comment)
    kind = _kind(wire, comment)
    issue = _snapshot(wire.issue)
    if issue is None and comment is not None and wire.comment is not None:
        issue = _issue_from_comment_url(wire.comment.self_url)
    changes = tuple(
        change for change in (_change(item) for item in _items(wire)) if change is not None
    )
    return JiraEvent(
        kind=kind,
        webhook_event=wire.webhook_event,
        issue_event_type=wire.issue_event_type,
        issue=issue,
        actor=_actor(kind, wire.user, comment),
        changelog_id=wire.changelog.id if wire.changelog is not None else None,
        changes=changes,
        comment=comment,
        timestamp=_epoch_millis(wire.timestamp),
    )


def _kind(wire: WireWebhook, comment: CommentInfo | None) -> EventKind:
    kind = _WEBHOOK_KINDS.get(wire.webhook_event or "", "unknown")
    if kind != "issue_updated":
        return kind
    by_type = _COMMENT_EVENT_TYPES.get(wire.issue_event_type or "")
    if by_type is not None:
        return by_type
    if wire.issue_event_type is None and comment is not None:
        # Old Data Center payloads: no event type, the comment says what happened to it.
        edited = comment.created is not None and comment.updated not in (None, comment.created)
        return "comment_updated" if edited else "comment_created"
    return kind


def _items(wire: WireWebhook) -> list[WireChangeItem]:
    return list(wire.changelog.items) if wire.changelog is not None else []


def _actor(kind: EventKind, user: WireUser | None, comment: CommentInfo | None) -> JiraUser | None:
    actor = jira_user(user)
    if actor is not None or comment is None or kind not in _COMMENT_KINDS:
        return actor
    if kind == "comment_updated":
        return comment.update_author or comment.author
    return comment.author


def jira_user(user: WireUser | None) -> JiraUser | None:
    """Cloud `accountId`, else Data Center `name`, else `key`; None when none is there."""
    if user is None:
        return None
    account = user.account_id or user.name or user.key
    if not account:
        return None
    return JiraUser(
        account_id=account,
        display_name=user.display_name or account,
        email=user.email or None,
        active=user.active if user.active is not None else True,
    )


def _snapshot(issue: WireIssue | None) -> IssueSnapshot | None:
    if issue is None or not issue.id:
        return None
    fields = issue.fields or _NO_FIELDS
    key = (issue.key or "").strip()
    project = fields.project.key if fields.project is not None else None
    status = fields.status
    return IssueSnapshot(
        id=issue.id,
        key=key,
        project_key=project or (project_of(key) if "-" in key else ""),
        summary=fields.summary,
        status=status.name if status is not None else None,
        status_category=status.category.key if status and status.category else None,
        issue_type=fields.issue_type.name if fields.issue_type is not None else None,
        priority=fields.priority.name if fields.priority is not None else None,
        assignee=jira_user(fields.assignee),
        reporter=jira_user(fields.reporter),
        mentions=mentioned_accounts(fields.description),
        resolution=fields.resolution.name if fields.resolution is not None else None,
        updated=parse_jira_time(fields.updated),
        created=parse_jira_time(fields.created),
        # The full representation always carries these; comment events' reduced one never.
        complete=issue.fields is not None and {"status", "updated"} <= fields.model_fields_set,
        security=(fields.security.name or "restricted") if fields.security is not None else None,
        security_known="security" in fields.model_fields_set,
    )


def _issue_from_comment_url(url: str | None) -> IssueSnapshot | None:
    match = _ISSUE_IN_URL.search(url or "")
    return IssueSnapshot(id=match.group(1), key="", project_key="") if match else None


def _change(item: WireChangeItem) -> FieldChange | None:
    if not item.field:
        return None
    return FieldChange(
        field=item.field.strip().lower(),
        from_id=item.from_id,
        from_string=item.from_string,
        to_id=item.to_id,
        to_string=item.to_string,
        field_id=item.field_id,
        field_type=item.field_type,
    )


def _comment(comment: WireComment | None) -> CommentInfo | None:
    if comment is None or not comment.id:
        return None
    return CommentInfo(
        id=comment.id,
        body=adf_to_text(comment.body) if isinstance(comment.body, str | Mapping) else "",
        author=jira_user(comment.author),
        update_author=jira_user(comment.update_author),
        created=parse_jira_time(comment.created),
        updated=parse_jira_time(comment.updated),
        restricted=_restricted(comment.visibility),
        mentions=mentioned_accounts(comment.body),
    )


def _restricted(visibility: WireVisibility | None) -> bool:
    return visibility is not None and bool(visibility.value or visibility.identifier)


def parse_jira_time(value: str | None) -> datetime | None:
    """Jira's `2019-02-15T19:11:18.321-0800` (any ISO 8601) → an aware datetime; else None."""
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def _epoch_millis(value: Any) -> datetime | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    if not isinstance(value, int | float):
        return None
    try:
        return datetime.fromtimestamp(value / 1000, tz=UTC)
    except (OverflowError, OSError, ValueError):
        return None


def utc_iso(moment: datetime) -> str:
    """One spelling per instant, whichever timezone Jira rendered it in."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds")


def snapshot_of(issue: JiraIssue) -> IssueSnapshot:
    """An issue fetched over REST (the poller) as a complete snapshot."""
    return IssueSnapshot(
        id=issue.id,
        key=issue.key,
        project_key=issue.project_key,
        summary=issue.summary,
        status=issue.status or None,
        status_category=issue.status_category or None,
        issue_type=issue.issue_type or None,
        priority=issue.priority,
        assignee=issue.assignee,
        reporter=issue.reporter,
        resolution=issue.resolution,
        updated=issue.updated,
        created=issue.created,
        complete=True,
        history=issue.history,
        security=issue.security,
        security_known=True,  # asked for with the other fields
    )


def comment_info(comment: JiraComment) -> CommentInfo:
    return CommentInfo(
        id=comment.id,
        body=comment.body,
        author=comment.author,
        update_author=None,
        created=comment.created,
        updated=comment.updated,
        restricted=comment.visibility is not None,
        mentions=mentioned_accounts(comment.body),
    )


def delivery_key(event: JiraEvent, *, identifier: str | None, raw_body: bytes) -> str:
    """The key two deliveries of the same thing share (SPEC §6 "seen"), at most 255 chars.

    An issue event with a changelog: its id. A comment event: the comment id and its `updated`
    time (so Cloud's `comment_created` and `issue_commented` twins share one key; a deletion gets
    its own). A change made together with a comment (a transition screen's comment) keeps the
    changelog key so the change is not mistaken for the twin. Then the issue id for created /
    deleted, then `X-Atlassian-Webhook-Identifier`, then a hash of the body.
    """
    return _bounded(_raw_key(event, identifier, raw_body))


def _raw_key(event: JiraEvent, identifier: str | None, raw_body: bytes) -> str:
    issue_id = event.issue.id if event.issue is not None else None
    comment = event.comment
    if event.kind != "unknown":
        if event.changelog_id and (event.changes or comment is None):
            return f"changelog:{event.changelog_id}"
        if comment is not None and event.kind == "comment_deleted":
            return f"comment:{comment.id}:deleted"
        if comment is not None:
            when = comment.updated or comment.created
            return f"comment:{comment.id}:{utc_iso(when) if when else 'unknown'}"
        if event.kind == "issue_created" and issue_id:
            return f"created:{issue_id}"
        if event.kind == "issue_deleted" and issue_id:
            return f"deleted:{issue_id}"
    if identifier and identifier.strip():
        return f"identifier:{identifier.strip()}"
    return f"body:{hashlib.sha256(raw_body).hexdigest()}"


def _bounded(key: str) -> str:
    if len(key) <= MAX_KEY_LENGTH:
        return key
    digest = hashlib.sha256(key.encode()).hexdigest()
    return f"{key[: MAX_KEY_LENGTH - len(digest) - 1]}#{digest}"
