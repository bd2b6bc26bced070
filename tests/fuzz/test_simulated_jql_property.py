"""Property: the in-memory Jira reads JQL as Connect's parser (services/jql) does. Whatever
JQL-looking text Connect's parser accepts, the simulator answers it exactly as it answers
Connect's canonical re-serialisation of it (the text the wall sends to Jira); what Connect's
parser refuses, the simulator refuses as a syntax error."""

from __future__ import annotations

import pytest
from hypothesis import example, given, settings

from clients.jira_client import JiraBadRequest
from services.jql import JqlSyntaxError, parse_jql
from simulators.jira_site.memory import InMemoryJira
from simulators.jira_site.sample import with_sample_data
from tests.fuzz.test_jql_wall_property import BREAK_OUTS, jql_like

JIRA = with_sample_data(InMemoryJira())


def answer(jql: str) -> tuple[str, ...] | str:
    try:
        return tuple(issue.key for issue in JIRA.search_all(jql))
    except JiraBadRequest as refused:
        return refused.message


@settings(max_examples=400, deadline=None)
@given(text=jql_like)
@example(text=BREAK_OUTS[4])  # `||`
@example(text="project = OPS && NOT status = Done")
@example(text=r'summary ~ "\u004eightly"')
@example(text='summary ~ "a\\tb" OR key = OPS-1')
def test_simulator_reads_jql_as_connect_parses_it(text: str) -> None:
    try:
        canonical = parse_jql(text).jql()
    except JqlSyntaxError:
        refused = answer(text)
        assert isinstance(refused, str) and refused.startswith("Error in the JQL Query"), text
        return
    assert answer(text) == answer(canonical), (text, canonical)


@pytest.mark.parametrize(
    ("jql", "keys"),
    [
        ("project = OPS && NOT status = Done ORDER BY key", ("OPS-1", "OPS-2")),
        ("project = WEB || key = OPS-3 ORDER BY key", ("OPS-3", "WEB-1")),
        (r'summary ~ "\u004eightly"', ("OPS-1",)),  # JQL's \uXXXX escape: "Nightly"
    ],
)
def test_jql_spellings_jira_knows(jql: str, keys: tuple[str, ...]) -> None:
    assert answer(jql) == keys
