"""Atlassian Document Format (Jira Cloud API v3 rich text) → Jira wiki markup.

The result reads well as plain text and, being wiki markup, goes on to Slack through the same
`jira_to_mrkdwn` / `jira_to_slack_markdown` as API v2 text. Unknown nodes show their text.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

_MAX_DEPTH = 64  # deeper than any real document; stops runaway recursion on odd input

_MARK_WRAP = {"strong": "*", "em": "_", "strike": "-", "underline": "+"}
_LIST_MARKERS = {"bulletList": "*", "orderedList": "#", "taskList": "*", "decisionList": "*"}
_INLINE_NODES = {"text", "hardBreak", "mention", "emoji", "inlineCard", "date", "status"}


def adf_to_text(doc: Mapping[str, Any] | str | None) -> str:
    """An ADF document (or any node of one) → readable wiki-ish text.

    A string is returned as it is (API v2 text passed by mistake stays readable); anything else
    that is not a node gives "".
    """
    if isinstance(doc, str):
        return doc
    if not isinstance(doc, Mapping):
        return ""
    return _block(doc, 0).strip("\n")


def _children(node: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    content = node.get("content")
    if not isinstance(content, Sequence) or isinstance(content, str):
        return []
    return [child for child in content if isinstance(child, Mapping)]


def _attrs(node: Mapping[str, Any]) -> Mapping[str, Any]:
    attrs = node.get("attrs")
    return attrs if isinstance(attrs, Mapping) else {}


def _attr(node: Mapping[str, Any], name: str) -> str:
    value = _attrs(node).get(name)
    return value if isinstance(value, str) else ""


def _is_inline(node: Mapping[str, Any]) -> bool:
    return node.get("type") in _INLINE_NODES or "text" in node


def _blocks(nodes: list[Mapping[str, Any]], depth: int, separator: str = "\n\n") -> str:
    """Block nodes one after another; runs of inline nodes among them form a paragraph."""
    parts: list[str] = []
    run: list[Mapping[str, Any]] = []
    for node in [*nodes, {}]:
        if node and _is_inline(node):
            run.append(node)
            continue
        if run:
            parts.append(_inline(run, depth))
            run = []
        if node:
            parts.append(_block(node, depth))
    return separator.join(part for part in parts if part.strip())


def _inline(nodes: list[Mapping[str, Any]], depth: int) -> str:
    return "".join(_inline_node(node, depth) for node in nodes)


def _inline_node(node: Mapping[str, Any], depth: int) -> str:
    kind = node.get("type")
    if kind == "text":
        return _marked(node)
    if kind == "hardBreak":
        return "\n"
    if kind == "mention":
        name = _attr(node, "text") or _attr(node, "id")
        return "@" + name.lstrip("@") if name else ""
    if kind == "emoji":
        return _attr(node, "text") or _attr(node, "shortName")
    if kind == "inlineCard":
        return _attr(node, "url")
    if kind == "status":
        return _attr(node, "text")
    if kind == "date":
        return _date(_attrs(node).get("timestamp"))
    text = node.get("text")
    return text if isinstance(text, str) else _block(node, depth + 1)


def _marked(node: Mapping[str, Any]) -> str:
    """A text node with its marks as wiki effects; spaces stay outside (Jira needs that)."""
    text = node.get("text")
    if not isinstance(text, str) or not text:
        return ""
    marks = node.get("marks")
    kinds: dict[str, Mapping[str, Any]] = {}
    for mark in marks if isinstance(marks, Sequence) and not isinstance(marks, str) else []:
        if isinstance(mark, Mapping) and isinstance(mark.get("type"), str):
            kinds[mark["type"]] = mark
    core = text.strip()
    if not core:
        return text
    if "code" in kinds:
        core = "{{" + core + "}}"
    for kind, wrap in _MARK_WRAP.items():
        if kind in kinds:
            core = wrap + core + wrap
    href = _attr(kinds["link"], "href") if "link" in kinds else ""
    if href:
        core = href if text.strip() == href else f"[{core}|{href}]"
    start = len(text) - len(text.lstrip())
    return text[:start] + core + text[start + len(text.strip()) :]


def _date(timestamp: object) -> str:
    try:
        seconds = int(str(timestamp)) / 1000
        return datetime.fromtimestamp(seconds, tz=UTC).date().isoformat()
    except (ValueError, OverflowError, OSError):
        return ""


def _block(node: Mapping[str, Any], depth: int) -> str:
    if depth > _MAX_DEPTH:
        return ""
    kind = node.get("type")
    children = _children(node)
    if kind in {"paragraph", "heading"}:
        text = _inline(children, depth)
        level = _attrs(node).get("level")
        if kind == "heading" and text.strip():
            return f"h{level if level in range(1, 7) else 1}. {text}"
        return text
    if kind in _LIST_MARKERS:
        return _list(node, _LIST_MARKERS[str(kind)], depth)
    if kind == "codeBlock":
        code = "".join(str(child.get("text", "")) for child in children)
        language = _attr(node, "language")
        return f"{{code{':' + language if language.isalnum() else ''}}}\n{code}\n{{code}}"
    if kind == "blockquote":
        return "{quote}\n" + _blocks(children, depth + 1) + "\n{quote}"
    if kind == "rule":
        return "----"
    if kind == "table":
        return "\n".join(_row(row, depth) for row in children)
    if kind in {"mediaSingle", "mediaGroup", "media", "mediaInline"}:
        alt = _attr(node, "alt") or next((_attr(c, "alt") for c in children if _attr(c, "alt")), "")
        return f"[attachment: {alt}]" if alt else "[attachment]"
    if kind in {"blockCard", "embedCard"}:
        return _attr(node, "url")
    if kind in {"expand", "nestedExpand"} and _attr(node, "title"):
        return f"*{_attr(node, 'title')}*\n" + _blocks(children, depth + 1)
    if _is_inline(node):
        return _inline_node(node, depth)
    return _blocks(children, depth + 1)  # doc, panel, listItem, unknown: their content


def _list(node: Mapping[str, Any], prefix: str, depth: int) -> str:
    """List items as `* text` / `# text` lines; a nested list extends its item's prefix."""
    lines: list[str] = []
    for item in _children(node):
        nested = [c for c in _children(item) if c.get("type") in _LIST_MARKERS]
        own = [c for c in _children(item) if c.get("type") not in _LIST_MARKERS]
        text = _blocks(own, depth + 1, separator=" ").replace("\n", " ")
        if item.get("type") == "taskItem":
            text = ("☑ " if _attr(item, "state") == "DONE" else "☐ ") + text
        lines.append(f"{prefix} {text}".rstrip())
        if depth < _MAX_DEPTH:
            lines.extend(
                _list(c, prefix + _LIST_MARKERS[str(c.get("type"))], depth + 1) for c in nested
            )
    return "\n".join(line for line in lines if line.strip())


def _row(row: Mapping[str, Any], depth: int) -> str:
    cells = []
    for cell in _children(row):
        text = _blocks(_children(cell), depth + 1, separator=" ").replace("\n", " ")
        cells.append(("||" if cell.get("type") == "tableHeader" else "|") + (text or " "))
    closing = "||" if cells and cells[-1].startswith("||") else "|"
    return "".join(cells) + closing if cells else ""
