"""`@Connect …`: the text after the mention is read by the `/jira` parser and answered in the
thread, like the slash command would answer (help, show, search, assign, settings, …).

A mention has no trigger_id, so `@Connect create …` answers with a button that opens the
create form (a button press has one). Answers that show someone's own account (connect,
whoami, disconnect) are ephemeral in the thread; the rest are thread replies everyone sees.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from slack_bolt import Ack, App, BoltContext, BoltRequest
from slack_sdk import WebClient

from clients.slack_client import SlackError
from handlers import blocks, cards, create_issue
from handlers.after_ack import AfterAck
from handlers.command_request import CommandRequest, Message
from handlers.commands import AS_PERSON, SLOW_SUBCOMMANDS
from handlers.event_dedupe import hand_over, read_event
from handlers.identity import not_connected
from handlers.modal_opener import ModalOpener
from handlers.payloads import AppMention, BlockAction, EventCallback, SlashCommand
from services.commands import UsageError
from services.connect_services import ConnectServices
from services.errors import user_message_for
from services.issues import card_parts
from services.people.jira_identity import PendingCommand
from services.people.person_jira import JiraNotConnected

log = logging.getLogger(__name__)

CREATE_ACTION = "mention_create_issue"
_MENTION = re.compile(r"<@([UW][A-Z0-9]+)(?:\|[^<>]*)?>")  # linear: stops at `<`


def register(app: App) -> None:
    app.event("app_mention")(on_mention)
    app.action(CREATE_ACTION)(open_create_form)


# -- pure -----------------------------------------------------------------------------------


def command_text(text: str, bot_user_id: str | None) -> str:
    """The text after the mention of Connect (other people's mentions are kept)."""
    if bot_user_id:
        return " ".join(re.sub(rf"<@{re.escape(bot_user_id)}(?:\|[^<>]*)?>", " ", text).split())
    match = _MENTION.search(text)  # without our id, the first mention is taken for ours
    return " ".join((text[: match.start()] + " " + text[match.end() :]).split()) if match else text


def create_prompt(words: str) -> Message:
    text = "Press the button to open the form and create a Jira issue"
    if words:
        text += f", prefilled with “{cards.escape(words[:200])}”"
    return {
        "text": text + ".",
        "blocks": [
            {"type": "section", "text": {"type": "mrkdwn", "text": text + "."}},
            {
                "type": "actions",
                "elements": [
                    {
                        "type": "button",
                        "text": {"type": "plain_text", "text": "Create issue"},
                        "action_id": CREATE_ACTION,
                        "value": words[:2000],
                        "style": "primary",
                    }
                ],
            },
        ],
    }


def without_share_buttons(message_blocks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A reply everyone sees is already shared: its cards drop "Share in channel"."""
    kept = []
    for block in message_blocks:
        if block.get("type") == "actions":
            elements = [
                e
                for e in block.get("elements", [])
                if e.get("action_id") != card_parts.SHARE_ACTION
            ]
            block = {**block, "elements": elements}
        kept.append(block)
    return kept


# -- listeners --------------------------------------------------------------------------------


def on_mention(
    body: dict[str, Any],
    request: BoltRequest,
    context: BoltContext,
    services: ConnectServices,
    after_ack: AfterAck,
) -> None:
    """Bolt has acked the event; a person's mention is answered after (once per event)."""
    read = read_event(body, AppMention)
    if read is None:
        return
    envelope, mention = read
    if mention.bot_id or not mention.user:
        return
    hand_over(
        after_ack,
        "answer_mention",
        request,
        envelope,
        services,
        answer_mention,
        envelope,
        mention,
        context.bot_user_id,
        services,
    )


def answer_mention(
    envelope: EventCallback,
    mention: AppMention,
    bot_user_id: str | None,
    services: ConnectServices,
) -> None:
    user = mention.user or ""
    command = SlashCommand(
        command="/jira",
        text=command_text(mention.text, bot_user_id),
        team_id=envelope.team_id,
        channel_id=mention.channel,
        user_id=user,
    )
    name, reply = mention_reply(services, command)
    thread = mention.thread_ts or mention.ts
    text, reply_blocks = str(reply.get("text") or ""), list(reply.get("blocks") or [])
    try:
        if services.parser.is_private(name):
            services.slack.post_ephemeral(
                mention.channel, user, text=text, blocks=reply_blocks, thread_ts=thread
            )
        else:
            services.slack.post_message(
                mention.channel,
                text=text,
                blocks=without_share_buttons(reply_blocks),
                thread_ts=thread,
            )
    except SlackError as error:
        log.info("could not answer a mention in %s: %s", mention.channel, error.error)


def mention_reply(services: ConnectServices, command: SlashCommand) -> tuple[str, Message]:
    """(subcommand, answer) for the mention's text, as `/jira` would answer it."""
    parser = services.parser
    try:
        invocation = parser.parse(command.text)
    except UsageError as error:
        return "", blocks.usage_error_message(error, parser)
    if invocation.name == "help":
        return "help", blocks.help_message(parser)
    if invocation.name == "create":
        return "create", create_prompt(invocation.rest)
    run = SLOW_SUBCOMMANDS.get(invocation.name)
    if run is None:  # pragma: no cover - every subcommand but help and create is slow
        return invocation.name, blocks.help_message(parser)
    try:
        acting = services
        if invocation.name in AS_PERSON:  # JIRA_AUTH_MODE=user: with their own Jira token
            acting = services.as_person(command.team_id, command.user_id)
        return invocation.name, run(acting, CommandRequest(command, invocation))
    except JiraNotConnected as error:
        # "connect" is private: the button (bound to this person) is shown to them alone.
        pending = PendingCommand(command.text.strip(), command.channel_id)
        prompt = not_connected(services, command.team_id, command.user_id, error, pending)
        return "connect", prompt
    except UsageError as error:
        return invocation.name, blocks.usage_error_message(error, parser)
    except Exception as error:
        message = user_message_for(error)
        if message is None:
            log.exception("@Connect %s failed", invocation.name)
            message = ":warning: Something went wrong on Connect's side; try again."
        return invocation.name, blocks.ephemeral(message)


def _create_command(action: BlockAction) -> SlashCommand:
    words = (action.action.value or "").strip()
    return SlashCommand(
        command="/jira",
        text=f"create {words}".strip(),
        team_id=action.team.id or "",
        channel_id=action.channel.id if action.channel and action.channel.id else "",
        user_id=action.user.id or "",
        response_url=action.response_url,
        trigger_id=action.trigger_id,
    )


def open_create_form(
    ack: Ack,
    body: dict[str, Any],
    client: WebClient,
    services: ConnectServices,
    opener: ModalOpener,
) -> None:
    command = _create_command(BlockAction.model_validate(body))
    ack()
    try:
        invocation = services.parser.parse(command.text)
    except UsageError:  # only a forged button value gets here
        return
    # The trigger_id lives 3 s; the form is filled after the ack, once it is open.
    create_issue.open_from_command(opener, services, client, command, invocation.args)
