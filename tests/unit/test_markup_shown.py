"""A long Jira comment is converted only as far as a notification can show it, and what is
shown is exactly what converting the whole comment would have shown."""

from __future__ import annotations

import math

import pytest

from services.markup import jira_to_mrkdwn, truncate_for_slack
from services.markup.jira_to_slack import shown_part
from services.notifications.render import COMMENT_LIMIT

PARAGRAPH = (
    "h3. Findings\n\nCustomers saw *intermittent* 502s from {{/api/checkout}}; see "
    "[the dashboard|https://grafana.example.com/d/abc] and OPS-1234.\n\n"
    "||Region||Errors||\n|eu-west-1|1,204|\n\n"
    "# rolled back\n# drained {color:red}node-17{color}\n\n"
    "{code:python}\ndef handler(request):\n\n    return checkout(request)  # *not* bold\n{code}\n\n"
)


def test_a_text_that_fits_is_left_whole() -> None:
    assert shown_part("short\n\ntext", 100) == ("short\n\ntext", False)


def test_the_cut_is_the_first_paragraph_break_after_the_characters_asked_for() -> None:
    text = "a" * 50 + "\n\n" + "b" * 50 + "\n\n" + "c" * 50
    assert shown_part(text, 60) == ("a" * 50 + "\n\n" + "b" * 50, True)


def test_never_inside_a_code_block_even_with_blank_lines_in_it() -> None:
    text = "intro\n\n{code}\nx = 1\n\ny = 2\n\nz = 3\n{code}\n\nafter\n\nmore"
    part, cut = shown_part(text, 10)
    assert cut and part == "intro\n\n{code}\nx = 1\n\ny = 2\n\nz = 3\n{code}"


def test_a_block_that_never_closes_leaves_the_text_whole() -> None:
    text = "intro\n\n{noformat}\nraw\n\nraw\n\nraw"
    assert shown_part(text, 10) == (text, False)


@pytest.mark.parametrize("repeats", [1, 3, 5, 12])
def test_what_a_notification_shows_is_the_same_as_from_the_whole_comment(repeats: int) -> None:
    comment = PARAGRAPH * repeats
    # No CPU budget: a loaded machine must not make one of them fall back to plain text.
    whole = truncate_for_slack(jira_to_mrkdwn(comment, budget=math.inf), COMMENT_LIMIT)
    shown = truncate_for_slack(
        jira_to_mrkdwn(comment, shown=COMMENT_LIMIT, budget=math.inf), COMMENT_LIMIT
    )
    assert shown == whole


def test_a_comment_cut_short_of_the_limit_says_there_is_more() -> None:
    # Markup that shrinks a lot when converted: the part converted shows less than the limit.
    comment = ("{color:red}x{color} " * 40 + "\n\n") * 40
    converted = jira_to_mrkdwn(comment, shown=200)
    assert converted.endswith("\n…")
    assert "{color" not in converted


def test_without_paragraphs_the_cut_falls_back_to_a_line_then_a_space() -> None:
    lines = "\n".join(f"line {n} of a long list" for n in range(200))
    part, cut = shown_part(lines, 100)
    assert cut and part.endswith("list") and 100 <= len(part) < 130
    one_line = "*unclosed " * 400
    part, cut = shown_part(one_line, 100)
    assert cut and part == "*unclosed " * 10 + "*unclosed"
