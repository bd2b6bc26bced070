"""What every message about an issue shares, whoever renders it: the block ids that tie a
card to its key, the buttons a card carries, and the marker of a restricted issue.

The handlers' issue card and the worker's notifications (services.notifications.render)
both render these, and the card's action listeners read them back; so they live here, below
both, where services need not import handlers.
"""

from __future__ import annotations

from typing import Any

from services.issues.keys import parse_issue_key

Block = dict[str, Any]

SHARE_ACTION = "share_issue"
OPEN_ACTION = "open_in_jira"
ASSIGN_ME_ACTION = "card_assign_me"
TRANSITION_ACTION = "card_transition"
COMMENT_ACTION = "card_comment"

# An issue with a security level is shown without its summary or description (SPEC §7).
RESTRICTED = "(restricted)"


def card_block_prefix(key: str) -> str:
    return f"card:{key}:"


def key_of_block(block_id: str | None) -> str | None:
    """The issue key of a card's block (`card:OPS-12:actions` → `OPS-12`)."""
    if not block_id:
        return None
    kind, _, rest = block_id.partition(":")
    if kind not in ("card", "issue"):
        return None
    return parse_issue_key(rest.partition(":")[0])


def action_elements(key: str, url: str, *, share: bool = False) -> list[Block]:
    """The buttons of a card; notifications about an issue carry them too."""
    buttons: list[Block] = []
    if share:
        buttons.append(button("Share in channel", SHARE_ACTION, key, style="primary"))
    buttons.append(button("Assign to me", ASSIGN_ME_ACTION, key))
    buttons.append(
        {
            "type": "external_select",
            "action_id": TRANSITION_ACTION,
            "placeholder": {"type": "plain_text", "text": "Transition…"},
            "min_query_length": 0,
        }
    )
    buttons.append(button("Comment", COMMENT_ACTION, key))
    buttons.append({**button("Open in Jira", OPEN_ACTION, key), "url": url})
    return buttons


def button(text: str, action_id: str, value: str, *, style: str | None = None) -> Block:
    block: Block = {
        "type": "button",
        "text": {"type": "plain_text", "text": text},
        "action_id": action_id,
        "value": value,
    }
    if style:
        block["style"] = style
    return block
