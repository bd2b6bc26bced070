"""Any `/jira` text parses to an Invocation or a UsageError that names the problem."""

from __future__ import annotations

from hypothesis import example, given, settings
from hypothesis import strategies as st

from services.commands import SUBCOMMANDS, Invocation, UsageError, default_parser
from tests.fuzz.payloads import command_text

PARSER = default_parser()
KNOWN = {sub.name for sub in SUBCOMMANDS}


@settings(max_examples=300, deadline=None)
@given(st.one_of(command_text, st.text(), st.none()))
@example("A-1\r 0")  # the first word used to end only at " "
@example("comment\tOPS-1 hi")
def test_any_text_parses_or_is_a_usage_error(text: str) -> None:
    usage: str | None = None
    try:
        invocation = PARSER.parse(text)
    except UsageError as error:
        problem, usage = error.problem, error.usage
    if usage is not None:  # a usage error: it names the problem and the right form
        assert problem.strip()
        assert usage == "" or usage.startswith("`/jira ")
        return
    assert isinstance(invocation, Invocation)
    assert invocation.name in KNOWN
    assert all(arg and not any(c.isspace() for c in arg) for arg in invocation.args)
