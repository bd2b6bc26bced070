"""Slack's limits on a message, in one place: what Connect renders stays within them, and the
Slack stand-in refuses what exceeds them the way Slack does (`invalid_blocks`, `msg_too_long`).

https://docs.slack.dev/reference/block-kit/blocks and chat.postMessage's errors.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

MAX_BLOCKS = 50  # blocks in one message
MAX_SECTION_TEXT = 3000  # characters in a section's text
MAX_SECTION_FIELD = 2000  # characters in one of a section's fields
MAX_SECTION_FIELDS = 10
MAX_HEADER_TEXT = 150  # characters in a header's plain text
MAX_CONTEXT_ELEMENTS = 10
MAX_ACTIONS_ELEMENTS = 25
MAX_BUTTON_TEXT = 75
MAX_MESSAGE_TEXT = 40_000  # characters in a message's top-level `text`

INVALID_BLOCKS = "invalid_blocks"
MSG_TOO_LONG = "msg_too_long"


def message_violation(text: str | None, blocks: Sequence[Any] | None) -> str | None:
    """Slack's error for a message that breaks a limit (None when it is within them)."""
    if text is not None and len(text) > MAX_MESSAGE_TEXT:
        return MSG_TOO_LONG
    if blocks is None:
        return None
    if len(blocks) > MAX_BLOCKS:
        return INVALID_BLOCKS
    if any(not isinstance(block, Mapping) or not _block_fits(block) for block in blocks):
        return INVALID_BLOCKS
    return None


def _block_fits(block: Mapping[str, Any]) -> bool:
    kind = block.get("type")
    if kind == "section":
        fields = block.get("fields") or []
        return (
            _text_length(block.get("text")) <= MAX_SECTION_TEXT
            and len(fields) <= MAX_SECTION_FIELDS
            and all(_text_length(field) <= MAX_SECTION_FIELD for field in fields)
        )
    if kind == "header":
        return _text_length(block.get("text")) <= MAX_HEADER_TEXT
    if kind == "context":
        return len(block.get("elements") or []) <= MAX_CONTEXT_ELEMENTS
    if kind == "actions":
        elements = block.get("elements") or []
        return len(elements) <= MAX_ACTIONS_ELEMENTS and all(
            _text_length(element.get("text")) <= MAX_BUTTON_TEXT
            for element in elements
            if isinstance(element, Mapping) and element.get("type") == "button"
        )
    return True


def _text_length(text: Any) -> int:
    if isinstance(text, Mapping):
        return len(str(text.get("text") or ""))
    return len(str(text or ""))
