"""What a Slack workspace shows: stored messages, and how they read as plain text (demo, tests)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

BAR = "│ "


@dataclass(frozen=True)
class SlackMessage:
    """One message as Slack stores it; `user` is the author (the bot user for the bot's posts)."""

    channel: str
    ts: str
    text: str
    user: str
    blocks: list[dict[str, Any]] | None = None
    thread_ts: str | None = None
    metadata: dict[str, Any] | None = None
    bot_id: str | None = None
    edited: bool = False
    files: list[dict[str, Any]] | None = None  # files shared with it, as Slack describes them

    @property
    def is_reply(self) -> bool:
        return self.thread_ts is not None and self.thread_ts != self.ts

    def to_api(self, *, include_metadata: bool = True) -> dict[str, Any]:
        """The message as conversations.history and chat.postMessage answer it."""
        data: dict[str, Any] = {"type": "message", "user": self.user, "text": self.text}
        data["ts"] = self.ts
        if self.bot_id:
            data["bot_id"] = self.bot_id
        if self.blocks is not None:
            data["blocks"] = self.blocks
        if self.thread_ts is not None:
            data["thread_ts"] = self.thread_ts
        if self.edited:
            data["edited"] = {"user": self.user, "ts": self.ts}
        if self.files:
            data["files"] = self.files
            data["subtype"] = "file_share"
        if include_metadata and self.metadata is not None:
            data["metadata"] = self.metadata
        return data


@dataclass(frozen=True)
class EphemeralMessage:
    channel: str
    user: str
    text: str
    message_ts: str
    blocks: list[dict[str, Any]] | None = None
    thread_ts: str | None = None


@dataclass(frozen=True)
class UnfurlRecord:
    channel: str
    ts: str
    unfurls: dict[str, Any]


def blocks_text(blocks: Sequence[Mapping[str, Any]]) -> list[str]:
    """The visible text of Block Kit blocks, one line per line a person would read."""
    lines: list[str] = []
    for block in blocks:
        kind = block.get("type")
        if kind in ("header", "section"):
            lines.extend(_text(block.get("text")).splitlines())
            fields = [" ".join(_text(f).split("\n")) for f in block.get("fields") or []]
            if fields:
                lines.append("  ".join(fields))
            accessory = _element(block.get("accessory"))
            if accessory:
                lines.append(accessory)
        elif kind == "context":
            lines.append(
                " · ".join(filter(None, (_element(e) for e in block.get("elements") or [])))
            )
        elif kind == "actions":
            lines.append(" ".join(filter(None, (_element(e) for e in block.get("elements") or []))))
        elif kind == "divider":
            lines.append("───")
        elif kind == "markdown":
            lines.extend(str(block.get("text") or "").splitlines())
        elif kind == "rich_text":
            lines.extend(_rich_text(block).splitlines())
        elif kind == "image":
            lines.append(f"[image: {block.get('alt_text', '')}]")
        elif kind == "input":
            lines.append(f"{_text(block.get('label'))}: …")
    return [line for line in lines if line.strip()]


def render_transcript(
    messages: Mapping[str, Sequence[SlackMessage]],
    ephemerals: Sequence[EphemeralMessage],
    unfurls: Sequence[UnfurlRecord],
    *,
    channel_name: Callable[[str], str],
    user_name: Callable[[str], str],
    bot_name: str = "Connect",
) -> str:
    out: list[str] = []
    channels = list(messages) + [e.channel for e in ephemerals if e.channel not in messages]
    for channel in channels:
        posted = messages.get(channel, [])
        private = sorted(
            (e for e in ephemerals if e.channel == channel), key=lambda e: e.message_ts
        )
        if not posted and not private:
            continue
        out.append(channel_name(channel))
        previews = [u for u in unfurls if u.channel == channel]
        parents = [m for m in posted if not m.is_reply]
        items: list[tuple[str, list[str]]] = []
        for parent in parents:
            lines = _message_lines(parent, user_name, indent="  ")
            for preview in (u for u in previews if u.ts == parent.ts):
                lines += _unfurl_lines(preview)
            for reply in (m for m in posted if m.is_reply and m.thread_ts == parent.ts):
                lines += _message_lines(reply, user_name, indent="    ↳ ")
            items.append((parent.ts, lines))
        for note in private:
            head = f"  (only {user_name(note.user)} sees) {bot_name}: "
            items.append((note.message_ts, _content(head, note.text, note.blocks, pad="    ")))
        for _, lines in sorted(items, key=lambda item: float(item[0])):
            out.extend(lines)
    return "\n".join(out)


def _message_lines(
    message: SlackMessage, user_name: Callable[[str], str], *, indent: str
) -> list[str]:
    edited = " (edited)" if message.edited else ""
    head = f"{indent}{user_name(message.user)}{edited}: "
    return _content(head, message.text, message.blocks, pad=" " * (len(indent) + 2))


def _content(
    head: str, text: str, blocks: Sequence[Mapping[str, Any]] | None, *, pad: str
) -> list[str]:
    if not blocks:
        first, *rest = (text or "").splitlines() or [""]
        return [head + first] + [pad + line for line in rest]
    return [head.rstrip()] + [pad + BAR + line for line in blocks_text(blocks)]


def _unfurl_lines(record: UnfurlRecord) -> list[str]:
    lines: list[str] = []
    for url, attachment in record.unfurls.items():
        lines.append(f"    [preview of {url}]")
        body = attachment.get("blocks") if isinstance(attachment, Mapping) else None
        if body:
            lines += ["    " + BAR + line for line in blocks_text(body)]
        elif isinstance(attachment, Mapping):
            for key in ("title", "text"):
                if attachment.get(key):
                    lines.append("    " + BAR + str(attachment[key]))
    return lines


def _text(obj: Any) -> str:
    if isinstance(obj, Mapping):
        return str(obj.get("text") or "")
    return str(obj or "")


def _element(element: Any) -> str:
    if not isinstance(element, Mapping):
        return ""
    kind = element.get("type")
    if kind in ("plain_text", "mrkdwn"):
        return _text(element)
    if kind == "button":
        return f"[{_text(element.get('text'))}]"
    if kind == "image":
        return f"[image: {element.get('alt_text', '')}]"
    if kind and str(kind).endswith("select"):
        return f"[{_text(element.get('placeholder')) or 'choose'} ▾]"
    return ""


def _rich_text(node: Any) -> str:
    if isinstance(node, Mapping):
        if node.get("type") == "text":
            return str(node.get("text") or "")
        if node.get("type") == "link":
            return str(node.get("text") or node.get("url") or "")
        if node.get("type") == "user":
            return f"<@{node.get('user_id')}>"
        return "".join(_rich_text(child) for child in node.get("elements") or [])
    return ""
