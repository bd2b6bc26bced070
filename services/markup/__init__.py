"""Text between Slack and Jira, both ways.

- `mrkdwn_to_wiki`: Slack mrkdwn → Jira wiki markup (API v2 descriptions and comments).
- `slack_to_plain_text`: Slack mrkdwn → plain text, for fields Jira does not render (summary).
- `jira_to_slack_markdown` / `jira_to_mrkdwn`: Jira wiki markup → Slack's `markdown` block /
  mrkdwn `section` text.
- `adf_to_text`: Jira Cloud ADF (API v3) → wiki markup, to show as is or convert on.
- `truncate_for_slack`: shorten Slack text without breaking its markup.

All pure: no I/O, and odd input gives odd-looking text rather than an exception.

Modules, named by direction: `slack_to_jira` (Slack mrkdwn → Jira wiki and plain text),
`jira_to_slack` (Jira wiki → Markdown / mrkdwn), `wiki_elements` (the jira2markdown grammar it
renders with, adapted to Slack), `adf` (ADF → wiki) and `parsing` (the pyparsing shortcuts and
CPU budget the grammar and `jira_to_slack` use).
"""

from __future__ import annotations

import re

from services.markup.adf import adf_to_text
from services.markup.jira_to_slack import jira_to_mrkdwn, jira_to_slack_markdown
from services.markup.slack_to_jira import decode_entities, mrkdwn_to_wiki, slack_to_plain_text
from services.markup.wiki_elements import escape_mrkdwn

__all__ = [
    "adf_to_text",
    "decode_entities",
    "escape_mrkdwn",
    "escape_typed",
    "jira_to_mrkdwn",
    "jira_to_slack_markdown",
    "mrkdwn_to_wiki",
    "slack_to_plain_text",
    "truncate_for_slack",
]

ELLIPSIS = "…"
_FENCE = "```"
_CLOSE_FENCE = "\n```"
# Pieces a cut must not split: a mrkdwn link or mention, a Markdown link, an entity,
# inline code, an emoji shortcode.
_ATOMIC = re.compile(
    "|".join(
        [
            r"<[^<>\n]*>",
            r"\[[^\[\]\n]*\]\([^)\s\[]*\)",  # stops at the next `[`: linear
            r"&#?\w{1,10};",
            r"(?<!`)`[^`\n]+`(?!`)",
            r":[\w+-]{1,100}:",
        ]
    )
)


def escape_typed(slack_text: str) -> str:
    """Text as Slack sent it (typed `<`, `>`, `&` as entities; @channel and mentions as
    `<!channel>`, `<@U…>`), escaped to show as typed: no token in it pings or links."""
    return escape_mrkdwn(decode_entities(slack_text))


def truncate_for_slack(text: str, limit: int) -> str:
    """`text` if it fits in `limit` characters; otherwise its start, cut at a line or word
    boundary before any link, entity or inline code it would split, closing a code block left
    open, with "…" added — all within `limit`."""
    if not isinstance(text, str) or limit <= 0:
        return ""
    if len(text) <= limit:
        return text
    cut = _cut(text, limit - len(ELLIPSIS))
    if cut.count(_FENCE) % 2:
        cut = _cut(text, limit - len(ELLIPSIS) - len(_CLOSE_FENCE))
        if cut.count(_FENCE) % 2:
            return cut + ELLIPSIS + _CLOSE_FENCE
    return (cut + ELLIPSIS)[:limit]


def _cut(text: str, budget: int) -> str:
    if budget <= 0:
        return ""
    cut = text[:budget]
    if not text[budget].isspace():
        line_break = cut.rfind("\n")
        space = max(cut.rfind(" "), cut.rfind("\t"))
        if line_break >= len(cut) * 2 // 3 or (line_break > 0 and space <= 0):
            cut = cut[:line_break]
        elif space > 0:
            cut = cut[:space]
    for piece in _ATOMIC.finditer(text):
        if piece.start() >= len(cut):
            break
        if piece.end() > len(cut):
            cut = cut[: piece.start()]
            break
    cut = cut.rstrip()
    if cut.endswith(_FENCE):  # a block that would open only to close at once
        cut = cut[: -len(_FENCE)].rstrip()
    return cut
