from __future__ import annotations

from handlers import blocks
from services.commands import CommandParser, Subcommand, UsageError


def parser() -> CommandParser:
    return CommandParser(
        [Subcommand("help", "help", "show help"), Subcommand("show", "show KEY", "a card")]
    )


def test_help_lists_every_subcommand_ephemerally() -> None:
    message = blocks.help_message(parser())
    assert message["response_type"] == "ephemeral"
    assert "/jira help" in message["text"] and "/jira show KEY" in message["text"]
    assert all(block["type"] == "section" for block in message["blocks"])


def test_a_usage_error_shows_the_problem_and_the_right_usage() -> None:
    message = blocks.usage_error_message(
        UsageError("`show` is missing an argument.", "`/jira show KEY`"), parser()
    )
    assert "missing an argument" in message["text"]
    assert "Usage: `/jira show KEY`" in message["text"]


def test_an_unknown_command_gets_the_whole_help() -> None:
    message = blocks.usage_error_message(
        UsageError("`/jira x` is not a command I know.", ""), parser()
    )
    assert message["text"].startswith(":warning: `/jira x`")
    assert "/jira show KEY" in message["text"]
