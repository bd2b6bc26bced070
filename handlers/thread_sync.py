"""Synced threads (SPEC §13): the thread's replies, the "Sync replies with Jira" switch on a
linked thread's card, and `/jira link KEY --sync`.

A reply in a synced thread is stored before Slack's event is acknowledged (Bolt runs this
listener before it answers: process_before_response), so nothing Slack sent is lost; the
worker's `replies` job writes it to Jira (services.thread_sync.processor). Deciding whether a
message can matter is pure and costs nothing; only a person's reply, edit or deletion in some
thread asks the database whether that thread is synced. Every message then goes on to the
issue-key previews, as before.
"""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt import App, BoltContext, BoltRequest
from sqlalchemy.exc import SQLAlchemyError

from clients.jira_client import JiraIssue
from clients.slack_client import SlackError
from handlers import blocks, cards
from handlers.after_ack import AfterAck, hand_over
from handlers.card_places import CardPlace, tell
from handlers.command_request import CommandRequest, Message
from handlers.payloads import CardAction
from handlers.previews import Previews
from services.connect_services import ConnectServices
from services.errors import user_message_for
from services.issues.cache import IssueCache
from services.issues.keys import parse_issue_key
from services.issues.links import MessageRef
from services.thread_sync.replies import ReplyIntake, reply_change
from services.thread_sync.switch import PRIVATE_SYNC_NOTICE, SyncSwitch

log = logging.getLogger(__name__)

SYNC_ACTION = "thread_sync"
SYNC_ON_TEXT = "Sync replies with Jira"
SYNC_OFF_TEXT = "Stop syncing"


def register(app: App, cache: IssueCache) -> None:
    """Before handlers.previews: Bolt runs the first listener that matches a `message`."""
    app.event("message")(ThreadMessages(Previews(cache)).on_message)
    app.action(SYNC_ACTION)(hand_over("thread_sync_switch", CardAction, flip_switch))


# -- the switch on a linked thread's card ----------------------------------------------------


def sync_block_id(key: str) -> str:
    return f"sync:{key}"


def sync_switch(key: str, on: bool) -> dict[str, Any]:
    """The switch under the card in a linked thread: what pressing it does, and what is so."""
    state = (
        "Replies in this thread become Jira comments."
        if on
        else "Replies in this thread stay in Slack."
    )
    button: dict[str, Any] = {
        "type": "button",
        "text": {"type": "plain_text", "text": SYNC_OFF_TEXT if on else SYNC_ON_TEXT},
        "action_id": SYNC_ACTION,
        "value": f"{'off' if on else 'on'}:{key}",
    }
    if not on:
        button["style"] = "primary"
    return {
        "type": "section",
        "block_id": sync_block_id(key),
        "text": {"type": "mrkdwn", "text": f":arrows_counterclockwise: {state}"},
        "accessory": button,
    }


def with_switch(message_blocks: list[dict[str, Any]], key: str, on: bool) -> list[dict[str, Any]]:
    """The message's blocks with the switch of `key` shown as `on` (added when missing)."""
    wanted = sync_block_id(key)
    fresh = sync_switch(key, on)
    out = [fresh if block.get("block_id") == wanted else block for block in message_blocks]
    return out if fresh in out else [*out, fresh]


def flip_switch(action: CardAction, services: ConnectServices) -> None:
    wanted, _, raw_key = (action.action.value or "").partition(":")
    key = parse_issue_key(raw_key)
    message = action.message
    place = CardPlace.of(action, key or "")
    if key is None or wanted not in ("on", "off") or message is None or not place.channel_id:
        return
    thread_ts = message.thread_ts or message.ts
    switch = SyncSwitch(services.uow, services.links, services.slack)
    try:
        changed = switch.set_thread(
            place.team_id, place.channel_id, thread_ts, place.user_id, key, wanted == "on"
        )
    except Exception as error:
        text = user_message_for(error)
        if text is None:
            log.exception("could not switch the sync of %s", key)
            text = ":warning: Something went wrong on Connect's side; try again."
        tell(services, action, text)
        return
    if not message.blocks:
        return  # Slack sent no blocks to keep: better the old switch than a wiped card
    fresh = with_switch([dict(block) for block in message.blocks], key, changed.on)
    try:
        services.slack.update_message(
            place.channel_id, message.ts, text=message.text or key, blocks=fresh
        )
    except SlackError as error:
        log.info("could not update the sync switch of %s: %s", key, error.error)


# -- /jira link KEY --sync --------------------------------------------------------------------


def link_synced_thread(
    services: ConnectServices, request: CommandRequest, key: str, *, explicit: bool
) -> Message:
    """Post the issue's card in the channel and link its thread, synced: the issue's updates
    come to that thread and its replies go to Jira."""
    command = request.command
    links = services.links
    links.ensure_bot_in_channel(command.channel_id)
    links.ensure_can_manage(command.channel_id, command.user_id)
    issue = services.issues.get(key)
    for existing in links.channel_links(command.team_id, command.channel_id):
        if existing.issue_id == issue.id and existing.sync_replies:
            where = f"<{existing.permalink}|this thread>" if existing.permalink else "a thread"
            return blocks.ephemeral(f"*{issue.key}* is already synced with {where}.")
    why = "" if explicit else " (this channel's default: `/jira settings sync off` to change it)"
    text = (
        f"<@{command.user_id}> linked *{issue.key}* here{why}: its updates come to this "
        "thread, and replies in it become Jira comments."
    )
    if services.slack.channel_info(command.channel_id).is_private:
        text = f"{text}\n{PRIVATE_SYNC_NOTICE}"
    posted = services.slack.post_message(
        command.channel_id, text=text, blocks=synced_card(issue, text)
    )
    ref = MessageRef(command.team_id, command.channel_id, posted.ts, None)
    links.link_message(ref, command.user_id, issue.key, issue=issue, sync=True)
    return blocks.ephemeral(f"Linked *{issue.key}* to a synced thread in this channel.")


def synced_card(issue: JiraIssue, text: str) -> list[dict[str, Any]]:
    return [
        {"type": "section", "text": {"type": "mrkdwn", "text": text}},
        *cards.issue_card(issue),
        sync_switch(issue.key, True),
    ]


# -- replies ----------------------------------------------------------------------------------


class ThreadMessages:
    """Every `message` event: a synced thread's reply is stored first, then previews."""

    def __init__(self, previews: Previews) -> None:
        self.previews = previews

    def on_message(
        self,
        body: dict[str, Any],
        request: BoltRequest,
        context: BoltContext,
        services: ConnectServices,
        after_ack: AfterAck,
    ) -> None:
        event = body.get("event")
        team_id = body.get("team_id")
        if isinstance(event, dict) and isinstance(team_id, str):
            change = reply_change(team_id, event, bot_user_id=context.bot_user_id)
            if change is not None:
                try:
                    ReplyIntake(services.uow).accept(change)
                except SQLAlchemyError:
                    # Slack redelivers an event that is not answered 2xx: let it.
                    log.exception("could not store a reply of thread %s", change.thread_ts)
                    raise
        self.previews.on_message(body, request, context, services, after_ack)
