"""Buttons on cards: ack at once, act after."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt import Ack, App, Respond

from clients.slack_client import SlackNotInChannel
from handlers import blocks, cards
from handlers.commands import links_page
from handlers.payloads import BlockAction
from handlers.subscriptions import subscriptions_page
from services.context import ConnectServices
from services.errors import ConnectError
from services.links import INVITE_FIRST

log = logging.getLogger(__name__)


def register(app: App) -> None:
    app.action(cards.OPEN_ACTION)(acknowledge)  # a URL button: Slack opens it, we only ack
    app.action(cards.SHARE_ACTION)(ack=acknowledge, lazy=[share_issue])
    app.action(blocks.LIST_PAGE_ACTION)(ack=acknowledge, lazy=[turn_page])


def acknowledge(ack: Ack) -> None:
    ack()


def share_issue(body: dict[str, Any], respond: Respond, services: ConnectServices) -> None:
    action = BlockAction.model_validate(body)
    channel, key = action.channel.id if action.channel else None, action.action.value
    if not channel or not key:
        return
    try:
        issue = services.issues.get(key)
        services.slack.post_message(
            channel,
            text=cards.issue_text(issue),
            blocks=[
                *cards.issue_card(issue),
                {
                    "type": "context",
                    "elements": [{"type": "mrkdwn", "text": f"Shared by <@{action.user.id}>"}],
                },
            ],
        )
    except SlackNotInChannel:
        respond(**blocks.ephemeral(INVITE_FIRST), replace_original=False)
        return
    except ConnectError as error:
        respond(**blocks.ephemeral(error.user_message), replace_original=False)
        return
    respond(delete_original=True)


def turn_page(body: dict[str, Any], respond: Respond, services: ConnectServices) -> None:
    """Previous/Next page under a list answer: the page it names, in place of the old one."""
    action = BlockAction.model_validate(body)
    name, _, number = (action.action.value or "").partition(":")
    pages = {"links": links_page, "subscriptions": subscriptions_page}
    team, channel = action.team.id, action.channel.id if action.channel else None
    if not team or not channel or name not in pages:
        return
    page = blocks.page_number([number])
    respond(replace_original=True, **pages[name](services, team, channel, page))
