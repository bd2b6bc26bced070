"""A whole Slack conversation as one Jira description or comment (SPEC §13 "Capture a
conversation"): every message in order with its author and time, in Jira markup, within
Jira's field limit; what does not fit is counted and pointed to by the thread's permalink."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

# Jira keeps at most 32,767 characters in a description or comment; the rest of the text
# (where it came from, who added it) needs some room.
JIRA_TEXT_LIMIT = 30_000


@dataclass(frozen=True, slots=True)
class CapturedMessage:
    author: str
    ts: str  # Slack's ts: seconds since the epoch, as text
    markup: str  # the message in Jira markup, mentions as names
    files: tuple[str, ...] = ()  # names of files shared with it

    @property
    def when(self) -> datetime:
        try:
            return datetime.fromtimestamp(float(self.ts), UTC)
        except (ValueError, OverflowError):
            return datetime.fromtimestamp(0, UTC)


def message_markup(message: CapturedMessage) -> str:
    head = f"*{_plain(message.author)}* — {message.when:%Y-%m-%d %H:%M} UTC"
    text = message.markup.strip() or "_(no text)_"
    if message.files:
        text += "\n_Files: " + ", ".join(_plain(name) for name in message.files) + "_"
    return f"{head}\n{text}"


def conversation_markup(
    messages: Sequence[CapturedMessage], *, permalink: str, limit: int = JIRA_TEXT_LIMIT
) -> str:
    """Every message that fits, in order; then "…N more messages" and where to read them."""
    parts: list[str] = []
    used = 0
    for index, message in enumerate(messages):
        part = message_markup(message)
        left = len(messages) - index
        tail = _more(left, permalink)
        if used + len(part) + 2 + (len(tail) + 2 if left > 1 else 0) > limit:
            parts.append(tail)
            break
        parts.append(part)
        used += len(part) + 2
    return "\n\n".join(parts)


def _more(count: int, permalink: str) -> str:
    noun = "message" if count == 1 else "messages"
    return f"_…{count} more {noun} in Slack:_ {permalink}"


def _plain(text: str) -> str:
    """A name or file name in Jira markup: no markup characters of its own."""
    return "".join(" " if char in "*_{}[]|\n\r" else char for char in text)[:255]
