"""Changes Connect makes in Jira for someone: noted (see ConnectAction) once Jira accepted them.

    own = OwnAction.for_command(services, command)
    moved = services.issues.transition(key, status)  # a refusal raises: nothing is noted
    own.accepted(moved.after.key)

A write Jira refused notes nothing, so it can neither keep someone else's change out of a
channel nor put the person's name on it (SPEC §11).
"""

from __future__ import annotations

from dataclasses import dataclass

from handlers.payloads import SlashCommand
from services.connect_services import ConnectServices
from services.issues.keys import parse_issue_key
from services.notifications import own_changes


@dataclass(frozen=True, slots=True)
class OwnAction:
    """Who is changing an issue through Connect, and from where (the channel, and the thread
    when there is one, that is told directly and so hears no echo)."""

    services: ConnectServices
    team_id: str
    slack_user_id: str
    channel_id: str | None
    thread_ts: str | None
    actor_name: str

    @classmethod
    def of(
        cls,
        services: ConnectServices,
        *,
        team_id: str,
        slack_user_id: str,
        channel_id: str | None,
        thread_ts: str | None = None,
    ) -> OwnAction:
        # The name is read before the write, so that the note follows Jira's answer at once.
        name = services.users.display_name_for(team_id, slack_user_id)
        return cls(services, team_id, slack_user_id, channel_id, thread_ts, name)

    @classmethod
    def for_command(cls, services: ConnectServices, command: SlashCommand) -> OwnAction:
        return cls.of(
            services,
            team_id=command.team_id,
            slack_user_id=command.user_id,
            channel_id=command.channel_id,
        )

    def accepted(self, key: str) -> None:
        """Jira accepted the change of issue `key` (as Jira now names it)."""
        issue_key = parse_issue_key(key)
        if issue_key is None:
            return
        own_changes.remember_action(
            self.services.uow,
            team_id=self.team_id,
            issue_key=issue_key,
            channel_id=self.channel_id,
            thread_ts=self.thread_ts,
            slack_user_id=self.slack_user_id,
            actor_name=self.actor_name,
        )
