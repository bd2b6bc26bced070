"""Where a card someone acted on lives, and how it is re-rendered there in place.

A card can be an ephemeral answer (`/jira show`), a message Connect posted (previews, shared
cards, thread replies), the unfurl of someone's Jira link, or a block of a modal. Each is
updated the way Slack allows for it: the response_url, chat.update, chat.unfurl, views.update.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from clients.jira_client import JiraIssue
from clients.slack_client import SlackError
from handlers import cards
from handlers.payloads import CardAction
from services.connect_services import ConnectServices
from services.notifications.own_changes import OwnAction

log = logging.getLogger(__name__)

VIEW_KEYS = ("type", "title", "close", "submit", "callback_id", "private_metadata")


@dataclass(frozen=True, slots=True)
class CardPlace:
    team_id: str
    user_id: str
    key: str
    channel_id: str | None
    thread_ts: str | None  # the thread the card sits in, for crediting the webhook echo

    @classmethod
    def of(cls, action: CardAction, key: str) -> CardPlace:
        container, message = action.container, action.message
        channel = container.channel_id or (action.channel.id if action.channel else None)
        thread = (message.thread_ts if message else None) or container.thread_ts
        return cls(action.team.id or "", action.user.id or "", key, channel, thread)


def own_action(services: ConnectServices, place: CardPlace) -> OwnAction:
    """Who acts on the card, and where: its webhook echo is theirs once Jira accepted it."""
    return OwnAction.of(
        services,
        team_id=place.team_id,
        slack_user_id=place.user_id,
        channel_id=place.channel_id,
        thread_ts=place.thread_ts,
    )


def update_card(
    services: ConnectServices,
    action: CardAction,
    key: str,
    issue: JiraIssue,
    note: str,
) -> None:
    """Re-render the card of `key` where it was clicked; other blocks stay as they were."""
    container, message, channel = action.container, action.message, CardPlace.of(action, key)
    text = cards.issue_text(issue)
    try:
        if container.type == "view" and action.view is not None:
            view = action.view
            fresh = {k: getattr(view, k) for k in VIEW_KEYS if getattr(view, k) is not None}
            fresh["blocks"] = cards.replace_card(view.blocks, key, issue, note=note)
            services.slack.update_view(fresh, view_id=view.id, hash=view.hash)
        elif container.is_app_unfurl and container.app_unfurl_url and channel.channel_id:
            unfurl = {"blocks": cards.issue_card(issue, note=note)}
            services.slack.unfurl(
                channel.channel_id,
                container.message_ts or (message.ts if message else ""),
                {container.app_unfurl_url: unfurl},
            )
        elif action.response_url and (
            container.is_ephemeral or message is None or not channel.channel_id
        ):
            blocks = (
                cards.replace_card(message.blocks, key, issue, note=note)
                if message is not None and message.blocks
                else cards.issue_card(issue, share=True, note=note)
            )
            services.slack.respond(
                action.response_url, {"text": text, "blocks": blocks, "replace_original": True}
            )
        elif message is not None and channel.channel_id:
            services.slack.update_message(
                channel.channel_id,
                message.ts,
                text=message.text or text,
                blocks=cards.replace_card(message.blocks, key, issue, note=note),
            )
        else:
            tell(services, action, note, card=cards.issue_card(issue))
    except SlackError as error:
        # Not Connect's message any more, or gone: the person still learns what happened.
        log.info("could not update the card of %s in place: %s", key, error)
        tell(services, action, note, card=cards.issue_card(issue))


def tell(
    services: ConnectServices,
    action: CardAction,
    text: str,
    *,
    card: list[dict[str, Any]] | None = None,
) -> None:
    """A message only the person who clicked sees, next to the card."""
    blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": text[:3000]}}, *(card or [])]
    try:
        if action.response_url:
            message = {"text": text, "blocks": blocks, "response_type": "ephemeral"}
            services.slack.respond(action.response_url, {**message, "replace_original": False})
            return
        place = CardPlace.of(action, "")
        channel = place.channel_id or services.slack.open_dm(place.user_id)
        services.slack.post_ephemeral(
            channel, place.user_id, text=text, blocks=blocks, thread_ts=place.thread_ts
        )
    except SlackError as error:
        log.info("could not tell %s about a card action: %s", action.user.id, error)
