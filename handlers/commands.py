"""`/jira`: the ack answers at once with anything that needs no Jira; the rest runs after it.

With process_before_response, `acknowledge_jira` runs in the web server's request thread and
its return is the HTTP answer: it validates the command and parses it once, acks, and hands
`run_jira` the parsed command (handlers.after_ack), so a slow Jira never holds an ack.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from slack_bolt import Ack, App
from slack_sdk import WebClient

from clients.jira_client import JiraIssue
from handlers import (
    blocks,
    cards,
    channel_settings,
    create_issue,
    identity,
    notify,
    subscriptions,
    thread_sync,
)
from handlers.after_ack import AfterAck
from handlers.answers import answer
from handlers.backlog import BUSY_TEXT
from handlers.command_request import CommandRequest, Message, Runner
from handlers.modal_opener import ModalOpener
from handlers.payloads import SlashCommand
from services.channel_settings import ChannelSettingsService
from services.commands import SUBCOMMANDS, Subcommand, UsageError
from services.connect_services import ConnectServices
from services.errors import user_message_for
from services.markup import decode_entities, escape_typed
from services.notifications.own_changes import OwnAction
from services.people.jira_identity import PendingCommand
from services.people.person_jira import JiraNotConnected

log = logging.getLogger(__name__)


def register(app: App) -> None:
    app.command("/jira")(acknowledge_jira)


def acknowledge_jira(
    ack: Ack,
    body: dict[str, Any],
    client: WebClient,
    services: ConnectServices,
    after_ack: AfterAck,
    opener: ModalOpener,
) -> None:
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
    if after_ack.refuse("run_jira"):
        ack(**blocks.ephemeral(BUSY_TEXT))
        return
    ack()
    if invocation.name == "create":  # the trigger_id lives 3 s; filled once it is open
        create_issue.open_from_command(opener, services, client, command, invocation.args)
    elif invocation.name in SLOW_SUBCOMMANDS:
        after_ack.submit("run_jira", run_jira, CommandRequest(command, invocation), services)


def run_jira(request: CommandRequest, services: ConnectServices) -> None:
    """Run the subcommand and answer through the command's response_url (services.slack)."""
    invocation = request.invocation
    run = SLOW_SUBCOMMANDS.get(invocation.name)
    if run is None:
        return
    command = request.command
    try:
        acting = services
        if invocation.name in AS_PERSON:  # JIRA_AUTH_MODE=user: with the person's own token
            acting = services.as_person(command.team_id, command.user_id)
        reply = run(acting, request)
    except JiraNotConnected as error:
        pending = PendingCommand(command.text.strip(), command.channel_id)
        reply = identity.not_connected(services, command.team_id, command.user_id, error, pending)
    except UsageError as error:
        reply = blocks.usage_error_message(error, services.parser)
    except Exception as error:
        message = user_message_for(error)
        if message is None:
            log.exception("/jira %s failed", invocation.name)
            message = ":warning: Something went wrong on Connect's side; try again."
        reply = blocks.ephemeral(message)
    answer(services, command.response_url, reply, what=f"/jira {invocation.name}")


def show(services: ConnectServices, request: CommandRequest) -> Message:
    issue = services.issues.get(request.invocation.args[0])
    return {
        "response_type": "ephemeral",
        "text": cards.issue_text(issue),
        "blocks": cards.issue_card(issue, share=True),
    }


def search(services: ConnectServices, request: CommandRequest) -> Message:
    query = decode_entities(request.invocation.rest)  # Slack sends `>=` as `&gt;=`
    result = services.issues.search(query)
    if not result.issues:
        return blocks.ephemeral(f"No issues found for “{cards.escape(query[:200])}”.")
    return {
        "response_type": "ephemeral",
        "text": f"{len(result.issues)} issues for {cards.escape(query[:200])}",
        "blocks": cards.search_results(query, result.issues),
    }


def transition(services: ConnectServices, request: CommandRequest) -> Message:
    key, *status = request.invocation.args
    own = OwnAction.for_command(services, request.command)
    moved = services.issues.transition(key, " ".join(status))
    own.accepted(moved.after.key)
    text = (
        f"Moved *{moved.after.key}* {cards.escape(moved.before.status)} → "
        f"{cards.escape(moved.after.status)}."
    )
    return _with_card(text, moved.after)


def link(services: ConnectServices, request: CommandRequest) -> Message:
    command = request.command
    words = [arg for arg in request.invocation.args if not arg.startswith("--")]
    flags = {arg.lower() for arg in request.invocation.args if arg.startswith("--")}
    if len(words) != 1 or flags - {"--sync"}:
        raise UsageError(
            "`link` takes one issue key, and `--sync`.", services.parser.usage_of("link")
        )
    settings = ChannelSettingsService(services.uow, services.links)
    if "--sync" in flags or settings.get(command.team_id, command.channel_id).sync_default:
        return thread_sync.link_synced_thread(
            services, request, words[0], explicit="--sync" in flags
        )
    outcome = services.links.link_channel(
        command.team_id, command.channel_id, command.user_id, words[0]
    )
    key = outcome.issue.key
    text = (
        f"Linked this channel to *{key}*: its updates will be posted here."
        if outcome.created
        else f"This channel is already linked to *{key}*."
    )
    return _with_card(text, outcome.issue)


def unlink(services: ConnectServices, request: CommandRequest) -> Message:
    command = request.command
    key = request.invocation.args[0].upper()
    retired = services.links.unlink_channel(
        command.team_id, command.channel_id, command.user_id, key
    )
    if not retired:
        return blocks.ephemeral(f"This channel has no link to *{escape_typed(key[:40])}*.")
    return blocks.ephemeral(f"Unlinked *{key}* from this channel: its updates stop here.")


def links(services: ConnectServices, request: CommandRequest) -> Message:
    command = request.command
    page = blocks.page_number(request.invocation.args)
    return links_page(services, command.team_id, command.channel_id, page)


def links_page(services: ConnectServices, team_id: str, channel_id: str, page: int) -> Message:
    found = services.links.channel_links(team_id, channel_id)
    if not found:
        return blocks.ephemeral("No issues are linked to this channel. Try `/jira link KEY`.")
    lines = []
    for item in found:
        where = "this channel" if item.is_channel_link else f"<{item.permalink}|a thread>"
        lines.append(f"• *{item.issue_key}* → {where}")
    return blocks.paged_list("Issues linked here:", lines, page=page, list_name="links")


def _with_card(text: str, issue: JiraIssue) -> Message:
    return {
        "response_type": "ephemeral",
        "text": text,
        "blocks": [
            {"type": "section", "text": {"type": "mrkdwn", "text": text}},
            *cards.issue_card(issue),
        ],
    }


# What reads or changes Jira for the person who asked: in JIRA_AUTH_MODE=user these run with
# their own Jira token (their permissions, their name in Jira's history); the rest (the
# channel's own lists and settings, and identity itself) need no Jira account of theirs.
AS_PERSON = frozenset({"show", "search", "transition", "assign", "comment", "link", "subscribe"})

# Answered by the ack itself: `help` is a message, `create` opens a modal while the
# trigger_id lives. Every other subcommand runs after the ack.
AT_ACK = frozenset({"help", "create"})

_RUNNERS: dict[str, Runner] = {
    "show": show,
    "search": search,
    "transition": transition,
    "link": link,
    "unlink": unlink,
    "links": links,
    "subscribe": subscriptions.subscribe,
    "subscriptions": subscriptions.subscriptions,
    "unsubscribe": subscriptions.unsubscribe,
    "assign": identity.assign,
    "comment": identity.comment,
    "connect": identity.connect,
    "whoami": identity.whoami,
    "disconnect": identity.disconnect,
    "notify": notify.notify,
    "settings": channel_settings.settings,
}


def dispatch_table(subcommands: Iterable[Subcommand]) -> dict[str, Runner]:
    """The runner of every subcommand answered after the ack, in the order of `subcommands`
    (services.commands.SUBCOMMANDS, the one list the parser and `/jira help` read)."""
    names = [sub.name for sub in subcommands if sub.name not in AT_ACK]
    if set(names) != set(_RUNNERS):
        raise ValueError(
            f"subcommands without a runner: {sorted(set(names) - set(_RUNNERS))}; "
            f"runners without a subcommand: {sorted(set(_RUNNERS) - set(names))}"
        )
    return {name: _RUNNERS[name] for name in names}


SLOW_SUBCOMMANDS = dispatch_table(SUBCOMMANDS)
