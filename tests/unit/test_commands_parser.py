from __future__ import annotations

import pytest

from services.commands import CommandParser, Subcommand, UsageError, default_parser
from services.issues.keys import find_issue_keys, parse_issue_key, project_of


@pytest.fixture
def parser() -> CommandParser:
    return CommandParser(
        [
            Subcommand("help", "help", "show help"),
            Subcommand("show", "show KEY", "show an issue", min_args=1),
            Subcommand(
                "transition", "transition KEY STATUS", "move", aliases=("move",), min_args=2
            ),
        ]
    )


@pytest.mark.parametrize("text", ["", "   ", "help", "HELP", "  help  "])
def test_empty_and_help_mean_help(parser: CommandParser, text: str) -> None:
    assert parser.parse(text).name == "help"


def test_words_and_rest_keep_spacing(parser: CommandParser) -> None:
    invocation = parser.parse("move OPS-1   In  Progress")
    assert invocation.name == "transition"
    assert invocation.args == ("OPS-1", "In", "Progress")
    assert invocation.rest == "OPS-1   In  Progress"


def test_a_bare_key_shows_the_issue(parser: CommandParser) -> None:
    invocation = parser.parse("ops-12")
    assert (invocation.name, invocation.args) == ("show", ("ops-12",))


def test_unknown_subcommand_names_it_and_asks_for_full_help(parser: CommandParser) -> None:
    with pytest.raises(UsageError) as caught:
        parser.parse("frobnicate now")
    assert "frobnicate" in caught.value.problem
    assert caught.value.usage == ""


def test_missing_argument_shows_that_subcommands_usage(parser: CommandParser) -> None:
    with pytest.raises(UsageError) as caught:
        parser.parse("transition OPS-1")
    assert caught.value.usage == "`/jira transition KEY STATUS`"


def test_overlong_text_is_refused(parser: CommandParser) -> None:
    with pytest.raises(UsageError, match="4,000"):
        parser.parse("help " + "x" * 5000)


def test_odd_unicode_and_backticks_are_quoted_safely(parser: CommandParser) -> None:
    with pytest.raises(UsageError) as caught:
        parser.parse("`ünïcødé`\u200b" + "y" * 100)
    assert "``" not in caught.value.problem
    assert len(caught.value.problem) < 120


def test_duplicate_words_are_a_programming_error() -> None:
    with pytest.raises(ValueError, match="twice"):
        CommandParser([Subcommand("a", "a", "a"), Subcommand("b", "b", "b", aliases=("a",))])


def test_help_lists_every_declared_subcommand() -> None:
    parser = default_parser()
    listed = [usage for usage, _ in parser.help_lines()]
    assert listed == [f"/jira {sub.usage}" for sub in parser.subcommands]


@pytest.mark.parametrize(
    ("text", "keys"),
    [
        ("see OPS-12 and web-3, OPS-12 again", ["OPS-12"]),
        ("OPS-1,WEB-22.", ["OPS-1", "WEB-22"]),
        ("https://x.atlassian.net/browse/OPS-7", []),
        ("UTF-8 and ISO-8859 are encodings", ["UTF-8", "ISO-8859"]),
        ("OPS-0 xOPS-1 OPS-1x A1B-9", ["A1B-9"]),
        ("no keys here", []),
    ],
)
def test_find_issue_keys(text: str, keys: list[str]) -> None:
    assert find_issue_keys(text) == keys


def test_parse_issue_key() -> None:
    assert parse_issue_key(" ops-12 ") == "OPS-12"
    assert parse_issue_key("OPS") is None
    assert parse_issue_key("OPS-12-3") is None
    assert project_of("MY_PROJ-9") == "MY_PROJ"
