"""`/jira subscribe [PROJECT] [JQL…] [--events K,K]`, `unsubscribe ID`: the grammar alone."""

from __future__ import annotations

import pytest

from handlers.subscriptions import describe, slack_text
from models.channels import EVENT_KINDS
from services.commands import UsageError, default_parser
from services.errors import InvalidRequest
from services.subscriptions.service import (
    SubscriptionView,
    parse_subscribe,
    parse_subscription_number,
    split_project,
)

USAGE = "`/jira subscribe [PROJECT] [JQL…] [--events K,K]`"
PROJECTS = {"OPS", "WEB"}


def is_project(key: str) -> bool:
    return key in PROJECTS


def test_the_parser_knows_the_subcommands_and_help_lists_them() -> None:
    parser = default_parser()
    assert parser.parse("subscribe OPS").name == "subscribe"
    assert parser.parse("subscriptions").name == "subscriptions"
    assert parser.parse("unsubscribe 2").args == ("2",)
    assert parser.usage_of("subscribe") == USAGE
    usages = [usage for usage, _ in parser.help_lines()]
    assert "/jira unsubscribe ID" in usages
    with pytest.raises(UsageError, match="missing an argument"):
        parser.parse("subscribe")
    with pytest.raises(UsageError, match="missing an argument"):
        parser.parse("unsubscribe")


@pytest.mark.parametrize(
    ("text", "query", "kinds"),
    [
        ("OPS", "OPS", EVENT_KINDS),
        ("OPS priority = High", "OPS priority = High", EVENT_KINDS),
        ("OPS --events created", "OPS", ("created",)),
        ("OPS --events=commented,created", "OPS", ("created", "commented")),
        (
            "priority = High --events Resolved, assigned",
            "priority = High",
            ("assigned", "resolved"),
        ),
        ("OPS status = Done ORDER BY created DESC", "OPS status = Done", EVENT_KINDS),
    ],
)
def test_query_and_event_kinds(text: str, query: str, kinds: tuple[str, ...]) -> None:
    wanted = parse_subscribe(text, usage=USAGE)
    assert (wanted.query, wanted.kinds) == (query, kinds)


def test_unknown_kinds_are_named() -> None:
    with pytest.raises(UsageError) as caught:
        parse_subscribe("OPS --events created,deployed,closed", usage=USAGE)
    assert "`deployed`, `closed`" in caught.value.problem
    assert "created, transitioned, commented, assigned, resolved" in caught.value.problem
    assert caught.value.usage == USAGE


@pytest.mark.parametrize("text", ["--events created", "ORDER BY created", "OPS --events", "  "])
def test_something_to_follow_and_some_kind_are_needed(text: str) -> None:
    with pytest.raises(UsageError):
        parse_subscribe(text, usage=USAGE)


@pytest.mark.parametrize(
    ("query", "project", "jql"),
    [
        ("OPS", "OPS", ""),
        ("ops priority = High", "OPS", "priority = High"),
        ("WEB labels in (a, b)", "WEB", "labels in (a, b)"),
        ("priority = High", None, "priority = High"),
        ("project = OPS AND type = Bug", None, "project = OPS AND type = Bug"),
        ("OPS = 1", None, "OPS = 1"),  # a field named like a project: JQL after all
        ("assignee is EMPTY", None, "assignee is EMPTY"),
        ("text ~ outage", None, "text ~ outage"),
        ("NOT priority = High", None, "NOT priority = High"),
        ("OPS AND priority = High", "OPS", "priority = High"),
        ("OPS ANDROID = 1", "OPS", "ANDROID = 1"),
        ("OPS\npriority = High", "OPS", "priority = High"),
    ],
)
def test_the_first_word_is_a_project_when_it_names_one(
    query: str, project: str | None, jql: str
) -> None:
    assert split_project(query, is_project) == (project, jql)


@pytest.mark.parametrize("query", ["NOPE", "NOPE priority = High", "SECRET"])
def test_a_word_written_like_a_key_that_names_no_project_is_refused(query: str) -> None:
    with pytest.raises(InvalidRequest, match="can't find a project"):
        split_project(query, is_project)


@pytest.mark.parametrize(("text", "number"), [("1", 1), ("#12", 12), (" 3 ", 3)])
def test_subscription_numbers(text: str, number: int) -> None:
    assert parse_subscription_number(text, usage="`/jira unsubscribe ID`") == number


@pytest.mark.parametrize("text", ["one", "-1", "1.5", "99999999999", ""])
def test_bad_subscription_numbers(text: str) -> None:
    with pytest.raises(UsageError, match="not a subscription number"):
        parse_subscription_number(text, usage="`/jira unsubscribe ID`")


def test_slack_escapes_are_undone_for_jql() -> None:
    assert slack_text('created &gt;= -1d AND summary ~ "a &amp; b"') == (
        'created >= -1d AND summary ~ "a & b"'
    )


def test_describe() -> None:
    from datetime import UTC, datetime

    def view(project: str | None, jql: str | None, kinds: tuple[str, ...]) -> SubscriptionView:
        return SubscriptionView(1, "C1", project, jql, kinds, "U1", datetime.now(UTC))

    assert describe(view("OPS", None, EVENT_KINDS)) == "project *OPS* (all events)"
    assert describe(view("OPS", "priority = High", ("created",))) == (
        "project *OPS* matching `priority = High` (created)"
    )
    assert describe(view(None, "a < b", ("created", "commented"))) == (
        "issues matching `a &lt; b` (created, commented)"
    )
