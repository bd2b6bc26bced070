"""Creating an issue from Slack: what the form offers, and turning its answers into Jira fields."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar, cast

from sqlalchemy.exc import IntegrityError

from clients.jira_client import (
    FieldMeta,
    IssueType,
    JiraClient,
    JiraFieldErrors,
    JiraIssue,
    JiraProject,
    Priority,
)
from models import ProcessedDelivery
from models.delivery import DONE
from services.errors import InvalidRequest, jira_errors
from services.issues.cache import TTLCache
from services.markup import escape_mrkdwn
from services.people.accounts import UserMapping
from services.policy import ConnectPolicy
from services.unit_of_work import UnitOfWorkFactory

K = TypeVar("K")
V = TypeVar("V")
SUMMARY_MAX = 255
# Seconds the create form's Jira metadata (projects, issue types, create fields, priorities) is
# kept: a Jira admin's change shows within this, or at once after a create it made fail.
FORM_METADATA_TTL = 300.0
# Fields the form always renders itself; any other *required* field becomes an extra input.
FORM_FIELDS = frozenset(
    {"project", "issuetype", "summary", "description", "priority", "assignee", "reporter"}
)
INPUT_KINDS = {
    "option": "option",
    "array": "options",
    "number": "number",
    "date": "date",
    "user": "user",
    "string": "string",
}


@dataclass(frozen=True, slots=True)
class ExtraField:
    """A required custom field of the chosen type, and the kind of input it needs."""

    field_id: str
    name: str
    kind: str  # option | options | number | date | user | string
    choices: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class CreateForm:
    projects: tuple[JiraProject, ...]
    project: JiraProject
    issue_types: tuple[IssueType, ...]
    issue_type: IssueType
    priorities: tuple[Priority, ...]
    extra_fields: tuple[ExtraField, ...]


@dataclass(frozen=True, slots=True)
class IssueDraft:
    team_id: str
    project_key: str
    issue_type_id: str
    summary: str
    description: str = ""
    priority_id: str | None = None
    assignee_slack_id: str | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)  # field id -> kind-shaped value


class FormMetadata:
    """What the create form is built from, read from Jira at most once per FORM_METADATA_TTL.

    Opening the form took four Jira round trips in a row (projects, the project's issue types,
    the type's create fields, priorities) before the modal could leave its loading view, for
    answers that change when a Jira admin changes a project. Connect reads Jira as one account,
    so the answers are the same for everyone. A create that Jira refuses over its fields drops
    them all (`forget`), so a required field added since is asked for on the next form."""

    def __init__(
        self,
        jira: JiraClient,
        *,
        ttl: float = FORM_METADATA_TTL,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.jira = jira
        self._projects: TTLCache[str, tuple[JiraProject, ...]] = TTLCache(ttl, clock=clock)
        self._types: TTLCache[str, tuple[IssueType, ...]] = TTLCache(ttl, clock=clock)
        self._fields: TTLCache[tuple[str, str], tuple[FieldMeta, ...]] = TTLCache(ttl, clock=clock)
        self._priorities: TTLCache[str, tuple[Priority, ...]] = TTLCache(ttl, clock=clock)

    def projects(self) -> tuple[JiraProject, ...]:
        return self._projects.get_or_load("", lambda: tuple(self.jira.projects()))

    def issue_types(self, project_key: str) -> tuple[IssueType, ...]:
        return self._types.get_or_load(
            project_key, lambda: tuple(self.jira.issue_types(project_key))
        )

    def create_fields(self, project_key: str, issue_type_id: str) -> tuple[FieldMeta, ...]:
        return self._fields.get_or_load(
            (project_key, issue_type_id),
            lambda: tuple(self.jira.create_fields(project_key, issue_type_id)),
        )

    def priorities(self) -> tuple[Priority, ...]:
        return self._priorities.get_or_load("", lambda: tuple(self.jira.priorities()))

    def forget(self) -> None:
        for cache in (self._projects, self._types, self._fields, self._priorities):
            cache.clear()

    def cached(self) -> _CachedMetadata:
        """The same questions, answered from what is kept only (NotCached otherwise)."""
        return _CachedMetadata(self)


class NotCached(LookupError):
    """The answer is not among what FormMetadata keeps (it would take a Jira call)."""


class _CachedMetadata:
    def __init__(self, metadata: FormMetadata) -> None:
        self._metadata = metadata

    def projects(self) -> tuple[JiraProject, ...]:
        return _kept(self._metadata._projects, "")

    def issue_types(self, project_key: str) -> tuple[IssueType, ...]:
        return _kept(self._metadata._types, project_key)

    def create_fields(self, project_key: str, issue_type_id: str) -> tuple[FieldMeta, ...]:
        return _kept(self._metadata._fields, (project_key, issue_type_id))

    def priorities(self) -> tuple[Priority, ...]:
        return _kept(self._metadata._priorities, "")


def _kept(cache: TTLCache[K, V], key: K) -> V:
    found, value = cache.lookup(key)
    if not found:
        raise NotCached(key)
    return cast(V, value)  # a kept answer is never None


class CreateIssueService:
    def __init__(
        self,
        uow: UnitOfWorkFactory,
        jira: JiraClient,
        policy: ConnectPolicy,
        users: UserMapping,
        metadata: FormMetadata | None = None,
    ) -> None:
        self.uow = uow
        self.jira = jira
        self.policy = policy
        self.users = users
        self.metadata = metadata or FormMetadata(jira)

    def form(self, project_key: str | None = None, issue_type_id: str | None = None) -> CreateForm:
        """The choices for the modal; the project's first issue type unless one is chosen."""
        with jira_errors():
            return self._form(self.metadata, project_key, issue_type_id)

    def cached_form(self) -> CreateForm | None:
        """The form for no project in particular if all it needs is kept (no Jira call, a few
        microseconds); else None: `form()` then asks Jira, or says what is wrong."""
        try:
            return self._form(self.metadata.cached(), None, None)
        except (NotCached, InvalidRequest):
            return None

    def _form(
        self,
        metadata: FormMetadata | _CachedMetadata,
        project_key: str | None,
        issue_type_id: str | None,
    ) -> CreateForm:
        projects = tuple(p for p in metadata.projects() if self.policy.project_allowed(p.key))
        if not projects:
            raise InvalidRequest("Connect may not create issues in any Jira project.")
        wanted = (project_key or "").upper()
        project = next((p for p in projects if p.key == wanted), projects[0])
        types = tuple(t for t in metadata.issue_types(project.key) if not t.subtask)
        if not types:
            raise InvalidRequest(
                f"Project {escape_mrkdwn(project.key)} has no issue types to create."
            )
        issue_type = next((t for t in types if t.id == issue_type_id), types[0])
        extra = tuple(
            _extra_field(meta)
            for meta in metadata.create_fields(project.key, issue_type.id)
            if meta.required and not meta.has_default and meta.field_id not in FORM_FIELDS
        )
        priorities = metadata.priorities()
        return CreateForm(projects, project, types, issue_type, priorities, extra)

    def claim_submission(self, team_id: str, submission_key: str) -> bool:
        """True the first time a view submission is seen (a double click is seen twice)."""
        try:
            with self.uow() as work:
                work.session.add(
                    ProcessedDelivery(
                        team_id=team_id,
                        source="view_submission",
                        dedupe_key=submission_key[:255],
                        status=DONE,
                    )
                )
                work.commit()
        except IntegrityError:
            return False
        return True

    def create(self, draft: IssueDraft, *, credit: str) -> JiraIssue:
        """Create in Jira as Connect, crediting the person; JiraFieldErrors name bad fields."""
        if not self.policy.project_allowed(draft.project_key):
            raise InvalidRequest(
                f"Connect may not create issues in {escape_mrkdwn(draft.project_key[:40])}."
            )
        fields: dict[str, Any] = {
            "project": {"key": draft.project_key},
            "issuetype": {"id": draft.issue_type_id},
            "summary": " ".join(draft.summary.split())[:SUMMARY_MAX],
            "description": f"{draft.description.strip()}\n\n{credit}".strip(),
        }
        if draft.priority_id:
            fields["priority"] = {"id": draft.priority_id}
        if draft.assignee_slack_id:
            assignee = self.users.jira_user_for(draft.team_id, draft.assignee_slack_id)
            if assignee is None:
                raise InvalidRequest(
                    f"<@{escape_mrkdwn(draft.assignee_slack_id[:40])}> has no Jira account with "
                    "their Slack e-mail."
                )
            with jira_errors():
                cloud = self.jira.server_info().is_cloud
            # Cloud names users by accountId, Data Center by user name.
            fields["assignee"] = {"accountId" if cloud else "name": assignee.account_id}
        for field_id, value in draft.extra.items():
            fields[field_id] = value
        with jira_errors():
            try:
                return self.jira.create_issue(fields)
            except JiraFieldErrors:
                self.metadata.forget()  # the form asked for what Jira no longer takes
                raise


def _extra_field(meta: FieldMeta) -> ExtraField:
    kind = INPUT_KINDS.get(meta.schema_type, "string")
    if kind in ("option", "options") and not meta.allowed_values:
        kind = "string"
    return ExtraField(meta.field_id, meta.name, kind, meta.allowed_values)


def extra_value(kind: str, raw: Any) -> Any:
    """A form answer in the shape Jira's REST v2 create takes for that kind of field."""
    if kind == "option":
        return {"id": str(raw)}
    if kind == "options":
        return [{"id": str(item)} for item in raw]
    if kind == "number":
        return float(raw)
    if kind == "user":
        return {"id": str(raw)}
    return str(raw)
