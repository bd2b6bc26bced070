"""The local JQL evaluator: what it can decide alone, and when it must leave it to Jira."""

from __future__ import annotations

import pytest

from services.jql import parse_jql
from services.subscriptions.filter import (
    IssueValues,
    compile_filter,
    fields_of,
    subscription_query,
)

ISSUE: IssueValues = {
    "project": ("ops", "operations", "10000"),
    "status": ("in progress",),
    "priority": ("high",),
    "issuetype": ("bug",),
    "labels": ("backups", "db"),
    "assignee": ("acc-alice", "alice adams"),
    "reporter": ("acc-bob", "bob baker"),
    "component": (),
}


def evaluate(jql: str, issue: IssueValues = ISSUE) -> bool | None:
    local = compile_filter(jql)
    assert local is not None, jql
    return local.evaluate(issue)


@pytest.mark.parametrize(
    ("jql", "expected"),
    [
        ("priority = High", True),
        ("priority = Low", False),
        ("Priority = HIGH", True),
        ("priority != High", False),
        ("priority != Low", True),
        ('status = "In Progress"', True),
        ("status = 'in progress'", True),
        ("status in (Done, 'In Progress')", True),
        ("status not in (Done, 'In Progress')", False),
        ("status NOT IN (Done)", True),
        ("type = Bug", True),
        ("issuetype in (Story, Task)", False),
        ("project = OPS", True),
        ('project = "Operations"', True),
        ("project in (WEB)", False),
        ("labels = db", True),
        ("labels in (x, y)", False),
        ("labels not in (x, y)", True),
        ("assignee = acc-alice", True),
        ("assignee = 'Alice Adams'", True),
        ("reporter != acc-bob", False),
        ("component = api", False),
        ("components = api", False),
    ],
)
def test_clauses(jql: str, expected: bool) -> None:
    assert evaluate(jql) is expected


@pytest.mark.parametrize(
    ("jql", "expected"),
    [
        ("priority = High AND status = Done", False),
        ("priority = High AND (status = Done OR labels = db)", True),
        ("priority = Low OR type = Bug", True),
        ("(priority = Low OR type = Story) AND project = OPS", False),
        ("project = OPS and priority in (High, Highest) or labels = none", True),
    ],
)
def test_and_or_parentheses(jql: str, expected: bool) -> None:
    assert evaluate(jql) is expected


def test_and_binds_tighter_than_or() -> None:
    assert evaluate("priority = Low AND status = Done OR type = Bug") is True
    assert evaluate("type = Bug OR priority = Low AND status = Done") is True
    assert evaluate("type = Story OR priority = High AND status = Done") is False


def test_empty_values_follow_jira() -> None:
    assert evaluate("component = EMPTY") is True
    assert evaluate("component in (EMPTY, api)") is True
    assert evaluate("component != api") is False  # Jira leaves empty fields out of !=
    assert evaluate("component not in (api)") is False
    assert evaluate("labels != EMPTY") is True
    assert evaluate("priority = NULL") is False


def test_unknown_fields_make_an_unknown_answer_unless_the_rest_decides() -> None:
    partial: IssueValues = {"project": ("ops",), "priority": ("high",), "labels": None}
    assert evaluate("labels = db", partial) is None
    assert evaluate("priority = Low AND labels = db", partial) is False
    assert evaluate("priority = High AND labels = db", partial) is None
    assert evaluate("priority = High OR labels = db", partial) is True
    assert evaluate("priority = Low OR labels = db", partial) is None
    assert evaluate("reporter = acc-bob", partial) is None  # not in the snapshot at all


@pytest.mark.parametrize(
    "jql",
    [
        "summary ~ outage",
        "created >= -1d",
        "assignee = currentUser()",
        "assignee in membersOf('ops')",
        "NOT priority = High",
        "priority is EMPTY",
        "resolution = Unresolved",
        "status = 10001",
        "project = 10000",
        "assignee = alice@example.com",
        "priority = High ORDER BY created",
        "priority = High AND",
        "(priority = High",
        "priority = High)",
        "priority High",
        "priority in High",
        "status was Done",
        "= High",
        "",
    ],
)
def test_what_only_jira_can_answer(jql: str) -> None:
    assert compile_filter(jql) is None


def test_fields_of_a_filter() -> None:
    local = compile_filter("project = OPS AND (labels = a OR type in (Bug, Task))")
    assert local is not None
    assert fields_of(local) == {"project", "labels", "issuetype"}


def test_subscription_query() -> None:
    def jql(project: str | None, text: str | None) -> str:
        return subscription_query(project, parse_jql(text).where if text else None).jql()

    assert jql("OPS", None) == 'project = "OPS"'
    assert jql("OPS", "a = b OR c = d") == 'project = "OPS" AND (a = b OR c = d)'
    assert jql(None, "a = b") == "a = b"
    assert jql(None, None) == ""
