"""Reading a whole Slack thread for "Include the whole thread (N messages)" (SPEC §13), on
"Create Jira issue" and "Comment on Jira issue": how many messages it has, the checkbox,
whether it was ticked, and the thread as one Jira text (services.thread_sync.capture)."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackClientError

from services.commands import mentioned_users
from services.connect_services import ConnectServices
from services.markup import escape_mrkdwn, mrkdwn_to_wiki
from services.thread_sync.capture import JIRA_TEXT_LIMIT, CapturedMessage, conversation_markup
from services.thread_sync.replies import ReplyFile

log = logging.getLogger(__name__)

WHOLE_THREAD_BLOCK = "whole_thread"
WHOLE_THREAD_ACTION = "whole_thread"
WHOLE_THREAD_VALUE = "yes"
MAX_THREAD_MESSAGES = 1000  # Slack pages of 200: five calls at most
_PAGE = 200


def thread_size(client: WebClient, channel_id: str, thread_ts: str | None) -> int:
    """Messages in the thread, its parent counted; 0 when there is none or Slack won't say."""
    if not thread_ts:
        return 0
    try:
        answer = client.conversations_replies(channel=channel_id, ts=thread_ts, limit=1)
    except (SlackClientError, OSError) as error:
        log.info("could not count the thread %s: %s", thread_ts, error)
        return 0
    messages = answer.get("messages") or []
    if not messages:
        return 0
    replies = messages[0].get("reply_count")
    return 1 + replies if isinstance(replies, int) else 0


def whole_thread_input(count: int) -> dict[str, Any]:
    return {
        "type": "input",
        "block_id": WHOLE_THREAD_BLOCK,
        "optional": True,
        "label": {"type": "plain_text", "text": "Conversation"},
        "element": {
            "type": "checkboxes",
            "action_id": WHOLE_THREAD_ACTION,
            "options": [
                {
                    "text": {
                        "type": "plain_text",
                        "text": f"Include the whole thread ({count} messages)",
                    },
                    "value": WHOLE_THREAD_VALUE,
                }
            ],
        },
    }


def wants_whole_thread(values: Mapping[str, Any]) -> bool:
    """Whether the checkbox was ticked, from a view's `state.values`."""
    block = values.get(WHOLE_THREAD_BLOCK)
    element = block.get(WHOLE_THREAD_ACTION) if isinstance(block, Mapping) else None
    chosen = element.get("selected_options") if isinstance(element, Mapping) else None
    return isinstance(chosen, list) and any(
        isinstance(option, Mapping) and option.get("value") == WHOLE_THREAD_VALUE
        for option in chosen
    )


def thread_messages(client: WebClient, channel_id: str, thread_ts: str) -> list[dict[str, Any]]:
    """The parent and its replies, oldest first (at most MAX_THREAD_MESSAGES)."""
    found: list[dict[str, Any]] = []
    cursor: str | None = None
    while len(found) < MAX_THREAD_MESSAGES:
        answer = client.conversations_replies(
            channel=channel_id, ts=thread_ts, limit=_PAGE, cursor=cursor
        )
        page = [m for m in answer.get("messages") or [] if isinstance(m, dict)]
        found += [m for m in page if not found or m.get("ts") != found[0].get("ts")]
        cursor = ((answer.get("response_metadata") or {}).get("next_cursor")) or None
        if not cursor or not page:
            break
    return found[:MAX_THREAD_MESSAGES]


def captured(
    services: ConnectServices, team_id: str, messages: list[dict[str, Any]]
) -> list[CapturedMessage]:
    out = []
    used = 0
    for message in messages:
        if used > JIRA_TEXT_LIMIT:  # past what Jira takes: only counted, never converted
            out.append(CapturedMessage("", str(message.get("ts") or "0"), ""))
            continue
        text = str(message.get("text") or "")
        used += len(text)
        names = {
            uid: services.users.display_name_for(team_id, uid) for uid in mentioned_users(text)
        }
        user = message.get("user")
        if isinstance(user, str) and user:
            author = services.users.display_name_for(team_id, user)
        else:
            profile = message.get("bot_profile") or {}
            author = str(profile.get("name") or message.get("username") or "An app")
        files = tuple(
            str(f.get("name") or f.get("title") or "a file")
            for f in message.get("files") or []
            if isinstance(f, dict)
        )
        out.append(
            CapturedMessage(
                author, str(message.get("ts") or "0"), mrkdwn_to_wiki(text, user_names=names), files
            )
        )
    return out


def conversation_text(
    services: ConnectServices,
    client: WebClient,
    team_id: str,
    channel_id: str,
    thread_ts: str,
) -> str:
    """The whole thread as Jira markup, with the thread's permalink when it does not fit."""
    messages = thread_messages(client, channel_id, thread_ts)
    permalink = services.slack.get_permalink(channel_id, thread_ts)
    return conversation_markup(captured(services, team_id, messages), permalink=permalink)


def source_files(
    client: WebClient, channel_id: str, thread_ts: str, message_ts: str, *, whole: bool
) -> list[ReplyFile]:
    """The files of the message (or of every message of the thread), as Slack has them now."""
    if whole:
        messages = thread_messages(client, channel_id, thread_ts)
    else:
        answer = client.conversations_replies(
            channel=channel_id, ts=thread_ts, oldest=message_ts, inclusive=True, limit=2
        )
        messages = [m for m in answer.get("messages") or [] if m.get("ts") == message_ts]
    found = (
        ReplyFile.from_slack(item)
        for message in messages
        for item in message.get("files") or []
        if isinstance(item, dict)
    )
    return [item for item in found if item is not None]


def attach_source_files(
    services: ConnectServices,
    client: WebClient,
    issue_key: str,
    team_id: str,
    channel_id: str,
    thread_ts: str,
    message_ts: str,
    *,
    whole: bool,
) -> str | None:
    """Copy the files to the issue; a line for the confirmation (None when there were none)."""
    copier = services.attachments
    if copier is None:
        return None
    try:
        files = source_files(client, channel_id, thread_ts, message_ts, whole=whole)
    except (SlackClientError, OSError) as error:
        log.info("could not read the files of %s: %s", message_ts, error)
        return "The message's files could not be read from Slack; none were attached."
    if not files:
        return None
    report = copier.copy(services.jira, issue_key, team_id, files)
    return escape_mrkdwn(report.text()) if not report.empty else None
