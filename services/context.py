"""What every listener and job gets: the services and the clients they work through."""

from __future__ import annotations

from dataclasses import dataclass, field

from clients.jira_client import JiraClient
from clients.slack_client import SlackClient
from services.commands import CommandParser, default_parser
from services.unit_of_work import UnitOfWorkFactory


@dataclass(frozen=True, slots=True)
class ConnectPolicy:
    """The settings services act on, free of how they were read."""

    allowed_projects: frozenset[str] = frozenset()
    admins: frozenset[str] = frozenset()
    jira_base_url: str = ""

    def project_allowed(self, project_key: str) -> bool:
        return not self.allowed_projects or project_key.upper() in self.allowed_projects


@dataclass(frozen=True, slots=True)
class ConnectServices:
    uow: UnitOfWorkFactory
    jira: JiraClient
    slack: SlackClient
    policy: ConnectPolicy = ConnectPolicy()
    parser: CommandParser = field(default_factory=default_parser)
