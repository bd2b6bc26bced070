"""`/jira notify` and App Home's switches: what Connect DMs a person about (SPEC §7)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from handlers import blocks
from handlers.command_request import CommandRequest, Message
from models.users import NOTICE_KINDS
from services.connect_services import ConnectServices
from services.notifications.preferences import parse_notices

# How each kind reads on App Home's switches ("DM me when …").
NOTICE_LABELS = {
    "assigned": "an issue is assigned to me",
    "mentions": "someone @mentions me in a comment or description",
    "reported": "an issue I reported is commented on or changes status",
    "watching": "an issue I watch is commented on or changes status",
}
# And in the command's answer ("Connect DMs you when …").
YOUR_NOTICES = {
    "assigned": "an issue is assigned to you",
    "mentions": "someone @mentions you in a comment or description",
    "reported": "an issue you reported is commented on or changes status",
    "watching": "an issue you watch is commented on or changes status",
}
NOTIFY_ACTION = "home_notify"


def notify(services: ConnectServices, request: CommandRequest) -> Message:
    command = request.command
    preferences = services.notify_preferences
    if request.invocation.rest.strip():
        chosen = preferences.choose(
            command.team_id, command.user_id, parse_notices(request.invocation.rest)
        )
        first = "Done. " + describe(chosen)
    else:
        first = describe(preferences.chosen(command.team_id, command.user_id))
    text = (
        f"{first}\nChange it with `/jira notify assigned,mentions,reported,watching` (any of "
        "them) or `/jira notify off`; App Home has the same switches. Your own changes are "
        "never DMed to you."
    )
    if services.users.whoami(command.team_id, command.user_id) is None:
        text += (
            "\n:information_source: DMs need your Jira account: run `/jira connect` to map "
            "yourself by your Slack e-mail."
        )
    return blocks.ephemeral(text)


def describe(chosen: Sequence[str]) -> str:
    if not chosen:
        return "Connect DMs you about nothing (`off`)."
    said = "; ".join(YOUR_NOTICES[kind] for kind in chosen)
    return f"Connect DMs you when {said} (`{','.join(chosen)}`)."


def notify_blocks(chosen: Sequence[str]) -> list[dict[str, Any]]:
    """App Home's switches: one checkbox per kind, ticked as chosen."""
    options = [
        {
            "text": {"type": "mrkdwn", "text": f"*{kind}*: {NOTICE_LABELS[kind]}"},
            "value": kind,
        }
        for kind in NOTICE_KINDS
    ]
    element: dict[str, Any] = {
        "type": "checkboxes",
        "action_id": NOTIFY_ACTION,
        "options": options,
    }
    ticked = [option for option in options if option["value"] in chosen]
    if ticked:
        element["initial_options"] = ticked
    return [
        {"type": "header", "text": {"type": "plain_text", "text": "DM me when"}},
        {"type": "actions", "block_id": "home_notify_switches", "elements": [element]},
        {
            "type": "context",
            "elements": [
                {
                    "type": "mrkdwn",
                    "text": "Nothing ticked is `off`. Same as `/jira notify`; your own changes "
                    "are never DMed to you.",
                }
            ],
        },
    ]
