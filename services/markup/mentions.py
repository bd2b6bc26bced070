"""Who a Jira text @mentions, in every form Jira delivers (SPEC §7 personal notifications):

- `[~accountid:5b10ac8d82e05b22cc7d4ef5]` in Cloud webhooks and API v2 wiki text;
- ADF `mention` nodes (`{"type": "mention", "attrs": {"id": "…"}}`) from API v3;
- `[~username]` on Data Center.

Linear in its input, and the input is capped: a text of any length costs one regex scan of
its first `MAX_SCANNED` characters, a document a walk of its first `MAX_NODES` nodes.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

MAX_SCANNED = 40_000
MAX_NODES = 20_000
MAX_MENTIONS = 50
# `[~accountid:ID]` (Cloud) or `[~name]` (Data Center); neither may hold `]`, `[` or spaces.
_WIKI_MENTION = re.compile(r"\[~(?:accountid:)?([^\[\]\s|]{1,128})\]")


def mentioned_accounts(body: Any) -> tuple[str, ...]:
    """The account ids (Cloud) or user names (Data Center) a comment or description mentions,
    each once, in order; () for anything that is neither text nor an ADF document."""
    found: list[str] = []
    if isinstance(body, str):
        found = _WIKI_MENTION.findall(body[:MAX_SCANNED])
    elif isinstance(body, Mapping):
        found = _adf_mentions(body)
    return tuple(dict.fromkeys(found))[:MAX_MENTIONS]


def _adf_mentions(doc: Mapping[str, Any]) -> list[str]:
    found: list[str] = []
    stack: list[Any] = [doc]
    seen = 0
    while stack and seen < MAX_NODES:
        node = stack.pop()
        seen += 1
        if not isinstance(node, Mapping):
            continue
        if node.get("type") == "mention":
            attrs = node.get("attrs")
            ident = attrs.get("id") if isinstance(attrs, Mapping) else None
            if isinstance(ident, str) and ident.strip():
                found.append(ident.strip().removeprefix("accountid:"))
        elif node.get("type") == "text" and isinstance(node.get("text"), str):
            found.extend(_WIKI_MENTION.findall(node["text"][:MAX_SCANNED]))
        content = node.get("content")
        if isinstance(content, Sequence) and not isinstance(content, str):
            stack.extend(reversed(content))
    return found
