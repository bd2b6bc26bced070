"""What every listener and job gets: the services and the clients they work through."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from clients.jira_client import JiraClient
from clients.slack_client import SlackClient
from services.commands import CommandParser, default_parser
from services.issues.cache import TTLCache
from services.issues.create import CreateIssueService, FormMetadata
from services.issues.links import LinkService
from services.issues.service import IssueService
from services.notifications.preferences import NotifyPreferences
from services.people.accounts import UserMapping
from services.people.installations import Installations
from services.people.jira_identity import JiraIdentity
from services.policy import ConnectPolicy
from services.thread_sync.attachments import AttachmentCopier
from services.unit_of_work import UnitOfWorkFactory

PERSON_FORMS_TTL = 600.0


@dataclass(frozen=True, slots=True)
class ConnectServices:
    uow: UnitOfWorkFactory
    jira: JiraClient
    slack: SlackClient
    policy: ConnectPolicy = field(default_factory=ConnectPolicy)
    parser: CommandParser = field(default_factory=default_parser)
    # Multi-workspace OAuth mode only: the workspaces Connect is installed in.
    installations: Installations | None = None
    # JIRA_AUTH_MODE=user only (SPEC §12): each person's Jira grant and the client acting as them.
    identity: JiraIdentity | None = None
    # Copies Slack files to Jira issues (SPEC §13); None: files are not copied.
    attachments: AttachmentCopier | None = None
    # Holds caches and per-user locks, so there is one per process, built with the rest (and
    # handed on unchanged to the copies `as_person` makes).
    users: UserMapping = None  # type: ignore[assignment]
    form_metadata: FormMetadata = None  # type: ignore[assignment]
    # The Slack user whose Jira account `jira` is (user mode), or None for Connect's own.
    acting_for: tuple[str, str] | None = None
    # User mode: each person's create-form metadata (what their account may create), kept
    # like Connect's own so a form does not cost four Jira calls each time.
    person_forms: TTLCache[tuple[str, str], FormMetadata] = field(
        default_factory=lambda: TTLCache(PERSON_FORMS_TTL, max_entries=1024)
    )

    def __post_init__(self) -> None:
        if self.users is None:
            users = UserMapping(
                self.uow, self.slack, self.jira, email_matching=self.identity is None
            )
            object.__setattr__(self, "users", users)
        if self.form_metadata is None:
            object.__setattr__(self, "form_metadata", FormMetadata(self.jira))

    @property
    def user_mode(self) -> bool:
        return self.identity is not None

    def as_person(self, team_id: str, slack_user_id: str) -> ConnectServices:
        """These services acting in Jira as that person (JIRA_AUTH_MODE=user), so Jira records
        them and applies their permissions; Connect's own account in `bot` mode. Raises
        JiraNotConnected when the person has not connected their Jira account."""
        if self.identity is None or self.acting_for == (team_id, slack_user_id):
            return self
        key = (team_id, slack_user_id)
        person = self.identity.client_for(team_id, slack_user_id)
        forms = self.person_forms.get_or_load(key, lambda: FormMetadata(person))
        return replace(self, jira=person, form_metadata=forms, acting_for=key)

    @property
    def issues(self) -> IssueService:
        return IssueService(self.jira, self.policy)

    @property
    def notify_preferences(self) -> NotifyPreferences:
        return NotifyPreferences(self.uow)

    @property
    def create_issue(self) -> CreateIssueService:
        return CreateIssueService(self.uow, self.jira, self.policy, self.users, self.form_metadata)

    @property
    def links(self) -> LinkService:
        return LinkService(self.uow, self.jira, self.slack, self.policy)
