"""Message shortcuts: link a message to an issue, or add it to one as a comment; the picker.

Each shortcut opens its modal right after the ack (a trigger_id lives 3 s and is single-use);
once Slack has it, work after the ack looks at the channel and updates the modal when the bot
cannot work there or the channel turns out to be private. Submitting clears the modal at once
and the Jira work runs after the ack. The picker is the one place Jira is called before the
answer, since Slack takes options only in the HTTP response: it gets a deadline, and an empty
list after it. After the ack every Slack call goes through services.slack; the listener's
`client` only opens the modal.
"""

from __future__ import annotations

import functools
import logging
from concurrent.futures import Executor
from typing import Any

from slack_bolt import Ack, App
from slack_sdk import WebClient

from clients.jira_client import JiraIssue
from clients.slack_client import SlackClient, SlackError, SlackNotInChannel
from handlers import cards
from handlers.after_ack import AfterAck
from handlers.blocks import one_of
from handlers.conversation import wants_whole_thread
from handlers.identity import not_connected_text
from handlers.modal_opener import ModalOpener
from handlers.picker_views import (
    COMMENT_CALLBACK_ID,
    ISSUE_BLOCK,
    LINK_CALLBACK_ID,
    NO_TEXT,
    PICKER_ACTION,
    comment_modal,
    issue_options,
    link_modal,
    notice_modal,
)
from handlers.shortcut_payloads import (
    BlockSuggestion,
    MessageShortcut,
    PickerSubmission,
    SourceMessage,
)
from handlers.thread_sync import sync_switch
from services.commands import mentioned_users
from services.connect_services import ConnectServices
from services.errors import ConnectError, user_message_for
from services.issues.keys import parse_issue_key
from services.issues.links import INVITE_FIRST, BotNotInChannel, MessageRef
from services.markup import mrkdwn_to_wiki
from services.notifications.own_changes import OwnAction
from services.people.person_jira import JiraNotConnected
from services.thread_sync.attachments import attach_source_files
from services.thread_sync.capture import conversation_text, thread_size

log = logging.getLogger(__name__)

LINK_SHORTCUT = "link_message_to_issue"
COMMENT_SHORTCUT = "comment_on_issue_from_message"
MODALS = {  # shortcut → (callback_id, title)
    LINK_SHORTCUT: (LINK_CALLBACK_ID, "Link to Jira issue"),
    COMMENT_SHORTCUT: (COMMENT_CALLBACK_ID, "Comment on Jira issue"),
}
PICKER_DEADLINE = 2.0  # seconds: Slack drops an options answer after 3
PICKER_THREADS = 4  # bot.container's pool for the picker's look-ups
PICKER_LIMIT = 10
PICKER_QUERY_MAX = 200
SOMETHING_WENT_WRONG = ":warning: Something went wrong on Connect's side; try again."
DM_UNREACHABLE = (
    "I can't see direct messages between people, so I can't use this one. "
    "Try the shortcut on a message in a channel I'm in."
)


def register(app: App, picker_pool: Executor) -> None:
    """`picker_pool`: the picker's own few threads (look-ups queued behind slow work elsewhere
    would miss Slack's 3 s)."""
    app.shortcut(one_of(LINK_SHORTCUT, COMMENT_SHORTCUT))(open_modal)
    app.view(one_of(LINK_CALLBACK_ID, COMMENT_CALLBACK_ID))(submit_picked_issue)
    app.options(PICKER_ACTION)(IssuePicker(picker_pool).suggest)


# -- opening ----------------------------------------------------------------------------------


def open_modal(
    ack: Ack,
    body: dict[str, Any],
    client: WebClient,
    services: ConnectServices,
    opener: ModalOpener,
) -> None:
    shortcut = MessageShortcut.model_validate(body)
    source = _source(shortcut)
    ack()
    view = link_modal(source) if shortcut.callback_id == LINK_SHORTCUT else comment_modal(source)
    # Right after the ack (the ack does not wait for Slack's answer); check_channel once open.
    view = {**view, "external_id": _external_id(shortcut)}
    check = functools.partial(check_channel, shortcut, source, services)
    opener.open(
        client, shortcut.trigger_id, view, what=shortcut.callback_id, logger=log, then=check
    )


def check_channel(
    shortcut: MessageShortcut, source: SourceMessage, services: ConnectServices
) -> None:
    """After the modal opened: say so in it when the bot cannot work in the message's channel,
    and add the privacy notice when the payload did not tell that the channel is private."""
    callback_id, title = MODALS[shortcut.callback_id]
    try:
        channel = services.slack.channel_info(source.channel_id)
    except SlackNotInChannel:
        channel = None
    except SlackError as error:
        log.info("could not look at channel %s: %s", source.channel_id, error.error)
        return
    if channel is None or not channel.is_member:
        view = notice_modal(callback_id, title, DM_UNREACHABLE if source.dm else INVITE_FIRST)
    elif shortcut.callback_id == COMMENT_SHORTCUT:
        size = thread_size(services.slack, source.channel_id, shortcut.message.thread_ts)
        private = channel.is_private and not source.private
        if size < 2 and not private:
            return
        update: dict[str, Any] = {"thread_size": size}
        if private:
            update["private"] = True
        view = comment_modal(source.model_copy(update=update))
    else:
        return
    try:
        services.slack.update_view(view, external_id=_external_id(shortcut))
    except SlackError as error:  # submitted or closed meanwhile
        log.info("could not update the %s modal: %s", shortcut.callback_id, error.error)


def _source(shortcut: MessageShortcut) -> SourceMessage:
    return SourceMessage.from_shortcut(shortcut, with_text=shortcut.callback_id == COMMENT_SHORTCUT)


def _external_id(shortcut: MessageShortcut) -> str:
    return f"connect-{shortcut.callback_id}-{shortcut.trigger_id}"[:255]


# -- submitting -------------------------------------------------------------------------------


def submit_picked_issue(
    ack: Ack, body: dict[str, Any], services: ConnectServices, after_ack: AfterAck
) -> None:
    submission = PickerSubmission.model_validate(body)
    source = SourceMessage.from_metadata(submission.view.private_metadata)  # broken: a 400
    view_state = ((body.get("view") or {}).get("state") or {}).get("values") or {}
    whole_thread = wants_whole_thread(view_state) and source.thread_size > 1
    picked = submission.picked(ISSUE_BLOCK, PICKER_ACTION)
    key = parse_issue_key(picked or "")
    if not picked:
        error = "Choose an issue: type its key (like OPS-12) or words from its summary."
    elif key is None:
        error = "That is not an issue key (like OPS-12)."  # only a forged payload gets here
    elif submission.view.callback_id == LINK_CALLBACK_ID:
        ack(response_action="clear")
        after_ack.submit(
            "link_to_picked_issue", link_to_picked_issue, submission, source, key, services
        )
        return
    else:
        ack(response_action="clear")
        after_ack.submit(
            "comment_on_picked_issue",
            comment_on_picked_issue,
            submission,
            source,
            key,
            services,
            whole_thread,
        )
        return
    ack(response_action="errors", errors={ISSUE_BLOCK: error})


def link_to_picked_issue(
    submission: PickerSubmission, source: SourceMessage, key: str, services: ConnectServices
) -> None:
    user_id = submission.user.id
    try:
        acting = services.as_person(source.team_id, user_id)  # JIRA_AUTH_MODE=user: as them
        services.links.ensure_bot_in_channel(source.channel_id)
        ref = MessageRef(source.team_id, source.channel_id, source.message_ts, source.thread_ts)
        outcome = acting.links.link_message(ref, user_id, key)
    except JiraNotConnected as error:
        _tell(
            services, source, user_id, not_connected_text(services, source.team_id, user_id, error)
        )
        return
    except Exception as error:
        _tell(services, source, user_id, _failure_text(error, source, "link a message"))
        return
    issue = outcome.issue
    if not outcome.created:
        _tell(services, source, user_id, f"This message is already linked to {_ref(issue)}.")
        return
    linked_by = {
        "type": "context",
        "elements": [{"type": "mrkdwn", "text": f"Linked by <@{user_id}>"}],
    }
    card = [*cards.issue_card(issue), linked_by, sync_switch(issue.key, outcome.link.sync_replies)]
    _reply(services, source, user_id, f"Linked to {cards.issue_text(issue)}", card)


def comment_on_picked_issue(
    submission: PickerSubmission,
    source: SourceMessage,
    key: str,
    services: ConnectServices,
    whole_thread: bool = False,
) -> None:
    user_id, view = submission.user.id, submission.view
    # A double click submits the same view twice: one comment.
    if not services.create_issue.claim_submission(source.team_id, f"comment:{view.id}:{view.hash}"):
        return
    try:
        acting = services.as_person(source.team_id, user_id)  # JIRA_AUTH_MODE=user: as them
        services.links.ensure_bot_in_channel(source.channel_id)
        permalink = _permalink(services, source)
        text = source.text if source.text_complete else _full_text(services.slack, source)
        author = _author_name(services, source)
        own = OwnAction.of(
            services,
            team_id=source.team_id,
            slack_user_id=user_id,
            channel_id=source.channel_id,
            thread_ts=source.reply_ts,  # where the confirmation is posted
        )
        if whole_thread:
            thread = source.reply_ts
            quoted = conversation_text(
                services.slack,
                services.users.display_name_for,
                source.team_id,
                source.channel_id,
                thread,
            )
            permalink = services.slack.get_permalink(source.channel_id, thread)
            author = "a conversation"
        else:
            names = {
                uid: services.users.display_name_for(source.team_id, uid)
                for uid in mentioned_users(text)
            }
            quoted = mrkdwn_to_wiki(text, user_names=names)
        actor = None if services.user_mode else own.actor_name
        issue, _comment = acting.issues.comment(
            key, comment_body(quoted, author=author, permalink=permalink, actor=actor)
        )
        own.accepted(issue.key)
    except JiraNotConnected as error:
        _tell(
            services, source, user_id, not_connected_text(services, source.team_id, user_id, error)
        )
        return
    except Exception as error:
        _tell(services, source, user_id, _failure_text(error, source, "add the comment"))
        return
    files = attach_source_files(
        services.attachments,
        services.slack,
        services.jira,
        issue.key,
        source.team_id,
        source.channel_id,
        source.reply_ts,
        source.message_ts,
        whole=whole_thread,
    )
    what = "the whole thread" if whole_thread else "this message"
    line = f"Added {what} as a comment on {_ref(issue)}."
    if files:
        line = f"{line}\n{files}"
    section = {"type": "section", "text": {"type": "mrkdwn", "text": line}}
    _reply(services, source, user_id, f"Added {what} as a comment on {issue.key}", [section])


def comment_body(quoted: str, *, author: str, permalink: str, actor: str | None) -> str:
    """The Jira comment: the message, then who wrote it where, and who added it (unless Jira
    shows that already: JIRA_AUTH_MODE=user, `actor` None)."""
    text = quoted.strip() or NO_TEXT
    added = f"\n(added by {actor} via Slack)" if actor else ""
    return f"{text}\n\n— {author} in Slack: {permalink}{added}"


def _permalink(services: ConnectServices, source: SourceMessage) -> str:
    try:
        return services.slack.get_permalink(source.channel_id, source.message_ts)
    except SlackNotInChannel:
        raise BotNotInChannel() from None


def _author_name(services: ConnectServices, source: SourceMessage) -> str:
    if source.author_id:
        return services.users.display_name_for(source.team_id, source.author_id)
    return source.author_name or "an app"


def _full_text(slack: SlackClient, source: SourceMessage) -> str:
    """A text too long for the modal's metadata, read back from Slack (or the part kept)."""
    try:
        # The thread's parent comes first, then the message itself.
        around = slack.thread_messages(
            source.channel_id, source.reply_ts, oldest=source.message_ts, limit=2
        )
        for message in around:
            if message.get("ts") == source.message_ts and isinstance(message.get("text"), str):
                return str(message["text"])
    except SlackError as error:
        log.info("could not read message %s back from Slack: %s", source.message_ts, error.error)
    return source.text + "…"


# -- telling the user -------------------------------------------------------------------------


def _reply(
    services: ConnectServices,
    source: SourceMessage,
    user_id: str,
    text: str,
    blocks: list[dict[str, Any]],
) -> None:
    """In the message's thread; if that fails, to the user alone. `text` is mrkdwn."""
    try:
        services.slack.post_message(
            source.channel_id, text=text, blocks=blocks, thread_ts=source.reply_ts
        )
    except Exception as error:
        log.info("could not reply in the thread of %s: %s", source.message_ts, error)
        problem = _failure_text(error, source, "reply in the thread")
        _tell(services, source, user_id, f"{text}. {problem}")


def _tell(services: ConnectServices, source: SourceMessage, user_id: str, text: str) -> None:
    """Ephemeral in the message's channel; a DM when the bot cannot post there."""
    try:
        services.slack.post_ephemeral(
            source.channel_id, user_id, text=text, thread_ts=source.thread_ts
        )
        return
    except SlackError as error:
        log.info("no ephemeral in %s (%s): sending a DM", source.channel_id, error.error)
    where = "a direct message" if source.dm else f"<#{source.channel_id}>"
    try:
        channel = services.slack.open_dm(user_id)
        services.slack.post_message(
            channel, text=f"About the message you picked in {where}: {text}"
        )
    except SlackError as error:
        log.warning("could not tell %s: %s", user_id, error.error)


def _failure_text(error: Exception, source: SourceMessage, doing: str) -> str:
    if isinstance(error, (BotNotInChannel, SlackNotInChannel)):
        return DM_UNREACHABLE if source.dm else INVITE_FIRST
    message = user_message_for(error)
    if message is None:
        log.error("could not %s", doing, exc_info=error)
        return SOMETHING_WENT_WRONG
    return message


def _ref(issue: JiraIssue) -> str:
    return f"*<{issue.url}|{issue.key}>*"


# -- the issue picker -------------------------------------------------------------------------


class IssuePicker:
    """Options for the "Issue" external select: the typed key's issue, or search results."""

    def __init__(self, executor: Executor, *, deadline: float = PICKER_DEADLINE) -> None:
        self._executor = executor
        self._deadline = deadline

    def suggest(self, ack: Ack, body: dict[str, Any], services: ConnectServices) -> None:
        suggestion = BlockSuggestion.model_validate(body)
        lookup = self._executor.submit(
            matching_issues, services, suggestion.value, (suggestion.team_id, suggestion.user.id)
        )
        try:
            issues = lookup.result(timeout=self._deadline)
        except TimeoutError:
            lookup.cancel()
            log.info("issue picker: no answer from Jira within %.1f s", self._deadline)
            issues = ()
        ack(options=issue_options(issues))


def matching_issues(
    services: ConnectServices, typed: str, person: tuple[str, str] | None = None
) -> tuple[JiraIssue, ...]:
    """Within JIRA_PROJECTS (IssueService enforces it) and, in JIRA_AUTH_MODE=user, what the
    person's own Jira account may see; nothing when Jira fails or they are not connected."""
    query = typed.strip()[:PICKER_QUERY_MAX]
    if not query:
        return ()
    key = parse_issue_key(query)
    try:
        if person is not None:
            services = services.as_person(*person)
        if key is not None:
            return (services.issues.get(key),)
        return services.issues.search(query, limit=PICKER_LIMIT).issues
    except ConnectError:
        return ()
    except Exception:
        log.exception("issue picker lookup failed")
        return ()
