"""The "Include the whole thread (N messages)" checkbox (SPEC §13) of "Create Jira issue" and
"Comment on Jira issue", and whether it was ticked; the thread is counted and read as one
Jira text by services.thread_sync.capture."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

WHOLE_THREAD_BLOCK = "whole_thread"
WHOLE_THREAD_ACTION = "whole_thread"
WHOLE_THREAD_VALUE = "yes"


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
