"""Uninstalls: `app_uninstalled` removes the workspace's installation and what Connect keeps for
it; `tokens_revoked` (bot tokens) removes the installation. Work happens after the ack."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt import App

from handlers.after_ack import AfterAck
from handlers.payloads import EventCallback
from services.connect_services import ConnectServices

log = logging.getLogger(__name__)


def register(app: App) -> None:
    app.event("app_uninstalled")(uninstalled)
    app.event("tokens_revoked")(tokens_revoked)


def uninstalled(body: dict[str, Any], services: ConnectServices, after_ack: AfterAck) -> None:
    """Bolt has acked the event; what Connect keeps is removed after."""
    envelope = EventCallback.model_validate(body)
    after_ack.submit("forget_workspace", forget_workspace, envelope, services)


def tokens_revoked(body: dict[str, Any], services: ConnectServices, after_ack: AfterAck) -> None:
    envelope = EventCallback.model_validate(body)
    after_ack.submit("forget_bot_tokens", forget_bot_tokens, envelope, services)


def forget_workspace(envelope: EventCallback, services: ConnectServices) -> None:
    team = envelope.team_id
    if not team:
        return
    if services.identity is not None:  # people's Jira tokens go whatever the Slack mode
        services.identity.forget_team(team)
    if services.installations is None:  # single-workspace mode: the token is the operator's
        log.warning(
            "Connect was uninstalled from Slack workspace %s: SLACK_BOT_TOKEN no longer works",
            team,
        )
        return
    services.installations.forget_workspace(team)


def forget_bot_tokens(envelope: EventCallback, services: ConnectServices) -> None:
    tokens = envelope.event.get("tokens")
    revoked_bots = tokens.get("bot") if isinstance(tokens, dict) else None
    if not envelope.team_id or not revoked_bots:
        return  # user tokens only: Connect keeps none
    if services.installations is None:
        log.warning("Slack revoked the bot token of workspace %s", envelope.team_id)
        return
    services.installations.delete(envelope.team_id)
