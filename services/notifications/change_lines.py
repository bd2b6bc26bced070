"""What one change says, as plain data for the outbox payload; `render` turns it into text."""

from __future__ import annotations

from typing import Any

from services.jira_changes.detector import Change

# What a change says of the issue's text: left out when the issue has a security level.
_TEXT_KINDS = frozenset({"summary", "created"})


def change_line(change: Change, actor: str, *, restricted_issue: bool = False) -> dict[str, Any]:
    """What one change says, as plain data; `render` turns it into text. Restricted content
    (SPEC §7) is left out here, so that no outbox row ever holds it."""
    hide_text = restricted_issue and change.kind in _TEXT_KINDS
    line: dict[str, Any] = {
        "kind": change.kind,
        "actor": actor,
        "old": None if hide_text else change.old,
        "new": None if hide_text else change.new,
    }
    if hide_text:
        line["restricted"] = True
    if change.comment is not None:
        line["comment_id"] = change.comment.id
        if change.comment.restricted or restricted_issue:
            line["restricted"] = True
        else:
            line["comment"] = change.comment.body[:3000]
    return line
