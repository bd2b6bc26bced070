"""How a notification reads in the thread: one line per change, a comment quoted.

The outbox's renderer (`NotificationOutbox(render=...)`): an outbox payload in, the message's
`text` and Block Kit blocks out; the card's buttons come from services.issues.card_parts.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from clients.slack_limits import MAX_SECTION_TEXT
from services.issues.card_parts import RESTRICTED, action_elements, card_block_prefix
from services.issues.keys import parse_issue_key
from services.markup import escape_mrkdwn as escape
from services.markup import jira_to_mrkdwn, truncate_for_slack
from services.notifications.bursts import MAX_CHANGES_PER_MESSAGE, REASONS

COMMENT_LIMIT = 1500


def render_notification(payload: Mapping[str, Any]) -> tuple[str, list[dict[str, Any]]]:
    issue = payload.get("issue") or {}
    key = str(issue.get("key", "?"))
    link = f"<{escape(str(issue['url']))}|{escape(key)}>" if issue.get("url") else escape(key)
    changes = list(payload.get("changes") or [])
    lines = [_line(change, link) for change in changes[:MAX_CHANGES_PER_MESSAGE]]
    if len(changes) > MAX_CHANGES_PER_MESSAGE:  # a row queued before bursts were split
        lines.append(f"…and {len(changes) - MAX_CHANGES_PER_MESSAGE} more changes to {link}")
    blocks: list[dict[str, Any]] = []
    for line in lines:
        text = truncate_for_slack(line, MAX_SECTION_TEXT)
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": text}})
    about = _about(issue, link)
    why = _why(payload.get(REASONS))
    if about or why:
        context = [{"type": "mrkdwn", "text": text} for text in (about, why) if text]
        blocks.append({"type": "context", "elements": context})
    gone = any(change.get("kind") == "deleted" for change in payload.get("changes") or [])
    if issue.get("url") and parse_issue_key(key) and not gone:
        # The card's buttons: acting on one re-renders the issue's card in this message.
        blocks.append(
            {
                "type": "actions",
                "block_id": card_block_prefix(key) + "actions",
                "elements": action_elements(key, str(issue["url"])),
            }
        )
    text = truncate_for_slack("\n".join(lines), MAX_SECTION_TEXT) or f"{key} changed"
    return text, blocks


# Why a DM reaches its person, by reason (`/jira notify` names them alike).
WHY = {
    "assigned": "you are assigned",
    "mentions": "you were mentioned",
    "reported": "you reported it",
    "watching": "you watch it",
}


def _why(reasons: Any) -> str | None:
    """A DM's footnote: why it came, and how to choose what does."""
    if not isinstance(reasons, list) or not reasons:
        return None
    said = [WHY[str(r)] for r in reasons if str(r) in WHY]
    if not said:
        return None
    return f"You get this because {' and '.join(said)} · `/jira notify` chooses what you get"


def _about(issue: Mapping[str, Any], link: str) -> str | None:
    """The issue under the changes: its summary and status, or only that it is restricted."""
    if issue.get("restricted"):
        about = f"{link} {RESTRICTED}"
    elif issue.get("summary"):
        about = f"{link} · {escape(str(issue['summary']))[:200]}"
    else:
        return None
    if issue.get("status"):
        about += f" · {escape(str(issue['status']))}"
    return about


def _line(change: Mapping[str, Any], link: str) -> str:
    who = f"*{escape(str(change.get('actor') or 'Someone'))}*"
    kind = change.get("kind")
    old = escape(str(change.get("old") or "")) or "—"
    new = escape(str(change.get("new") or "")) or "—"
    if kind == "status":
        return f"{who} moved {link} {old} → {new}"
    if kind == "assignee":
        if not change.get("new"):
            return f"{who} unassigned {link} (was {old})"
        return f"{who} assigned {link} to *{new}*"
    if kind == "resolution":
        return (
            f"{who} resolved {link} as *{new}*" if change.get("new") else f"{who} reopened {link}"
        )
    if kind == "priority":
        return f"{who} changed the priority of {link} {old} → {new}"
    if kind == "summary":
        return (
            f"{who} renamed {link}"
            if change.get("restricted")
            else f"{who} renamed {link} to “{new}”"
        )
    if kind in ("comment_added", "comment_edited") and change.get("restricted"):
        if kind == "comment_added":
            return f"{who} added a restricted comment to {link}"
        return f"{who} edited a restricted comment on {link}"
    if kind in ("comment_added", "comment_edited"):
        verb = "commented on" if kind == "comment_added" else "edited a comment on"
        comment = jira_to_mrkdwn(str(change.get("comment") or ""), shown=COMMENT_LIMIT)
        body = truncate_for_slack(comment, COMMENT_LIMIT)
        quoted = "\n".join(f">{line}" for line in body.splitlines() or [""])
        return f"{who} {verb} {link}:\n{quoted}"
    if kind == "comment_deleted":
        return f"{who} deleted a comment on {link}"
    if kind == "created":
        return f"{who} created {link}"
    if kind == "deleted":
        return f"{who} deleted {link}: it is no longer linked here"
    if kind == "moved":
        return f"{who} moved {old} to {new}: it is now {link}"
    if kind == "description":
        return f"{who} mentioned you in the description of {link}"
    return f"{who} changed {link}"
