"""Pure parts of synced threads: which message events are replies to sync, the comment's
permalink, and a conversation within Jira's limit."""

from __future__ import annotations

from typing import Any

import pytest

from services.thread_sync.capture import CapturedMessage, conversation_markup
from services.thread_sync.echoes import trailing_permalink
from services.thread_sync.replies import ReplyChange, reply_change

BOT = "UCONNECT"


def event(**extra: Any) -> dict[str, Any]:
    return {"type": "message", "channel": "C1", "user": "U1", "text": "hi", "ts": "2.0"} | extra


def test_a_persons_reply_is_posted() -> None:
    change = reply_change("T1", event(thread_ts="1.0"), bot_user_id=BOT)
    assert change == ReplyChange("posted", "T1", "C1", "1.0", "2.0", "U1", "hi")
    assert change is not None and change.dedupe_key == "T1:C1:1.0:2.0:posted"


@pytest.mark.parametrize(
    "extra",
    [
        {},  # top level
        {"thread_ts": "2.0"},  # a thread's parent
        {"thread_ts": "1.0", "bot_id": "B1"},  # a bot's reply
        {"thread_ts": "1.0", "bot_id": "B1", "subtype": "thread_broadcast"},
        {"thread_ts": "1.0", "user": BOT},  # Connect's own post
        {"thread_ts": "1.0", "subtype": "channel_join"},
        {"thread_ts": "1.0", "user": None},
    ],
)
def test_what_is_not_a_reply_to_sync(extra: dict[str, Any]) -> None:
    assert reply_change("T1", event(**extra), bot_user_id=BOT) is None


def test_a_persons_broadcast_and_file_share_are_replies() -> None:
    for subtype in ("thread_broadcast", "file_share"):
        found = reply_change("T1", event(thread_ts="1.0", subtype=subtype), bot_user_id=BOT)
        assert found is not None and found.kind == "posted"


def test_an_edit_and_a_deletion() -> None:
    original = {"user": "U1", "text": "old", "ts": "2.0", "thread_ts": "1.0"}
    changed = event(
        subtype="message_changed",
        ts="3.0",
        message=original | {"text": "new", "edited": {"user": "U1", "ts": "3.0"}},
        previous_message=original,
    )
    edit = reply_change("T1", changed, bot_user_id=BOT)
    assert edit is not None and (edit.kind, edit.text, edit.edited_ts) == ("edited", "new", "3.0")
    assert edit.dedupe_key == "T1:C1:1.0:2.0:edited:3.0"
    # A parent's reply count changing, or an unfurl added, is no edit of the words.
    unfurled = event(
        subtype="message_changed",
        message=original | {"edited": {"ts": "3.0"}},
        previous_message=original,
    )
    assert reply_change("T1", unfurled, bot_user_id=BOT) is None
    deleted = event(subtype="message_deleted", deleted_ts="2.0", previous_message=original)
    gone = reply_change("T1", deleted, bot_user_id=BOT)
    assert gone is not None and (gone.kind, gone.ts, gone.thread_ts) == ("deleted", "2.0", "1.0")


def test_the_trailing_permalink() -> None:
    link = "https://acme.slack.com/archives/C1/p2000000?thread_ts=1.0&cid=C1"
    assert trailing_permalink(f"text\n\n— Bob (via Slack): {link}") == link
    assert trailing_permalink("no link at the end https://example.com/x then words") is None


def test_a_conversation_that_fits_and_one_that_does_not() -> None:
    messages = [CapturedMessage("Bob", f"{1_700_000_000 + n}", f"line {n}") for n in range(10)]
    whole = conversation_markup(messages, permalink="P")
    assert whole.index("line 0") < whole.index("line 9") and "more" not in whole
    assert "*Bob* — 2023-11-14 22:13 UTC" in whole
    cut = conversation_markup(messages, permalink="P", limit=200)
    assert len(cut) <= 200 and cut.endswith("more messages in Slack:_ P")
    shown = sum(f"line {n}" in cut for n in range(10))
    assert f"_…{10 - shown} more messages" in cut
