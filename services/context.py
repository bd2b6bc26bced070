"""What every listener and job gets: the services and the clients they work through."""

from __future__ import annotations

from dataclasses import dataclass, field

from clients.jira_client import JiraClient
from clients.slack_client import SlackClient
from services.commands import CommandParser, default_parser
from services.issues import IssueService
from services.policy import ConnectPolicy
from services.unit_of_work import UnitOfWorkFactory


@dataclass(frozen=True, slots=True)
class ConnectServices:
    uow: UnitOfWorkFactory
    jira: JiraClient
    slack: SlackClient
    policy: ConnectPolicy = field(default_factory=ConnectPolicy)
    parser: CommandParser = field(default_factory=default_parser)

    def __deepcopy__(self, memo: dict[int, object]) -> ConnectServices:
        # Bolt deep-copies the context for lazy listeners; the services are shared, not copied.
        return self

    @property
    def issues(self) -> IssueService:
        return IssueService(self.jira, self.policy)
