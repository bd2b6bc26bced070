"""The Open, Share and list-page buttons: ack at once, act after, and answer through the
click's response_url with services.slack (handlers.answers: skipped when there is none)."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt import Ack, App

from clients.slack_client import SlackNotInChannel
from handlers import blocks, cards
from handlers.after_ack import AfterAck, hand_over, just_ack
from handlers.answers import answer
from handlers.command_request import Message
from handlers.commands import links_page
from handlers.identity import not_connected
from handlers.payloads import BlockAction
from handlers.subscriptions import subscriptions_page
from services.connect_services import ConnectServices
from services.errors import ConnectError
from services.issues import card_parts
from services.issues.links import INVITE_FIRST
from services.people.person_jira import JiraNotConnected

log = logging.getLogger(__name__)


def register(app: App) -> None:
    app.action(card_parts.OPEN_ACTION)(just_ack)  # a URL button: Slack opens it, we only ack
    app.action(card_parts.SHARE_ACTION)(hand_over("share_issue", BlockAction, share_issue))
    app.action(blocks.LIST_PAGE_ACTION)(acknowledge_page)


def acknowledge_page(
    ack: Ack,
    body: dict[str, Any],
    services: ConnectServices,
    after_ack: AfterAck,
) -> None:
    action = BlockAction.model_validate(body)
    ack()
    if action.response_url is None:  # the page would replace a message no one can name
        log.info("turn_page: no response_url in the payload, nothing to answer")
        return
    after_ack.submit("turn_page", turn_page, action, services)


def share_issue(action: BlockAction, services: ConnectServices) -> None:
    """Post the card in the channel for everyone, then remove the ephemeral one clicked;
    a refusal is told to the clicker instead."""
    channel, key = action.channel.id if action.channel else None, action.action.value
    if not channel or not key:
        return
    try:
        # JIRA_AUTH_MODE=user: shared only when the person's own account may read it.
        issue = services.as_person(action.team.id or "", action.user.id or "").issues.get(key)
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
        _tell(services, action, blocks.ephemeral(INVITE_FIRST))
        return
    except JiraNotConnected as error:
        team, user = action.team.id or "", action.user.id or ""
        _tell(services, action, not_connected(services, team, user, error))
        return
    except ConnectError as error:
        _tell(services, action, blocks.ephemeral(error.user_message))
        return
    answer(services, action.response_url, {"delete_original": True}, what="share_issue")


def _tell(services: ConnectServices, action: BlockAction, message: Message) -> None:
    """Beside the card clicked, which stays."""
    reply = {**message, "replace_original": False}
    answer(services, action.response_url, reply, what="share_issue")


def turn_page(action: BlockAction, services: ConnectServices) -> None:
    """Previous/Next page under a list answer: the page it names, in place of the old one."""
    name, _, number = (action.action.value or "").partition(":")
    pages = {"links": links_page, "subscriptions": subscriptions_page}
    team, channel = action.team.id, action.channel.id if action.channel else None
    if not team or not channel or name not in pages:
        return
    page = blocks.page_number([number])
    shown = {"replace_original": True, **pages[name](services, team, channel, page)}
    answer(services, action.response_url, shown, what="turn_page")
