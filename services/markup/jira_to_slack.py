"""Jira wiki markup (API v2 text) → Slack: standard Markdown for `markdown` blocks, mrkdwn for
`section` text, with the grammar of `services.markup.wiki_elements`, cut to what Slack shows
and guarded against its worst-case parsing cost."""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping

from services.markup.parsing import ParseBudgetExceeded, cpu_budget
from services.markup.wiki_elements import drop_grammar, escape_mrkdwn, grammar

# Beyond this the text is cut before converting: a section shows at most 3,000 characters (a
# fifth more leaves room for markup that converts shorter), and the parser's cost grows with
# the text, faster than its length for some markup.
MAX_WIKI_CHARS = 3_600
# CPU time one conversion may take (SPEC §10: 100 ms in the worker for the worst text); past
# it the text is shown as it is, escaped. A realistic 2,300-character comment takes 25-45 ms.
PARSE_BUDGET_SECONDS = 0.08

log = logging.getLogger(__name__)


def _convert(
    wiki: object, user_names: Mapping[str, str] | None, kind: str, budget: float
) -> str | None:
    """`wiki` converted, or None when that took more than `budget` seconds of CPU time."""
    if not isinstance(wiki, str) or not wiki.strip():
        return ""
    text = _capped(wiki)
    markup, names, lists = grammar(kind)
    names.clear()
    names.update(user_names or {})
    for indent in lists:
        indent.reset()  # a parse cut short by the budget leaves a list's indent behind
    try:
        with cpu_budget(budget):
            return str(markup.transform_string(text)).strip("\n")
    except ParseBudgetExceeded:
        log.info("shown a %d-character Jira text as it is: converting it took too long", len(text))
        return None
    except Exception:
        drop_grammar(kind)  # its state may be half-way through a parse
        raise


def _capped(wiki: str) -> str:
    return wiki.replace("\r\n", "\n").replace("\r", "\n")[:MAX_WIKI_CHARS]


def jira_to_slack_markdown(
    wiki: str,
    *,
    user_names: Mapping[str, str] | None = None,
    budget: float = PARSE_BUDGET_SECONDS,
) -> str:
    """Jira wiki markup → standard Markdown for Slack's `markdown` block.

    `user_names` maps Jira account ids (or user names) in `[~accountid:…]` to display names.
    `budget`: CPU seconds the conversion may take; past it the text comes back as it is.
    """
    try:
        converted = _convert(wiki, user_names, "markdown", budget)
    except Exception:  # a parser surprise must not lose the text
        converted = None
    if converted is None:
        return _capped(wiki) if isinstance(wiki, str) else ""
    return converted


def jira_to_mrkdwn(
    wiki: str,
    *,
    user_names: Mapping[str, str] | None = None,
    shown: int | None = None,
    budget: float = PARSE_BUDGET_SECONDS,
) -> str:
    """Jira wiki markup → Slack mrkdwn (`section` text), with `&`, `<`, `>` escaped.

    `shown`: only about that many characters of the result will be shown (the caller cuts
    it), so only the paragraphs that can fill them are converted; a text left short ends with
    "…". The parser's cost grows with the text: a 4,000-character comment shown in 1,500
    costs half. `budget`: CPU seconds the conversion may take; past it the text is shown as
    it is, escaped.
    """
    cut = False
    if shown is not None and isinstance(wiki, str):
        whole = len(wiki)
        wiki, cut = shown_part(wiki[:MAX_WIKI_CHARS], shown + shown // 2)
        cut = cut or len(wiki) < whole
    try:
        converted = _convert(wiki, user_names, "mrkdwn", budget)
    except Exception:  # a parser surprise must not lose the text
        converted = None
    if converted is None:
        converted = escape_mrkdwn(_capped(wiki)) if isinstance(wiki, str) else ""
    return converted + "\n…" if cut else converted


# Blocks whose inside is not wiki paragraphs: a text is only cut outside them.
# Its parameters stop at the next `{`: an unclosed `{code:` scans no further (linear).
_BLOCK_TAG = re.compile(r"\{(code|noformat|quote|panel)(?::[^{}]*)?\}", re.IGNORECASE)
# Where a text may be cut, best first: a paragraph break, a line break, a space (a text of
# one endless line: whatever inline markup it leaves open stays as typed).
_BREAKS = (re.compile(r"\n[ \t]*\n"), re.compile(r"\n"), re.compile(r" "))


def shown_part(wiki: str, chars: int) -> tuple[str, bool]:
    """The start of `wiki` holding at least its first `chars` characters, ending at a break
    outside any {code}/{noformat}/{quote}/{panel} block — a paragraph break if there is one,
    so that what it holds converts as it would within the whole text; (wiki, False) when
    there is no such break."""
    if len(wiki) <= chars:
        return wiki, False
    for breaks in _BREAKS:
        open_blocks: dict[str, int] = {}
        tags = _BLOCK_TAG.finditer(wiki)
        tag = next(tags, None)
        for found in breaks.finditer(wiki, chars):
            while tag is not None and tag.start() < found.start():
                kind = tag.group(1).lower()
                open_blocks[kind] = open_blocks.get(kind, 0) ^ 1  # one tag opens and closes
                tag = next(tags, None)
            if not any(open_blocks.values()):
                return wiki[: found.start()], True
    return wiki, False
