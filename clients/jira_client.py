"""Connect's one interface to Jira: domain types, errors and the `JiraClient` protocol.

Implementations: `clients.jira_rest.JiraRestClient` (the `jira` package, over HTTP) and
`simulators.jira_site.memory.InMemoryJira` (tests and the offline demo). Field shapes follow Jira
REST API v2, where descriptions and comments are wiki markup / plain text.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import IO, Any, Protocol, runtime_checkable

STATUS_CATEGORY_NEW = "new"
STATUS_CATEGORY_IN_PROGRESS = "indeterminate"
STATUS_CATEGORY_DONE = "done"


@dataclass(frozen=True, slots=True)
class ServerInfo:
    base_url: str
    deployment_type: str
    version: str

    @property
    def is_cloud(self) -> bool:
        return self.deployment_type == "Cloud"


@dataclass(frozen=True, slots=True)
class JiraUser:
    # Cloud `accountId`; on Data Center the user `name`, which is what assignment takes.
    account_id: str
    display_name: str
    email: str | None = None
    active: bool = True


@dataclass(frozen=True, slots=True)
class JiraProject:
    id: str
    key: str
    name: str


@dataclass(frozen=True, slots=True)
class IssueType:
    id: str
    name: str
    subtask: bool = False


@dataclass(frozen=True, slots=True)
class Priority:
    id: str
    name: str


@dataclass(frozen=True, slots=True)
class Transition:
    id: str
    name: str
    to_status: str


@dataclass(frozen=True, slots=True)
class FieldMeta:
    """One field of a create screen, from createmeta."""

    field_id: str
    name: str
    required: bool
    schema_type: str
    allowed_values: tuple[tuple[str, str], ...] = ()  # (id, name)
    has_default: bool = False


@dataclass(frozen=True, slots=True)
class JiraComment:
    id: str
    body: str
    author: JiraUser | None = None
    created: datetime | None = None
    updated: datetime | None = None
    # Who may read it when restricted: ("role", "Administrators") or ("group", "board").
    visibility: tuple[str, str] | None = None


@dataclass(frozen=True, slots=True)
class JiraAttachment:
    id: str
    filename: str
    size: int


@dataclass(frozen=True, slots=True)
class JiraHistory:
    """One changelog entry: who changed which fields, and when."""

    author: JiraUser | None
    created: datetime | None
    # Lower case, by field id where Jira gives one ("status", "assignee"); custom fields left out.
    fields: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class JiraIssue:
    id: str
    key: str
    url: str
    summary: str
    status: str
    status_category: str
    issue_type: str
    project_key: str
    priority: str | None = None
    assignee: JiraUser | None = None
    reporter: JiraUser | None = None
    resolution: str | None = None
    description: str | None = None
    labels: tuple[str, ...] = ()
    components: tuple[str, ...] = ()
    created: datetime | None = None
    updated: datetime | None = None
    security: str | None = None  # the issue security level's name; None when it has none
    # Filled only by `search(..., with_comments=True)`; () means "not asked for".
    comments: tuple[JiraComment, ...] = ()
    # Filled only by `search(..., with_changelog=True)`: the changelog Jira puts in a search
    # result (on Cloud its latest entries), in any order.
    history: tuple[JiraHistory, ...] = ()


@dataclass(frozen=True, slots=True)
class SearchPage:
    issues: tuple[JiraIssue, ...]
    next_page_token: str | None = None


class JiraError(Exception):
    """Base of every Jira failure; `message` is safe to show a user and never holds secrets."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


class JiraNotFound(JiraError):
    """The issue (or other resource) does not exist or Connect may not see it."""


class JiraUnavailable(JiraError):
    """Connection failure, timeout, 5xx, or 429/503 still failing after the retry budget."""


class JiraTimeout(JiraUnavailable):
    """Jira took longer than the client's timeout to answer."""


class JiraAuthError(JiraError):
    """Jira refused Connect's credentials (401) or its permissions (403)."""


class JiraBadRequest(JiraError):
    """Jira answered 400, e.g. invalid JQL; `message` is Jira's own text."""

    def __init__(self, message: str, *, status: int | None = 400) -> None:
        super().__init__(message, status=status)


class JiraFieldErrors(JiraBadRequest):
    """A 400 on create/update naming the fields at fault (`errors`: field id -> message)."""

    def __init__(self, errors: Mapping[str, str], messages: list[str] | None = None) -> None:
        self.errors = dict(errors)
        self.messages = list(messages or [])
        parts = self.messages + [f"{field}: {text}" for field, text in self.errors.items()]
        super().__init__("; ".join(parts) or "Jira rejected the fields")


@runtime_checkable
class JiraClient(Protocol):
    def server_info(self) -> ServerInfo: ...

    def myself(self) -> JiraUser:
        """Connect's own Jira account."""
        ...

    def get_issue(self, key: str) -> JiraIssue:
        """Raises JiraNotFound when the issue is missing."""
        ...

    def search(
        self,
        jql: str,
        *,
        max_results: int = 50,
        page_token: str | None = None,
        with_comments: bool = False,
        with_changelog: bool = False,
    ) -> SearchPage:
        """One page of issues; `with_comments` also fills each issue's `comments` (the page of
        comments Jira puts in a search result) and `with_changelog` its `history`, without
        another call per issue."""
        ...

    def projects(self) -> list[JiraProject]: ...

    def issue_types(self, project_key: str) -> list[IssueType]: ...

    def create_fields(self, project_key: str, issue_type_id: str) -> list[FieldMeta]: ...

    def priorities(self) -> list[Priority]: ...

    def create_issue(self, fields: Mapping[str, Any]) -> JiraIssue:
        """`fields` in REST v2 shape; raises JiraFieldErrors on a 400."""
        ...

    def transitions(self, key: str) -> list[Transition]: ...

    def transition_issue(self, key: str, transition_id: str) -> None: ...

    def assign_issue(self, key: str, account_id: str | None) -> None:
        """`None` unassigns."""
        ...

    def add_comment(self, key: str, body: str) -> JiraComment: ...

    def issue_comments(self, key: str) -> list[JiraComment]:
        """Every comment of the issue, oldest first."""
        ...

    def update_comment(self, key: str, comment_id: str, body: str) -> JiraComment:
        """Raises JiraNotFound when the comment (or its issue) is gone."""
        ...

    def delete_comment(self, key: str, comment_id: str) -> None:
        """Raises JiraNotFound when the comment (or its issue) is gone."""
        ...

    def add_attachment(self, key: str, filename: str, content: IO[bytes]) -> JiraAttachment:
        """Upload `content` (read from where it is, to its end) as a file on the issue."""
        ...

    def upsert_remote_link(
        self, key: str, *, global_id: str, url: str, title: str, summary: str | None = None
    ) -> None:
        """Jira updates the link that already has `global_id` instead of adding a second."""
        ...

    def find_users_by_email(self, email: str) -> list[JiraUser]: ...

    def watchers(self, key: str) -> list[JiraUser]:
        """Who watches the issue (`/issue/{key}/watchers`)."""
        ...
