"""Uninstalls: `app_uninstalled` removes the workspace's installation and what Connect keeps for
it; `tokens_revoked` (bot tokens) removes the installation. Work happens after the ack."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt import Ack, App

from handlers.payloads import EventCallback
from services.context import ConnectServices

log = logging.getLogger(__name__)


def register(app: App) -> None:
    app.event("app_uninstalled")(ack=acknowledge, lazy=[forget_workspace])
    app.event("tokens_revoked")(ack=acknowledge, lazy=[forget_bot_tokens])


def acknowledge(ack: Ack) -> None:
    ack()


def forget_workspace(body: dict[str, Any], services: ConnectServices) -> None:
    team = EventCallback.model_validate(body).team_id
    if not team:
        return
    if services.installations is None:  # single-workspace mode: the token is the operator's
        log.warning(
            "Connect was uninstalled from Slack workspace %s: SLACK_BOT_TOKEN no longer works",
            team,
        )
        return
    services.installations.forget_workspace(team)


def forget_bot_tokens(body: dict[str, Any], services: ConnectServices) -> None:
    envelope = EventCallback.model_validate(body)
    tokens = envelope.event.get("tokens")
    revoked_bots = tokens.get("bot") if isinstance(tokens, dict) else None
    if not envelope.team_id or not revoked_bots:
        return  # user tokens only: Connect keeps none
    if services.installations is None:
        log.warning("Slack revoked the bot token of workspace %s", envelope.team_id)
        return
    services.installations.delete(envelope.team_id)
