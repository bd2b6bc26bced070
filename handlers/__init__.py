"""Thin Bolt listeners, one module per kind, each with `register(app)`."""

from __future__ import annotations

from slack_bolt import App

from handlers import actions, commands, create_issue, message_shortcuts


def register_listeners(app: App) -> None:
    commands.register(app)
    actions.register(app)
    create_issue.register(app)
    message_shortcuts.register(app)
