"""Connect's one JQL reader: lexer, depth-bounded parser, canonical text, the wall."""

from __future__ import annotations

import pytest

from services.jql import MAX_JQL_LENGTH, MAX_NESTING, JqlSyntaxError, JqlWall, parse_jql

WALL = JqlWall(frozenset({"OPS", "WEB"}))


def no_aliases() -> frozenset[str]:
    return frozenset({"operations", "10000"})


@pytest.mark.parametrize(
    ("typed", "canonical"),
    [
        ("status = Done", "status = Done"),
        (
            "status='In Progress' and priority in (High, 'Low')",
            ('status = "In Progress" AND priority IN (High, "Low")'),
        ),
        ("a = 1 or b = 2 and c = 3", "a = 1 OR (b = 2 AND c = 3)"),
        ("a=1||b!=2&&!c=3", "a = 1 OR (b != 2 AND (NOT c = 3))"),
        ("not not a = 1", "NOT (NOT a = 1)"),
        ("assignee is not empty", "assignee IS NOT EMPTY"),
        ("assignee = currentUser()", "assignee = currentUser()"),
        (
            'issue in linkedIssues(OPS-1, "is blocked by")',
            ('issue IN linkedIssues(OPS-1, "is blocked by")'),
        ),
        (
            "status was not in (Done) by me() after -1w",
            ("status WAS NOT IN (Done) BY me() AFTER -1w"),
        ),
        (
            'status changed from "To Do" to Done during ("2024-01-01", now())',
            ('status CHANGED FROM "To Do" TO Done DURING ("2024-01-01", now())'),
        ),
        ('summary ~ "say \\"hi\\" \\\\o/"', 'summary ~ "say \\"hi\\" \\\\o/"'),
        ("summary ~ 'it\\'s'", 'summary ~ "it\'s"'),
        ('summary ~ "order by"', 'summary ~ "order by"'),
        ('"Epic Link" = OPS-1', '"Epic Link" = OPS-1'),
        ("cf[10010] >= 3", "cf[10010] >= 3"),
        (
            "created >= -30d ORDER BY created DESC, key",
            "created >= -30d ORDER BY created DESC, key",
        ),
        ("ORDER BY key", "ORDER BY key"),
        ("(((a = 1)))", "a = 1"),
        ('text ~ "\\u0041\\t"', 'text ~ "A\\t"'),
    ],
)
def test_parsed_and_written_back_canonically(typed: str, canonical: str) -> None:
    assert parse_jql(typed).jql() == canonical
    assert parse_jql(canonical).jql() == canonical  # canonical text reads back the same


@pytest.mark.parametrize(
    ("typed", "problem"),
    [
        ("project = OPS) OR (project = WEB", "no opening one"),
        ("(a = 1", "not closed"),
        ("a = 1 ORDER BY key ORDER BY created", "ORDER BY comes once"),
        ("(a = 1 ORDER BY key)", "ORDER BY comes once"),
        ("a = 1 ORDER BY key) OR (b = 2", "no opening one"),
        ('summary ~ "unclosed', "not closed"),
        ('summary ~ "bad \\q escape"', "not closed"),
        ("summary ~ 'two\nlines'", "not closed"),
        ("a = 1 AND", "ends there"),
        ("a 1", "expected an operator"),
        ("a in b", "takes a list"),
        ("a = (b, c)", "not a list"),
        ("a is High", "EMPTY or NULL"),
        ("a = and", "expected a value"),
        ("and = 1", "expected a field"),
        ("()", "expected a field"),
        ("a = 1 b = 2", "expected AND, OR"),
        ("a = f(b c)", "comma"),
        ("a = b\\c", "JQL has no use"),
        ("a = b\x00", r"U\+0000"),
    ],
)
def test_what_does_not_parse_says_why(typed: str, problem: str) -> None:
    with pytest.raises(JqlSyntaxError, match=problem):
        parse_jql(typed)


def test_nesting_and_length_are_bounded() -> None:
    assert parse_jql("(" * MAX_NESTING + "a = 1" + ")" * MAX_NESTING).jql() == "a = 1"
    assert parse_jql("NOT " * MAX_NESTING + "a = 1").where is not None
    for deep in (
        "(" * (MAX_NESTING + 1) + "a = 1" + ")" * (MAX_NESTING + 1),
        "(" * 400 + "a = 1" + ")" * 400,
        "NOT " * (MAX_NESTING + 1) + "a = 1",
        "(NOT " * 20 + "a = 1" + ")" * 20,
    ):
        with pytest.raises(JqlSyntaxError, match="nest more than"):
            parse_jql(deep)
    with pytest.raises(JqlSyntaxError, match="limited to 2,000"):
        parse_jql("a = " + "x" * MAX_JQL_LENGTH)


def test_the_wall_wraps_the_filter_and_keeps_order_by_last() -> None:
    wrap = WALL.wrap
    assert wrap(parse_jql("a = 1 OR b = 2")) == "project in (OPS, WEB) AND (a = 1 OR b = 2)"
    assert wrap(parse_jql("a = 1 ORDER BY key")) == "project in (OPS, WEB) AND (a = 1) ORDER BY key"
    assert wrap(parse_jql("order by key")) == "project in (OPS, WEB) ORDER BY key"
    assert JqlWall(frozenset()).wrap(parse_jql("a = 1 OR b = 2")) == "a = 1 OR b = 2"


@pytest.mark.parametrize(
    ("typed", "named"),
    [
        ("project = SECRET", ["SECRET"]),
        ('project in (OPS, "Secret Plans", 10002)', ["Secret Plans", "10002"]),
        ("project = ops OR project = Operations OR project = 10000", []),
        ("key = SECRET-1 OR issuekey in (OPS-1, HR-9)", ["SECRET-1", "HR-9"]),
        ("parent = secret-4", ["secret-4"]),
        ("issue in linkedIssues(SECRET-1)", ["SECRET-1"]),
        ('issueFunction in subtasksOf("project = SECRET")', ["SECRET"]),
        ("NOT (status = Done AND project != HR)", ["HR"]),
        ('summary ~ "SECRET-1"', []),  # a text search inside the wall names nothing
        ("project is EMPTY OR assignee = currentUser()", []),
    ],
)
def test_names_outside_the_wall(typed: str, named: list[str]) -> None:
    assert WALL.names_outside(parse_jql(typed), no_aliases) == named
    assert JqlWall(frozenset()).names_outside(parse_jql(typed), no_aliases) == []
