"""The data of the in-memory Jira: its workflow and catalogues, stored issues, create-screen
validation with Jira's own error texts, and the view of an issue that JQL matches against."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from clients.jira_client import (
    FieldMeta,
    IssueType,
    JiraAttachment,
    JiraComment,
    JiraFieldErrors,
    JiraHistory,
    JiraIssue,
    JiraProject,
    JiraUser,
    Priority,
    Transition,
)
from simulators.jira_site.jql import JqlRow

STATUSES = {"To Do": "new", "In Progress": "indeterminate", "Done": "done"}
CATEGORY_NAMES = {"new": "To Do", "indeterminate": "In Progress", "done": "Done"}
# (from statuses, transition): the sample workflow To Do -> In Progress -> Done.
WORKFLOW = (
    (("To Do",), Transition("11", "Start progress", "In Progress")),
    (("In Progress",), Transition("21", "Stop progress", "To Do")),
    (("To Do", "In Progress"), Transition("31", "Done", "Done")),
    (("Done",), Transition("41", "Reopen", "To Do")),
)
ISSUE_TYPES = (IssueType("10001", "Task"), IssueType("10002", "Bug"), IssueType("10003", "Story"))
PRIORITIES = tuple(
    Priority(str(n), name)
    for n, name in enumerate(("Highest", "High", "Medium", "Low", "Lowest"), start=1)
)
NOT_FOUND = "Issue does not exist or you do not have permission to see it."
UNBOUNDED = (
    "Unbounded JQL queries are not allowed here. Please add a search restriction to your query."
)
_SYSTEM_SETTABLE = {"project", "issuetype", "summary", "description", "priority", "assignee"}
_SYSTEM_SETTABLE |= {"reporter", "labels", "components"}
_NOT_ON_SCREEN = "Field '{}' cannot be set. It is not on the appropriate screen, or unknown."


@dataclass(frozen=True, slots=True)
class RemoteLink:
    id: str
    global_id: str
    url: str
    title: str
    summary: str | None = None


@dataclass(frozen=True, slots=True)
class IssueChange:
    """One change made in Jira, as a webhook or the changelog would report it."""

    key: str
    field: str  # "created", "status", "assignee", "resolution", "comment", "key", "deleted", ...
    old: str | None
    new: str | None
    actor: JiraUser
    at: datetime


@dataclass(slots=True)
class StoredIssue:
    issue: JiraIssue
    former_keys: list[str] = field(default_factory=list)
    custom: dict[str, Any] = field(default_factory=dict)
    comments: list[JiraComment] = field(default_factory=list)
    links: dict[str, RemoteLink] = field(default_factory=dict)  # by globalId
    history: list[JiraHistory] = field(default_factory=list)  # the changelog, oldest first
    # Files attached: (attachment, its bytes).
    attachments: list[tuple[JiraAttachment, bytes]] = field(default_factory=list)
    watchers: list[str] = field(default_factory=list)  # account ids, in the order they watched


def system_fields() -> list[FieldMeta]:
    priorities = tuple((p.id, p.name) for p in PRIORITIES)
    return [
        FieldMeta("project", "Project", True, "project"),
        FieldMeta("issuetype", "Issue Type", True, "issuetype"),
        FieldMeta("summary", "Summary", True, "string"),
        FieldMeta("description", "Description", False, "string"),
        FieldMeta("priority", "Priority", False, "priority", priorities, has_default=True),
        FieldMeta("assignee", "Assignee", False, "user"),
        FieldMeta("labels", "Labels", False, "array"),
    ]


def draft_issue(
    project_key: str,
    summary: str,
    issue_type: str,
    *,
    status: str = "To Do",
    priority: str | None = None,
    assignee: JiraUser | None = None,
    reporter: JiraUser | None = None,
    description: str | None = None,
    labels: tuple[str, ...] = (),
    components: tuple[str, ...] = (),
) -> JiraIssue:
    """An issue not stored yet: its id, key, url and dates come when it is."""
    return JiraIssue(
        id="",
        key="",
        url="",
        summary=summary,
        status=status,
        status_category=STATUSES[status],
        issue_type=issue_type,
        project_key=project_key,
        priority=priority,
        assignee=assignee,
        reporter=reporter,
        resolution="Done" if STATUSES[status] == "done" else None,
        description=description,
        labels=labels,
        components=components,
    )


def validate_create(
    fields: Mapping[str, Any],
    projects: Mapping[str, JiraProject],
    users: Mapping[str, JiraUser],
    extra_fields: Mapping[tuple[str, str], list[FieldMeta]],
) -> tuple[JiraIssue, dict[str, Any]]:
    """Checks `fields` as Jira's create screen would; JiraFieldErrors names each bad field.

    Returns the draft issue and the custom fields' values."""
    errors: dict[str, str] = {}
    wanted = _ref(fields.get("project"), "key")
    project = next((p for p in projects.values() if wanted in (p.key, p.id)), None)
    if project is None:
        errors["project"] = "valid project is required" if wanted else "project is required"
    wanted = _ref(fields.get("issuetype"), "name")
    issue_type = next((t for t in ISSUE_TYPES if wanted in (t.id, t.name)), None)
    if issue_type is None:
        errors["issuetype"] = "valid issue type is required" if wanted else "issue type is required"
    summary = fields.get("summary")
    if not isinstance(summary, str) or not summary.strip():
        errors["summary"] = "You must specify a summary of the issue."
    elif len(summary) > 255:
        errors["summary"] = "Summary must be less than 255 characters."
    wanted = _ref(fields.get("priority"), "name") or "Medium"
    priority = next((p for p in PRIORITIES if wanted in (p.id, p.name)), None)
    if priority is None:
        errors["priority"] = f"Priority name '{wanted}' is not valid"
    assignee = _user(fields.get("assignee"), "assignee", users, errors)
    reporter = _user(fields.get("reporter"), "reporter", users, errors)
    if project is not None and issue_type is not None:
        screen = system_fields() + list(extra_fields.get((project.key, issue_type.name), []))
        _check_screen(fields, screen, errors)
    if errors or project is None or issue_type is None or priority is None:
        raise JiraFieldErrors(errors)
    draft = draft_issue(
        project.key,
        str(summary),
        issue_type.name,
        priority=priority.name,
        assignee=assignee,
        reporter=reporter,
        description=fields.get("description"),
        labels=tuple(fields.get("labels") or ()),
        components=tuple(str(_ref(c, "name")) for c in fields.get("components") or ()),
    )
    return draft, {k: v for k, v in fields.items() if k not in _SYSTEM_SETTABLE}


def _check_screen(
    fields: Mapping[str, Any], screen: list[FieldMeta], errors: dict[str, str]
) -> None:
    metas = {meta.field_id: meta for meta in screen}
    for field_id in fields:
        if field_id not in metas and field_id not in _SYSTEM_SETTABLE:
            errors[field_id] = _NOT_ON_SCREEN.format(field_id)
    for meta in metas.values():
        custom = meta.field_id not in _SYSTEM_SETTABLE
        if custom and meta.required and not meta.has_default and not fields.get(meta.field_id):
            errors[meta.field_id] = f"{meta.name} is required."


def _user(
    value: Any, name: str, users: Mapping[str, JiraUser], errors: dict[str, str]
) -> JiraUser | None:
    wanted = _ref(value, "accountId") or _ref(value, "name")
    if wanted and wanted not in users:
        errors[name] = f"User '{wanted}' does not exist."
    return users.get(wanted or "")


def project_ref(value: Any) -> str | None:
    """The key or id a create request names its project by."""
    return _ref(value, "key")


def _ref(value: Any, name_key: str) -> str | None:
    """A REST reference such as {"key": "OPS"}, {"id": "10001"} or a bare string."""
    if isinstance(value, Mapping):
        found = value.get(name_key) or value.get("id") or value.get("key") or value.get("name")
        return str(found) if found else None
    return str(value) if value else None


def jql_known(
    stored: Iterable[StoredIssue], projects: Iterable[JiraProject], users: Iterable[JiraUser]
) -> dict[str, frozenset[str]]:
    """The values JQL accepts per field; any other value is an error, as in Jira."""
    people = [v for u in users for v in (u.account_id, u.email) if v]
    return {
        "key": _lower(v for s in stored for v in (s.issue.key, s.issue.id, *s.former_keys)),
        "project": _lower(v for p in projects for v in (p.key, p.name, p.id)),
        "status": _lower(STATUSES),
        "statuscategory": _lower([*CATEGORY_NAMES, *CATEGORY_NAMES.values()]),
        "issuetype": _lower(v for t in ISSUE_TYPES for v in (t.id, t.name)),
        "priority": _lower(v for p in PRIORITIES for v in (p.id, p.name)),
        "assignee": _lower(people),
        "reporter": _lower(people),
    }


def jql_row(stored: StoredIssue, project: JiraProject) -> JqlRow:
    issue = stored.issue
    comments = " ".join(c.body for c in stored.comments)
    rank = {p.name: float(len(PRIORITIES) - i) for i, p in enumerate(PRIORITIES)}
    number = int(issue.key.rsplit("-", 1)[1])
    never = datetime.min.replace(tzinfo=UTC)
    return JqlRow(
        ref=issue.id,
        values={
            "key": _lowered(issue.key, issue.id, *stored.former_keys),
            "project": _lowered(project.key, project.name, project.id),
            "status": _lowered(issue.status),
            "statuscategory": _lowered(
                issue.status_category, CATEGORY_NAMES[issue.status_category]
            ),
            "issuetype": _lowered(issue.issue_type),
            "priority": _lowered(issue.priority),
            "resolution": _lowered(issue.resolution),
            "labels": _lowered(*issue.labels),
            "component": _lowered(*issue.components),
            "assignee": _user_values(issue.assignee),
            "reporter": _user_values(issue.reporter),
        },
        texts={
            "summary": issue.summary,
            "description": issue.description or "",
            "comment": comments,
            "text": " ".join((issue.summary, issue.description or "", comments)),
        },
        dates={"created": issue.created, "updated": issue.updated},
        sort={
            "key": f"{issue.project_key}-{number:012d}",  # by project, then by number
            "created": (issue.created or never).timestamp(),
            "updated": (issue.updated or never).timestamp(),
            "priority": rank.get(issue.priority or "", 0.0),
            "status": issue.status.lower(),
            "summary": issue.summary.lower(),
            "project": issue.project_key,
            "issuetype": issue.issue_type,
            "assignee": issue.assignee.display_name.lower() if issue.assignee else "",
        },
    )


def _lowered(*values: str | None) -> tuple[str, ...]:
    return tuple(v.lower() for v in values if v)


def _lower(values: Iterable[str]) -> frozenset[str]:
    return frozenset(v.lower() for v in values)


def _user_values(user: JiraUser | None) -> tuple[str, ...]:
    return _lowered(user.account_id, user.email) if user else ()
