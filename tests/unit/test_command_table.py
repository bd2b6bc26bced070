"""The `/jira` subcommands live in one list (services.commands.SUBCOMMANDS): the parser, `/jira
help`, the dispatch after the ack and the mentions' private answers all read it."""

from __future__ import annotations

import pytest

from handlers import blocks
from handlers.commands import AT_ACK, SLOW_SUBCOMMANDS, dispatch_table
from services.commands import SUBCOMMANDS, Subcommand, default_parser


def test_every_subcommand_is_answered_at_the_ack_or_dispatched_in_help_order() -> None:
    names = [sub.name for sub in SUBCOMMANDS]
    assert list(SLOW_SUBCOMMANDS) == [name for name in names if name not in AT_ACK]
    assert set(names) >= AT_ACK


def test_help_lists_exactly_the_dispatched_subcommands() -> None:
    parser = default_parser()
    text = blocks.help_message(parser)["text"]
    listed = [line.split("`")[1].split()[1] for line in text.splitlines() if line.startswith("•")]
    assert listed == [sub.name for sub in SUBCOMMANDS]
    assert set(listed) == set(SLOW_SUBCOMMANDS) | AT_ACK


def test_a_subcommand_without_a_runner_or_a_runner_without_one_is_refused() -> None:
    with pytest.raises(ValueError, match="without a runner: \\['frobnicate'\\]"):
        dispatch_table([*SUBCOMMANDS, Subcommand("frobnicate", "frobnicate", "x")])
    with pytest.raises(ValueError, match="runners without a subcommand: \\['whoami'\\]"):
        dispatch_table([sub for sub in SUBCOMMANDS if sub.name != "whoami"])


def test_the_answers_about_ones_own_account_are_private() -> None:
    parser = default_parser()
    private = {sub.name for sub in SUBCOMMANDS if parser.is_private(sub.name)}
    assert private == {"connect", "whoami", "disconnect", "notify"}
    assert not parser.is_private("") and not parser.is_private("nope")
