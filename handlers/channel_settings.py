"""`/jira settings`, `/jira settings previews on|off`, `/jira settings notify all|important`,
`/jira settings sync on|off`."""

from __future__ import annotations

from handlers import blocks
from handlers.command_request import CommandRequest, Message
from services.channel_settings import ChannelSettingsService, ChannelSettingsView
from services.commands import UsageError
from services.connect_services import ConnectServices
from services.markup import escape_typed

SWITCHES = {"on": True, "off": False}
IMPORTANT = "status, assignee, comments and resolution"


def settings(services: ConnectServices, request: CommandRequest) -> Message:
    command, args = request.command, request.invocation.args
    service = ChannelSettingsService(services.uow, services.links)
    usage = services.parser.usage_of("settings")
    if not args:
        return blocks.ephemeral(
            settings_text(service.get(command.team_id, command.channel_id), usage)
        )
    what, value = args[0].lower(), (args[1].lower() if len(args) > 1 else "")
    if len(args) != 2 or what not in ("previews", "notify", "sync"):
        raise UsageError(
            "`settings` takes `previews on|off`, `notify all|important` or `sync on|off`.", usage
        )
    if what == "sync":
        if value not in SWITCHES:
            raise UsageError(f"Sync is `on` or `off`, not `{escape_typed(value[:20])}`.", usage)
        service.set_sync_default(
            command.team_id, command.channel_id, command.user_id, SWITCHES[value]
        )
        return blocks.ephemeral(
            "New links in this channel now *sync* their thread with Jira: replies become "
            "Jira comments. Links made before keep their own switch."
            if SWITCHES[value]
            else "New links in this channel no longer sync their thread with Jira. Links made "
            "before keep their own switch."
        )
    if what == "previews":
        if value not in SWITCHES:
            raise UsageError(
                f"Previews are `on` or `off`, not `{escape_typed(value[:20])}`.", usage
            )
        service.set_previews(command.team_id, command.channel_id, command.user_id, SWITCHES[value])
        return blocks.ephemeral(
            "Issue previews are now *on* here: issue keys get a preview in their thread."
            if SWITCHES[value]
            else "Issue previews are now *off* here: issue keys are left alone."
        )
    if value not in ("all", "important"):
        raise UsageError(
            f"Notifications are `all` or `important`, not `{escape_typed(value[:20])}`.", usage
        )
    service.set_notify_level(command.team_id, command.channel_id, command.user_id, value)
    return blocks.ephemeral(
        "This channel now gets *every* change of its issues."
        if value == "all"
        else f"This channel now gets only *important* changes ({IMPORTANT})."
    )


def settings_text(current: ChannelSettingsView, usage: str) -> str:
    previews = "on" if current.previews_enabled else "off"
    notify = (
        "all changes" if current.notify_level == "all" else f"important changes only ({IMPORTANT})"
    )
    return (
        "*Connect settings for this channel*\n"
        f"• Issue-key previews: *{previews}*\n"
        f"• Notifications: *{notify}*\n"
        f"• New links sync their thread with Jira: *{'on' if current.sync_default else 'off'}*\n"
        f"Change them with {usage}."
    )
