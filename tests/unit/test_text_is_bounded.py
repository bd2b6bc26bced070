"""Text conversions and scans do bounded work on any input (SPEC §10 "Text", issue #18 items
8, 9, 11). Their speed is the markup benchmark's; here: the same output as the regexes they
replace, inputs far past Slack's limit finish (they hung before), and Jira -> Slack converts
at most what can be shown and falls back to the escaped text when its CPU budget runs out."""

from __future__ import annotations

import math
import re
import threading
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from handlers.mentions import command_text
from handlers.payloads import MessageEvent
from handlers.previews import preview_keys
from services.commands import mentioned_users
from services.markup import escape_mrkdwn, mrkdwn_to_wiki, slack_to_plain_text, truncate_for_slack
from services.markup.jira_to_slack import MAX_WIKI_CHARS, jira_to_mrkdwn, jira_to_slack_markdown
from services.markup.slack_to_jira import _escape_plain, _format_spans
from services.policy import ConnectPolicy

PROPERTY = settings(
    max_examples=400,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
# Far past the 40,000 characters Slack sends: quadratic code takes minutes on these.
HUGE = 200_000
# Generous: the fixed code takes well under a second for any of these on a loaded machine.
FINISHES_WITHIN = 30.0


def finishes(work: Callable[[], Any]) -> Any:
    """`work()`'s result; the test fails if it is still running after FINISHES_WITHIN."""
    answer: list[Any] = []
    runner = threading.Thread(target=lambda: answer.append(work()), daemon=True)
    runner.start()
    runner.join(FINISHES_WITHIN)
    assert not runner.is_alive(), "still running: the work grows faster than the text"
    assert answer, "the work raised"
    return answer[0]


def huge(unit: str) -> str:
    return (unit * (HUGE // len(unit) + 1))[:HUGE]


# -- Slack -> Jira: the spans and escapes the regexes found, found by index --------------------

# The regexes the index-based pairing replaces: right, but quadratic on a long line.
_SLACK_SPAN = re.compile(r"(?<![\w\\])([*_~])(?!\s|\1)([^\n]*?\S)\1(?!\w)")
_MARKS = {"*": "\x01", "_": "\x02", "~": "\x03"}


def reference_spans(text: str) -> str:
    for _ in range(4):
        converted = _SLACK_SPAN.sub(lambda m: _MARKS[m[1]] + m[2] + _MARKS[m[1]], text)
        if converted == text:
            break
        text = converted
    return text


def reference_escaped_openers(text: str) -> list[int]:
    """Where `_escape_plain` puts a backslash: an opener with a closer later on its line."""
    found = []
    for opener in re.finditer(r"(?<![\w\\])([*_~+^-])(?=\S)", text):
        line_end = text.find("\n", opener.end())
        rest = text[opener.end() : line_end if line_end >= 0 else None]
        if re.search(rf"\S{re.escape(opener[1])}(?!\w)", rest):
            found.append(opener.start())
    return found


SLACK_PIECES = st.sampled_from(
    [
        *"*_~-+^! \n\\ab1é\u00a0\x1c\t",
        *("x*", "*y", "_z_", "~w~", "*b*", "`c`", "<@U1>", "&gt;", "{", "(y)", "(", "!i!"),
    ]
)
SLACK_TEXT = st.lists(SLACK_PIECES, max_size=40).map("".join)


@PROPERTY
@given(SLACK_TEXT)
def test_spans_pair_as_the_regex_paired_them(text: str) -> None:
    assert _format_spans(text) == reference_spans(text)


@PROPERTY
@given(SLACK_TEXT)
def test_escapes_fall_where_the_regex_put_them(text: str) -> None:
    escaped = _escape_plain(text)
    # Only the opener escapes are in question here: compare on text the other escapes skip.
    if not re.search(r"[\\{\[!(]", text):
        expected = list(text)
        for at in reversed(reference_escaped_openers(text)):
            expected.insert(at, "\\")
        assert escaped == "".join(expected)


@pytest.mark.parametrize(
    "unit", ["_x ", "*a ", "_*~x ", "~c ", "-d ", "!f ", "`f ", "```a```\n", "\\*", "<@U1|"]
)
def test_slack_text_far_past_slacks_limit_converts(unit: str) -> None:
    text = huge(unit)
    converted = finishes(lambda: mrkdwn_to_wiki(text))
    plain = finishes(lambda: slack_to_plain_text(text))
    letters = re.sub(r"[^a-zU1]", "", unit)
    if letters:
        assert converted.count(letters[0]) == plain.count(letters[0]) == text.count(letters[0])


def test_unclosed_spans_stay_as_typed() -> None:
    assert mrkdwn_to_wiki("_x " * 13_333) == "_x " * 13_333
    assert mrkdwn_to_wiki("~gone~ " + "*a " * 5) == "-gone- " + "*a " * 5


# -- scans on the ack path ---------------------------------------------------------------------

POLICY = ConnectPolicy(allowed_projects=frozenset({"OPS"}), jira_base_url="https://jira.x.com")


def preview(text: str) -> list[str]:
    event = {"type": "message", "channel": "C1", "ts": "1.1", "user": "U1", "text": text}
    return preview_keys(MessageEvent.model_validate(event), bot_user_id="UBOT", policy=POLICY)


@pytest.mark.parametrize("unit", ["<http:", "<mailto:", "<https://a|", "<http://a|<b"])
def test_link_scanning_is_bounded(unit: str) -> None:
    assert finishes(lambda: preview(huge(unit) + " OPS-1")) == []  # past what is scanned
    assert finishes(lambda: preview(unit * (39_000 // len(unit)) + " OPS-1")) == ["OPS-1"]


def test_links_are_still_read_as_links() -> None:
    assert preview("see <https://x.com/OPS-9|OPS-1> and <https://jira.x.com/browse/OPS-2>") == [
        "OPS-1"
    ]
    assert preview("<mailto:a@b.c|mail OPS-3> <http:OPS-4") == ["OPS-3", "OPS-4"]


def test_mention_and_truncation_scans_are_bounded() -> None:
    assert finishes(lambda: mentioned_users(huge("<@U1|"))) == []
    assert finishes(lambda: mentioned_users("<@U1|" * 100 + "<@U2|bob>")) == ["U2"]
    for bot in ("UBOT", None):  # an @-mention of Connect: the text after the mention
        unclosed = huge("<@UBOT|") + " help"
        assert finishes(lambda bot=bot, text=unclosed: command_text(text, bot)) == unclosed
        assert command_text("<@UBOT|" * 100 + "<@UBOT> help", bot) == "<@UBOT|" * 100 + " help"
    for unit in ("[a", "[](", "[a](b"):
        cut = finishes(lambda unit=unit: truncate_for_slack(huge(unit), 3000))
        assert len(cut) <= 3000 and cut.endswith("…")
    # A Markdown link is still kept whole (or left out), an unmatched `[` before it or not.
    for limit in range(20, 40):
        cut = truncate_for_slack("x " * 10 + "[a [b](http://c) d", limit)
        assert "[b](" not in cut or "[b](http://c)" in cut


# -- Jira -> Slack: what can be shown, within a budget ------------------------------------------


@pytest.mark.parametrize(
    "unit", ["||a|", "{{a", "# a\n", "[a|", "*a ", "[~a", "a", "{code:", "{panel:a "]
)
def test_jira_converts_at_most_what_can_be_shown(unit: str) -> None:
    text = huge(unit)
    converted = finishes(lambda: jira_to_mrkdwn(text, budget=math.inf))
    assert converted == jira_to_mrkdwn(text[:MAX_WIKI_CHARS], budget=math.inf)
    shown = finishes(lambda: jira_to_mrkdwn(text, shown=1500, budget=math.inf))
    assert shown.endswith("\n…") and len(shown) <= len(converted) + 2
    assert finishes(lambda: jira_to_slack_markdown(text, budget=math.inf))


@pytest.mark.parametrize(
    "wiki", ["*bold* & <b>", "# one\n## two\n* three", "||a||\n|b|", "[x|http://y.z]\n\nend"]
)
def test_past_its_budget_jira_text_is_shown_as_typed_escaped(wiki: str) -> None:
    assert jira_to_mrkdwn(wiki, budget=0) == escape_mrkdwn(wiki)
    assert jira_to_slack_markdown(wiki, budget=0) == wiki
    # A parse cut short leaves nothing behind: the next conversion is what it always was.
    assert jira_to_mrkdwn(wiki) == jira_to_mrkdwn(wiki, budget=math.inf)


def test_a_jira_text_past_its_budget_is_still_cut_to_what_can_be_shown() -> None:
    text = huge("a <b> ")
    assert jira_to_mrkdwn(text, budget=0) == escape_mrkdwn(text[:MAX_WIKI_CHARS])
    shown = jira_to_mrkdwn(text, shown=1500, budget=0)
    assert shown.endswith("\n…") and len(shown) < 2 * MAX_WIKI_CHARS
