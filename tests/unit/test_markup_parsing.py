"""The parsing shortcuts' own rules; that they never change a conversion is checked against
the grammars without them in test_markup.py."""

from __future__ import annotations

import pytest
from pyparsing import (
    And,
    CaselessLiteral,
    Char,
    FollowedBy,
    Forward,
    LineEnd,
    LineStart,
    Literal,
    OneOrMore,
    Opt,
    ParserElement,
    PrecededBy,
    QuotedString,
    Regex,
    SkipTo,
    StringEnd,
    StringStart,
    Suppress,
    White,
    Word,
    ZeroOrMore,
)

from services.markup.parsing import FirstCharMatch, first_chars, skip_faster


@pytest.fixture(autouse=True)
def no_whitespace_skipping() -> None:
    ParserElement.set_default_whitespace_chars("")  # as jira2markdown sets it


@pytest.mark.parametrize(
    ("expr", "chars"),
    [
        (lambda: Literal("{code}"), "{"),
        (lambda: CaselessLiteral("rgba("), "rR"),
        (lambda: Word("#", "0123456789"), "#"),
        (lambda: Char("*-"), "*-"),
        (lambda: White().leave_whitespace(), " \t\r\n"),  # as inside Combine
        (lambda: QuotedString("{{", end_quote_char="}}"), "{"),
        (lambda: LineEnd(), "\n"),
        (lambda: StringEnd(), ""),
        (lambda: Literal("|") | LineEnd() | StringEnd(), "|\n"),
        (lambda: LineStart() + Opt(White().leave_whitespace()) + Literal("h1."), " \t\r\nh"),
        (lambda: (StringStart() | Opt(PrecededBy(" "))) + Literal("["), "["),
        (lambda: Suppress(OneOrMore(Literal("ab"))), "a"),
        (lambda: FollowedBy(Literal("x")) + Literal("-"), "-"),
    ],
)
def test_first_chars(expr: object, chars: str) -> None:
    assert first_chars(expr()) == frozenset(chars)  # type: ignore[operator]


@pytest.mark.parametrize(
    "expr",
    [
        lambda: Regex("[a-z]+"),  # a regex: not read
        lambda: Forward(),
        lambda: Opt(Literal("a")),  # may match nothing, anywhere
        lambda: ZeroOrMore(Literal("a")) + Opt(Literal("b")),
        lambda: SkipTo(Literal("a")),
        lambda: LineStart(),
        lambda: Literal("a").set_whitespace_chars(" "),  # skips spaces first
        lambda: White(),  # skips the whitespace it does not match (no-break space) first
    ],
)
def test_first_chars_unknown(expr: object) -> None:
    assert first_chars(expr()) is None  # type: ignore[operator]


def test_skip_to_jumps_only_where_it_may() -> None:
    row = Literal("|") + SkipTo(
        Literal("|") | LineEnd(), ignore=QuotedString("[", end_quote_char="]")
    )
    faster = skip_faster(
        Literal("|")
        + SkipTo(Literal("|") | LineEnd(), ignore=QuotedString("[", end_quote_char="]"))
    )
    for text in ["|abc|", "|a [b|c] d|", "|no end", "|x\ny|", "|"]:
        assert str(faster.parse_string(text)) == str(row.parse_string(text))
    assert isinstance(faster, And)
    assert type(faster.exprs[1]).__name__ == "_SkipToStops"
    unknown = skip_faster(SkipTo(Regex("[0-9]")))
    assert type(unknown) is SkipTo  # a regex target: left as it is


def test_first_char_match_tries_what_can_start_there() -> None:
    exprs = [Literal("*b*"), Word("abc"), Literal("*")]
    choice = FirstCharMatch(exprs, ["*", None, "*"])
    assert choice.parse_string("*b*")[0] == "*b*"
    assert choice.parse_string("*x")[0] == "*"
    assert choice.parse_string("abc")[0] == "abc"
    lying = FirstCharMatch(exprs, ["", None, "*"])  # says *b* never starts with `*`
    assert lying.parse_string("*b*")[0] == "*"


def test_skip_faster_builds_new_nodes_and_leaves_the_given_ones_as_they_are() -> None:
    """pyparsing's public API only: the SkipTo nodes of a grammar are replaced by new ones
    built with SkipTo's constructor, never re-classed in place, and keep their results name,
    parse action and whitespace handling."""

    def build() -> tuple[ParserElement, SkipTo, Forward]:
        skip = SkipTo(Literal("|") | LineEnd())("cell").set_parse_action(lambda t: t[0].upper())
        skip.leave_whitespace(recursive=False)
        shared = Forward()
        shared <<= Literal("|") + skip
        return And([Literal("["), shared, Opt(skip)]), skip, shared

    grammar, skip, shared = build()
    faster_grammar = skip_faster(grammar)
    assert type(skip) is SkipTo
    faster = shared.expr.exprs[1]
    assert type(faster).__name__ == "_SkipToStops"
    assert faster_grammar.exprs[2].expr is faster  # a node shared by two parents: one new node
    assert faster.resultsName == "cell" and not faster.skipWhitespace
    for text in ["[|ab|", "[|a b\n", "[|", "[|x|y"]:
        plain = build()[0].parse_string(text)
        parsed = faster_grammar.parse_string(text)
        assert parsed.as_list() == plain.as_list() and parsed.as_dict() == plain.as_dict()
    assert faster_grammar.parse_string("[|ab|").as_list()[:3] == ["[", "|", "AB"]
