"""Block Kit builders: pure functions, data in, message dict out."""

from __future__ import annotations

from typing import Any

from services.commands import CommandParser, UsageError

Message = dict[str, Any]


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
