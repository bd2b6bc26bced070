"""`/jira`: ack at once with anything that needs no Jira; the rest runs after the ack."""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, App

from handlers import blocks
from handlers.payloads import SlashCommand
from services.commands import UsageError
from services.context import ConnectServices


def register(app: App) -> None:
    app.command("/jira")(acknowledge_jira)


def acknowledge_jira(ack: Ack, body: dict[str, Any], services: ConnectServices) -> None:
    command = SlashCommand.model_validate(body)
    parser = services.parser
    try:
        invocation = parser.parse(command.text)
    except UsageError as error:
        ack(**blocks.usage_error_message(error, parser))
        return
    if invocation.name == "help":
        ack(**blocks.help_message(parser))
        return
    ack(
        **blocks.usage_error_message(
            UsageError(f"`{invocation.name}` is not available.", ""), parser
        )
    )
