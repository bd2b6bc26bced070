"""The response_url body handlers.answers sends: the one Bolt's `respond(**message)` sent."""

from __future__ import annotations

from handlers.answers import as_response
from handlers.blocks import ephemeral


def test_a_delete_is_an_empty_text_and_the_flag() -> None:
    assert as_response({"delete_original": True}) == {"text": "", "delete_original": True}


def test_empty_blocks_and_none_fields_are_left_out() -> None:
    body = as_response({"text": "hi", "blocks": [], "thread_ts": None, "replace_original": False})
    assert body == {"text": "hi", "replace_original": False}


def test_an_ephemeral_answer_keeps_its_blocks_and_type() -> None:
    message = {**ephemeral("Invite me first."), "replace_original": False}
    assert as_response(message) == {
        "text": "Invite me first.",
        "blocks": message["blocks"],
        "response_type": "ephemeral",
        "replace_original": False,
    }
