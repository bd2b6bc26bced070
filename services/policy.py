"""What Connect may show and who may manage channels, free of how the settings were read."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class ConnectPolicy:
    allowed_projects: frozenset[str] = frozenset()
    admins: frozenset[str] = frozenset()
    jira_base_url: str = ""
    # CONNECT_CHANNEL_MANAGERS=admins: only `admins` change a channel's links, subscriptions
    # and settings; otherwise its members may too.
    channel_managers_admins_only: bool = False

    def project_allowed(self, project_key: str) -> bool:
        return not self.allowed_projects or project_key.upper() in self.allowed_projects

    def is_admin(self, slack_user_id: str) -> bool:
        return slack_user_id in self.admins
