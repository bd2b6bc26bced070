"""Slack's limits (`clients.slack_limits`): what the fake refuses, and what Connect renders."""

from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st

from clients.jira_client import JiraUser
from clients.slack_limits import (
    INVALID_BLOCKS,
    MAX_BLOCKS,
    MAX_MESSAGE_TEXT,
    MAX_SECTION_TEXT,
    MSG_TOO_LONG,
    message_violation,
)
from handlers.app_home import home_view
from handlers.blocks import LIST_PAGE_SIZE, paged_list
from services.issues.app_home import HomeData, SubscriptionLine
from services.notifications.render import render_notification


def _section(text: str) -> dict[str, object]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


def test_what_slack_refuses() -> None:
    assert message_violation("hi", [_section("x")] * MAX_BLOCKS) is None
    assert message_violation("hi", [_section("x")] * (MAX_BLOCKS + 1)) == INVALID_BLOCKS
    assert message_violation("hi", [_section("x" * (MAX_SECTION_TEXT + 1))]) == INVALID_BLOCKS
    header = {"type": "header", "text": {"type": "plain_text", "text": "h" * 151}}
    assert message_violation("hi", [header]) == INVALID_BLOCKS
    assert message_violation("x" * (MAX_MESSAGE_TEXT + 1), None) == MSG_TOO_LONG


def test_a_row_with_more_changes_than_a_message_holds_says_how_many_more() -> None:
    change = {"kind": "comment_added", "actor": "Carol", "comment": "y" * 5000}
    payload = {
        "issue": {"key": "OPS-1", "url": "https://jira.example.com/browse/OPS-1", "summary": "s"},
        "changes": [change] * 60,
    }
    text, blocks = render_notification(payload)
    assert message_violation(text, blocks) is None
    assert "…and 40 more changes" in str(blocks)


@given(
    st.lists(st.text(min_size=0, max_size=4000), max_size=70),
    st.integers(min_value=-3, max_value=10),
)
def test_every_page_of_a_list_is_within_slacks_limits(lines: list[str], page: int) -> None:
    message = paged_list("Title:", lines, page=page, list_name="links", footer="footer")
    assert message_violation(message["text"], message["blocks"]) is None
    heading = message["blocks"][0]["text"]["text"]
    assert (heading != "Title:") == (len(lines) > LIST_PAGE_SIZE)


def test_app_home_lists_many_subscriptions_within_the_limits_and_says_how_many_more() -> None:
    jql = "labels = a AND " + " OR ".join(["priority = High"] * 20)
    lines = tuple(SubscriptionLine(f"C{n:03d}", n, "OPS", jql, ("created",)) for n in range(1, 81))
    view = home_view(HomeData(JiraUser("acc-alice", "Alice Adams"), None, (), lines))
    blocks = view["blocks"]
    assert message_violation(None, blocks) is None and len(blocks) < 100
    shown = json.dumps(blocks, ensure_ascii=False)
    assert "<#C050> #50" in shown and "<#C051>" not in shown
    assert "…and 30 more" in shown
