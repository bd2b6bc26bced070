"""What every listener and job gets: the services and the clients they work through."""

from __future__ import annotations

from dataclasses import dataclass, field

from clients.jira_client import JiraClient
from clients.slack_client import SlackClient
from services.commands import CommandParser, default_parser
from services.issues.create import CreateIssueService, FormMetadata
from services.issues.links import LinkService
from services.issues.service import IssueService
from services.notifications.preferences import NotifyPreferences
from services.people.accounts import UserMapping
from services.people.installations import Installations
from services.policy import ConnectPolicy
from services.unit_of_work import UnitOfWorkFactory


@dataclass(frozen=True, slots=True)
class ConnectServices:
    uow: UnitOfWorkFactory
    jira: JiraClient
    slack: SlackClient
    policy: ConnectPolicy = field(default_factory=ConnectPolicy)
    parser: CommandParser = field(default_factory=default_parser)
    # Multi-workspace OAuth mode only: the workspaces Connect is installed in.
    installations: Installations | None = None
    # Holds caches and per-user locks, so there is one per process, built with the rest.
    users: UserMapping = field(init=False)
    form_metadata: FormMetadata = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "users", UserMapping(self.uow, self.slack, self.jira))
        object.__setattr__(self, "form_metadata", FormMetadata(self.jira))

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
