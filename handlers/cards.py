"""The one issue card renderer (and its compact list form for search results)."""

from __future__ import annotations

from typing import Any

from clients.jira_client import JiraIssue

Block = dict[str, Any]

SHARE_ACTION = "share_issue"
OPEN_ACTION = "open_in_jira"
STATUS_EMOJI = {
    "new": ":white_circle:",
    "indeterminate": ":large_blue_circle:",
    "done": ":white_check_mark:",
}


def escape(text: str) -> str:
    """Slack mrkdwn control characters in user text."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def issue_title(issue: JiraIssue) -> str:
    return f"*<{issue.url}|{issue.key}>* {escape(issue.summary)}"


def issue_card(issue: JiraIssue, *, share: bool = False) -> list[Block]:
    """Key, summary, status, assignee, priority, type and a link; buttons below."""
    fields = [
        ("Status", f"{STATUS_EMOJI.get(issue.status_category, '')} {escape(issue.status)}".strip()),
        ("Assignee", escape(issue.assignee.display_name) if issue.assignee else "_Unassigned_"),
        ("Priority", escape(issue.priority or "None")),
        ("Type", escape(issue.issue_type)),
    ]
    buttons: list[Block] = []
    if share:
        buttons.append(_button("Share in channel", SHARE_ACTION, issue.key, style="primary"))
    buttons.append({**_button("Open in Jira", OPEN_ACTION, issue.key), "url": issue.url})
    return [
        {"type": "section", "text": {"type": "mrkdwn", "text": issue_title(issue)}},
        {
            "type": "section",
            "fields": [{"type": "mrkdwn", "text": f"*{name}*\n{value}"} for name, value in fields],
        },
        {"type": "actions", "block_id": f"issue:{issue.key}", "elements": buttons},
    ]


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
                "accessory": _button("Share", SHARE_ACTION, issue.key),
            }
        )
    return blocks


def _button(text: str, action_id: str, value: str, *, style: str | None = None) -> Block:
    button: Block = {
        "type": "button",
        "text": {"type": "plain_text", "text": text},
        "action_id": action_id,
        "value": value,
    }
    if style:
        button["style"] = style
    return button
