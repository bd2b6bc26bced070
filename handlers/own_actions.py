"""Before Connect changes an issue for someone, it notes who and where (see ConnectAction)."""

from __future__ import annotations

from handlers.payloads import SlashCommand
from services import notifications
from services.context import ConnectServices
from services.issue_keys import parse_issue_key


def remember_action(
    services: ConnectServices, command: SlashCommand, key: str, *, thread_ts: str | None = None
) -> None:
    issue_key = parse_issue_key(key)
    if issue_key is None:
        return
    notifications.remember_action(
        services.uow,
        team_id=command.team_id,
        issue_key=issue_key,
        channel_id=command.channel_id,
        thread_ts=thread_ts,
        slack_user_id=command.user_id,
        actor_name=services.users.display_name_for(command.team_id, command.user_id),
    )
