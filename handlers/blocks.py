"""Block Kit builders: pure functions, data in, message dict out."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from clients.slack_limits import MAX_SECTION_TEXT
from services.commands import CommandParser, UsageError
from services.markup import truncate_for_slack

Message = dict[str, Any]

# A list answer (`/jira links`, `/jira subscriptions`) shows this many items a page, each cut
# to LIST_LINE_LIMIT characters: a page is a few sections, each within MAX_SECTION_TEXT.
LIST_PAGE_SIZE = 20
LIST_LINE_LIMIT = 500
LIST_PAGE_ACTION = "list_page"


def _section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


def ephemeral(text: str) -> Message:
    return {"response_type": "ephemeral", "text": text, "blocks": [_section(text)]}


def help_message(parser: CommandParser) -> Message:
    lines = [f"• `{usage}` — {summary}" for usage, summary in parser.help_lines()]
    title = f"*Connect* links Slack conversations to Jira issues. `{parser.command}` can:"
    return {
        "response_type": "ephemeral",
        "text": title + "\n" + "\n".join(lines),
        "blocks": [_section(title), _section("\n".join(lines))],
    }


def usage_error_message(error: UsageError, parser: CommandParser) -> Message:
    if error.usage:
        text = f":warning: {error.problem}\nUsage: {error.usage}"
        return {"response_type": "ephemeral", "text": text, "blocks": [_section(text)]}
    help_text = help_message(parser)
    problem = f":warning: {error.problem}"
    return {
        "response_type": "ephemeral",
        "text": problem + "\n" + help_text["text"],
        "blocks": [_section(problem), *help_text["blocks"]],
    }


def paged_list(
    title: str, lines: Sequence[str], *, page: int, list_name: str, footer: str = ""
) -> Message:
    """One page of a list: a heading, the page's lines in sections within Slack's limit, and
    Previous/Next buttons whose value (`list_name:page`) names the page they show."""
    pages = max(1, -(-len(lines) // LIST_PAGE_SIZE))
    page = min(max(page, 1), pages)
    start = (page - 1) * LIST_PAGE_SIZE
    shown = [truncate_for_slack(line, LIST_LINE_LIMIT) for line in lines[start:][:LIST_PAGE_SIZE]]
    heading = title if pages == 1 else f"{title} (page {page} of {pages}, {len(lines)} in all)"
    blocks = [_section(heading), *line_sections(shown)]
    if footer:
        blocks.append(_section(footer))
    buttons = []
    if page > 1:
        buttons.append(_page_button("Previous page", f"{list_name}:{page - 1}"))
    if page < pages:
        buttons.append(_page_button("Next page", f"{list_name}:{page + 1}"))
    if buttons:
        blocks.append({"type": "actions", "block_id": f"{list_name}_pages", "elements": buttons})
    text = truncate_for_slack("\n".join([heading, *shown]), MAX_SECTION_TEXT)
    return {"response_type": "ephemeral", "text": text, "blocks": blocks}


def line_sections(lines: Sequence[str]) -> list[dict[str, Any]]:
    """Lines (each within MAX_SECTION_TEXT) packed into as few sections as Slack allows."""
    chunks: list[str] = []
    for line in lines:
        line = truncate_for_slack(line, MAX_SECTION_TEXT)
        if chunks and len(chunks[-1]) + 1 + len(line) <= MAX_SECTION_TEXT:
            chunks[-1] += "\n" + line
        else:
            chunks.append(line)
    return [_section(chunk) for chunk in chunks]


def page_number(args: Sequence[str]) -> int:
    """`/jira links 2`: the page asked for (1 when none or not a number)."""
    word = args[0] if args else ""
    return int(word) if word.isdigit() and len(word) < 7 else 1


def _page_button(label: str, value: str) -> dict[str, Any]:
    return {
        "type": "button",
        "text": {"type": "plain_text", "text": label},
        "action_id": LIST_PAGE_ACTION,
        "value": value,
    }


def one_of(*ids: str) -> re.Pattern[str]:
    """One listener for several ids (a callback_id, an action_id): Bolt asks each listener in
    turn whether a request is its own, building its listener arguments for every ask, so
    fewer listeners make every ack cheaper."""
    return re.compile(r"\A(?:" + "|".join(re.escape(i) for i in ids) + r")\Z")
