"""A whole Slack conversation as one Jira description or comment (SPEC §13 "Capture a
conversation"): every message in order with its author and time, in Jira markup, within
Jira's field limit; what does not fit is counted and pointed to by the thread's permalink.
Read from Slack through the SlackClient (`thread_size`, `conversation_text`)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from clients.slack_client import SlackClient, SlackError
from services.commands import mentioned_users
from services.markup import mrkdwn_to_wiki

log = logging.getLogger(__name__)

# Jira keeps at most 32,767 characters in a description or comment; the rest of the text
# (where it came from, who added it) needs some room.
JIRA_TEXT_LIMIT = 30_000
MAX_THREAD_MESSAGES = 1000  # Slack pages of 200: five calls at most

DisplayName = Callable[[str, str], str]  # (team_id, Slack user id) → name (UserMapping's)


@dataclass(frozen=True, slots=True)
class CapturedMessage:
    author: str
    ts: str  # Slack's ts: seconds since the epoch, as text
    markup: str  # the message in Jira markup, mentions as names
    files: tuple[str, ...] = ()  # names of files shared with it

    @property
    def when(self) -> datetime:
        try:
            return datetime.fromtimestamp(float(self.ts), UTC)
        except (ValueError, OverflowError):
            return datetime.fromtimestamp(0, UTC)


def message_markup(message: CapturedMessage) -> str:
    head = f"*{_plain(message.author)}* — {message.when:%Y-%m-%d %H:%M} UTC"
    text = message.markup.strip() or "_(no text)_"
    if message.files:
        text += "\n_Files: " + ", ".join(_plain(name) for name in message.files) + "_"
    return f"{head}\n{text}"


def conversation_markup(
    messages: Sequence[CapturedMessage], *, permalink: str, limit: int = JIRA_TEXT_LIMIT
) -> str:
    """Every message that fits, in order; then "…N more messages" and where to read them."""
    parts: list[str] = []
    used = 0
    for index, message in enumerate(messages):
        part = message_markup(message)
        left = len(messages) - index
        tail = _more(left, permalink)
        if used + len(part) + 2 + (len(tail) + 2 if left > 1 else 0) > limit:
            parts.append(tail)
            break
        parts.append(part)
        used += len(part) + 2
    return "\n\n".join(parts)


def _more(count: int, permalink: str) -> str:
    noun = "message" if count == 1 else "messages"
    return f"_…{count} more {noun} in Slack:_ {permalink}"


def _plain(text: str) -> str:
    """A name or file name in Jira markup: no markup characters of its own."""
    return "".join(" " if char in "*_{}[]|\n\r" else char for char in text)[:255]


def thread_size(slack: SlackClient, channel_id: str, thread_ts: str | None) -> int:
    """Messages in the thread, its parent counted; 0 when there is none or Slack won't say."""
    if not thread_ts:
        return 0
    try:
        messages = slack.thread_messages(channel_id, thread_ts, limit=1)
    except SlackError as error:
        log.info("could not count the thread %s: %s", thread_ts, error.error)
        return 0
    if not messages:
        return 0
    replies = messages[0].get("reply_count")
    return 1 + replies if isinstance(replies, int) else 0


def conversation_text(
    slack: SlackClient, display_name: DisplayName, team_id: str, channel_id: str, thread_ts: str
) -> str:
    """The whole thread as Jira markup, with the thread's permalink when it does not fit."""
    messages = slack.thread_messages(channel_id, thread_ts, limit=MAX_THREAD_MESSAGES)
    permalink = slack.get_permalink(channel_id, thread_ts)
    return conversation_markup(captured(display_name, team_id, messages), permalink=permalink)


def captured(
    display_name: DisplayName, team_id: str, messages: Sequence[Mapping[str, Any]]
) -> list[CapturedMessage]:
    """Slack's messages as Jira markup, mentions as names; past what Jira takes, only counted."""
    out = []
    used = 0
    for message in messages:
        if used > JIRA_TEXT_LIMIT:  # past what Jira takes: only counted, never converted
            out.append(CapturedMessage("", str(message.get("ts") or "0"), ""))
            continue
        text = str(message.get("text") or "")
        used += len(text)
        names = {uid: display_name(team_id, uid) for uid in mentioned_users(text)}
        user = message.get("user")
        if isinstance(user, str) and user:
            author = display_name(team_id, user)
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
