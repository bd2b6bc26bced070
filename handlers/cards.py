"""The one issue card renderer (full, or compact for previews; a one-line form for search
results), and how an action's card is re-rendered in place in its message. The card's
buttons and block ids, which notifications share, are in services.issues.card_parts."""

from __future__ import annotations

from collections.abc import Sequence

from clients.jira_client import JiraIssue
from services.issues.card_parts import (
    RESTRICTED,
    SHARE_ACTION,
    Block,
    action_elements,
    button,
    card_block_prefix,
)
from services.markup import escape_mrkdwn

STATUS_EMOJI = {
    "new": ":white_circle:",
    "indeterminate": ":large_blue_circle:",
    "done": ":white_check_mark:",
}

# The one mrkdwn escape (services.markup), under the name the renderers use: every text
# Connect did not write itself goes through it before it is shown (SPEC §11).
escape = escape_mrkdwn


def issue_text(issue: JiraIssue) -> str:
    """An issue in one line of mrkdwn: a message's `text` (its fallback and notification)."""
    return (
        f"{issue.key} {RESTRICTED}" if issue.security else f"{issue.key}: {escape(issue.summary)}"
    )


def issue_title(issue: JiraIssue) -> str:
    return f"*<{issue.url}|{issue.key}>* {_summary(issue)}"


def _summary(issue: JiraIssue) -> str:
    return f"_{RESTRICTED}_" if issue.security else escape(issue.summary)


def issue_card(
    issue: JiraIssue, *, share: bool = False, compact: bool = False, note: str | None = None
) -> list[Block]:
    """Key, summary, status, assignee, priority, type and a link; the buttons below.

    `compact` (previews) puts the details on one line; `note` says what was just done.
    Every block's id starts with `card:KEY:`, so an action can find and replace the card.
    """
    prefix = card_block_prefix(issue.key)
    if compact:
        head: list[Block] = [
            {
                "type": "section",
                "block_id": prefix + "summary",
                "text": {"type": "mrkdwn", "text": issue_line(issue)},
            }
        ]
    else:
        head = [
            {
                "type": "section",
                "block_id": prefix + "title",
                "text": {"type": "mrkdwn", "text": issue_title(issue)},
            },
            {
                "type": "section",
                "block_id": prefix + "fields",
                "fields": [
                    {"type": "mrkdwn", "text": f"*{name}*\n{value}"}
                    for name, value in _fields(issue)
                ],
            },
        ]
    card = [
        *head,
        {"type": "actions", "block_id": prefix + "actions", "elements": _buttons(issue, share)},
    ]
    if note:
        card.append(
            {
                "type": "context",
                "block_id": prefix + "note",
                "elements": [{"type": "mrkdwn", "text": note[:3000]}],
            }
        )
    return card


def replace_card(
    blocks: Sequence[Block], key: str, issue: JiraIssue, *, note: str | None = None
) -> list[Block]:
    """The message's blocks with the card of `key` re-rendered in place (same form, new data);
    blocks of anything else in the message are kept as they were."""
    prefix = card_block_prefix(key)
    mine = [
        i for i, block in enumerate(blocks) if str(block.get("block_id", "")).startswith(prefix)
    ]
    if not mine:
        return [*blocks, *issue_card(issue, note=note)]
    ids = {str(blocks[i].get("block_id")) for i in mine}
    shared = any(
        element.get("action_id") == SHARE_ACTION
        for i in mine
        for element in blocks[i].get("elements") or []
        if isinstance(element, dict)
    )
    fresh = issue_card(issue, share=shared, compact=prefix + "summary" in ids, note=note)
    taken = set(mine)
    kept = [block for i, block in enumerate(blocks) if i not in taken]
    return [*kept[: mine[0]], *fresh, *kept[mine[0] :]]


def _fields(issue: JiraIssue) -> list[tuple[str, str]]:
    return [
        ("Status", f"{STATUS_EMOJI.get(issue.status_category, '')} {escape(issue.status)}".strip()),
        ("Assignee", escape(issue.assignee.display_name) if issue.assignee else "_Unassigned_"),
        ("Priority", escape(issue.priority or "None")),
        ("Type", escape(issue.issue_type)),
    ]


def _buttons(issue: JiraIssue, share: bool) -> list[Block]:
    return action_elements(issue.key, issue.url, share=share)


def issue_line(issue: JiraIssue) -> str:
    who = issue.assignee.display_name if issue.assignee else "Unassigned"
    return (
        f"{issue_title(issue)}\n{escape(issue.status)} · {escape(who)} · {escape(issue.issue_type)}"
    )


def search_results(query: str, issues: tuple[JiraIssue, ...]) -> list[Block]:
    heading = f"{len(issues)} issue{'s' if len(issues) != 1 else ''} for “{escape(query[:200])}”"
    blocks: list[Block] = [{"type": "section", "text": {"type": "mrkdwn", "text": heading}}]
    for issue in issues:
        blocks.append(
            {
                "type": "section",
                "text": {"type": "mrkdwn", "text": issue_line(issue)},
                "accessory": button("Share", SHARE_ACTION, issue.key),
            }
        )
    return blocks
