"""The issue-picker modals of the message shortcuts and the picker's options: pure builders."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from clients.jira_client import JiraIssue
from handlers.cards import escape
from handlers.conversation import whole_thread_input
from handlers.shortcut_payloads import SourceMessage
from services.markup import truncate_for_slack

LINK_CALLBACK_ID = "link_message_modal"
COMMENT_CALLBACK_ID = "comment_message_modal"
ISSUE_BLOCK = "issue"
PICKER_ACTION = "issue_picker"

OPTION_TEXT_MAX = 75  # Slack's limit for an option's text
PREVIEW_MAX = 200
NO_TEXT = "(a message with no text)"
PRIVATE_NOTICE = (
    ":lock: This message is from a private conversation: its text (and its files, which are "
    "attached) will be visible to everyone who can see the Jira issue."
)

View = dict[str, Any]
Block = dict[str, Any]


def _plain(text: str) -> dict[str, Any]:
    return {"type": "plain_text", "text": text, "emoji": True}


def _context(text: str) -> Block:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": text}]}


def issue_option(issue: JiraIssue) -> dict[str, Any]:
    """ "KEY · summary" within Slack's 75 characters; the value is the key."""
    text = f"{issue.key} · {' '.join(issue.summary.split())}"
    if len(text) > OPTION_TEXT_MAX:
        text = text[: OPTION_TEXT_MAX - 1].rstrip() + "…"
    return {"text": _plain(text), "value": issue.key}


def issue_options(issues: Iterable[JiraIssue]) -> list[dict[str, Any]]:
    return [issue_option(issue) for issue in issues]


def issue_input() -> Block:
    return {
        "type": "input",
        "block_id": ISSUE_BLOCK,
        "label": _plain("Issue"),
        "element": {
            "type": "external_select",
            "action_id": PICKER_ACTION,
            "min_query_length": 1,
            "placeholder": _plain("Type a key or words"),
        },
    }


def _modal(
    callback_id: str, title: str, submit: str, source: SourceMessage, blocks: list[Block]
) -> View:
    return {
        "type": "modal",
        "callback_id": callback_id,
        "title": _plain(title),
        "submit": _plain(submit),
        "close": _plain("Cancel"),
        "private_metadata": source.to_metadata(),
        "blocks": blocks,
    }


def link_modal(source: SourceMessage) -> View:
    blocks = [
        issue_input(),
        _context("The issue gets a link to this message, and its card is posted in the thread."),
    ]
    return _modal(LINK_CALLBACK_ID, "Link to Jira issue", "Link", source, blocks)


def comment_modal(source: SourceMessage) -> View:
    blocks = [_context(message_preview(source)), issue_input()]
    if source.thread_size > 1:
        blocks.append(whole_thread_input(source.thread_size))
    if source.private:
        blocks.append(_context(PRIVATE_NOTICE))
    return _modal(COMMENT_CALLBACK_ID, "Comment on Jira issue", "Add comment", source, blocks)


def notice_modal(callback_id: str, title: str, text: str) -> View:
    """The modal replaced by a message (nothing to submit), e.g. "invite me first"."""
    return {
        "type": "modal",
        "callback_id": callback_id,
        "title": _plain(title),
        "close": _plain("Close"),
        "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": text}}],
    }


def message_preview(source: SourceMessage) -> str:
    """Who wrote the message and how it starts, on one line."""
    author = (
        f"<@{source.author_id}>" if source.author_id else escape(source.author_name or "An app")
    )
    # The text is Slack's own mrkdwn (already escaped); only its length is ours to change.
    text = " ".join(source.text.split())
    quoted = f"“{truncate_for_slack(text, PREVIEW_MAX)}”" if text else f"_{NO_TEXT}_"
    return f"{author}: {quoted}"
