"""Two shortcuts for pyparsing grammars that scan text character by character (jira2markdown's):
choosing among alternatives by the character at hand, and letting `SkipTo` jump over
characters where nothing it looks for can start. Neither changes what a grammar matches;
`tests/unit/test_markup.py` checks that against the grammars without them.

Both also keep a parse within a CPU-time budget (`cpu_budget`): pyparsing backtracks, and some
markup (unclosed list items, table cells, links) costs far more than its length."""

from __future__ import annotations

import re
import string
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from pyparsing import (
    And,
    CaselessKeyword,
    CaselessLiteral,
    Empty,
    FollowedBy,
    Keyword,
    LineEnd,
    LineStart,
    Literal,
    MatchFirst,
    NotAny,
    OneOrMore,
    Opt,
    Or,
    ParseBaseException,
    ParseElementEnhance,
    ParseException,
    ParseExpression,
    ParserElement,
    ParseResults,
    PrecededBy,
    QuotedString,
    SkipTo,
    StringEnd,
    StringStart,
    TokenConverter,
    White,
    Word,
    WordEnd,
    WordStart,
    ZeroOrMore,
)

# Zero-width conditions: they look, and consume nothing.
_CONDITIONS = (LineStart, StringStart, WordStart, WordEnd, PrecededBy, FollowedBy, NotAny, Empty)


class ParseBudgetExceeded(Exception):
    """A parse used up its CPU-time budget (`cpu_budget`). Not a pyparsing exception, so no
    alternative catches it: it ends the parse where it is."""


_BUDGET = threading.local()
_CHECK_EVERY = 32  # steps between looks at the clock (a look costs about a microsecond)


@contextmanager
def cpu_budget(seconds: float) -> Iterator[None]:
    """Within the block, a parse by this thread's FirstCharMatch and SkipTo shortcuts raises
    ParseBudgetExceeded once the thread has spent `seconds` of CPU time in it."""
    _BUDGET.deadline = time.thread_time() + seconds
    _BUDGET.steps = 0
    try:
        yield
    finally:
        _BUDGET.deadline = None


def _spend() -> None:
    deadline = getattr(_BUDGET, "deadline", None)
    if deadline is None:
        return
    steps = _BUDGET.steps
    _BUDGET.steps = steps + 1
    if steps % _CHECK_EVERY == 0 and time.thread_time() >= deadline:
        raise ParseBudgetExceeded()


# The characters FirstCharMatch chooses at: printable ASCII but whitespace.
CHOSEN_AT = string.ascii_letters + string.digits + string.punctuation


class FirstCharMatch(MatchFirst):
    """The first alternative that matches, as MatchFirst, but at a printable ASCII character
    other than whitespace (CHOSEN_AT) only the alternatives that can start with it are tried,
    in their order. `starts[i]` lists the characters of CHOSEN_AT alternative `i` can start
    with, or is None to try it everywhere; at any other character (whitespace, a line break,
    beyond ASCII) and at the end every alternative is tried."""

    def __init__(self, exprs: Sequence[ParserElement], starts: Sequence[str | None]) -> None:
        super().__init__(list(exprs))
        self._at = {
            char: MatchFirst(
                [
                    e
                    for e, start in zip(exprs, starts, strict=True)
                    if start is None or char in start
                ]
            )
            for char in CHOSEN_AT
        }

    def streamline(self) -> ParserElement:
        super().streamline()
        for choice in self._at.values():
            choice.streamline()
        return self

    def parseImpl(self, instring: str, loc: int, do_actions: bool = True) -> Any:
        _spend()
        choice = self._at.get(instring[loc]) if loc < len(instring) else None
        if choice is None:
            return super().parseImpl(instring, loc, do_actions)
        if not choice.exprs:
            raise ParseException(instring, loc, self.errmsg, self)
        return choice._parse(instring, loc, do_actions)


class _SkipToStops(SkipTo):
    """SkipTo that jumps over the characters where neither its target, nor what it ignores,
    nor what fails it can start (`_stop_chars` lists those that can; at the end of the text
    everything is tried). pyparsing's own loop otherwise, which tries all three at every
    character."""

    def __init__(
        self,
        other: ParserElement,
        *,
        include: bool,
        ignore: ParserElement | str | None,
        fail_on: ParserElement | None,
        stop_chars: frozenset[str],
        stops: re.Pattern[str],
    ) -> None:
        super().__init__(other, include=include, ignore=ignore, fail_on=fail_on)
        self._stop_chars = stop_chars
        self._stops = stops

    def parseImpl(self, instring: str, loc: int, do_actions: bool = True) -> Any:
        startloc = loc
        instrlen = len(instring)
        expr_parse = self.expr._parse
        fails = self.failOn.can_parse_next if self.failOn is not None else None
        ignorer_try_parse = self.ignorer.try_parse if self.ignorer.ignoreExprs else None
        stop_chars, stops = self._stop_chars, self._stops

        tmploc = loc
        while tmploc <= instrlen:
            _spend()
            if tmploc < instrlen and instring[tmploc] not in stop_chars:
                found = stops.search(instring, tmploc)
                tmploc = found.start() if found else instrlen
            if fails is not None and fails(instring, tmploc):
                break
            if ignorer_try_parse is not None:
                prev_tmploc = tmploc
                while True:
                    try:
                        tmploc = ignorer_try_parse(instring, tmploc)
                    except ParseBaseException:
                        break
                    if tmploc == prev_tmploc:
                        break
                    prev_tmploc = tmploc
            try:
                expr_parse(instring, tmploc, do_actions=False, callPreParse=False)
            except (ParseException, IndexError):
                tmploc += 1
            else:
                break
        else:
            raise ParseException(instring, loc, self.errmsg, self)

        loc = tmploc
        skipresult = ParseResults(instring[startloc:loc])
        if self.includeMatch:
            loc, matched = expr_parse(instring, loc, do_actions, callPreParse=False)
            skipresult += matched
        return loc, skipresult


def skip_faster(grammar: ParserElement) -> ParserElement:
    """`grammar` with every SkipTo whose stops are known (see `first_chars`) replaced by a
    `_SkipToStops` built with SkipTo's public constructor, in the `exprs` and `expr` of the
    nodes that hold it (a SkipTo elsewhere, such as in an ignore list, is left as it is: slower,
    never different). The SkipTo nodes given are not changed; the grammar's others are, in
    place, so build it for this call."""
    replaced: dict[int, ParserElement] = {}
    for node in list(_nodes(grammar)):
        if type(node) is SkipTo:
            faster = _faster_skip(node)
            if faster is not None:
                replaced[id(node)] = faster
    if not replaced:
        return grammar
    for node in list(_nodes(grammar)):
        if isinstance(node, ParseExpression):
            node.exprs = [replaced.get(id(e), e) for e in node.exprs]
        elif isinstance(node, ParseElementEnhance) and id(node.expr) in replaced:
            node.expr = replaced[id(node.expr)]
    return replaced.get(id(grammar), grammar)


def _faster_skip(node: SkipTo) -> ParserElement | None:
    """A `_SkipToStops` that matches as `node` does, or None when its stops are not known (or
    it skips ignorables before it starts: jira2markdown's never do)."""
    if node.ignoreExprs:
        return None
    looked_for = [node.expr, *node.ignorer.ignoreExprs]
    if node.failOn is not None:
        looked_for.append(node.failOn)
    starts = [first_chars(expr) for expr in looked_for]
    if any(start is None for start in starts):
        return None
    stop_chars = frozenset().union(*(start for start in starts if start is not None))
    stops = "[" + "".join(re.escape(c) for c in sorted(stop_chars)) + "]"
    faster = _SkipToStops(
        node.expr,
        include=node.includeMatch,
        ignore=node.ignoreExpr,
        fail_on=node.failOn,
        stop_chars=stop_chars,
        stops=re.compile(stops if stop_chars else r"(?!)"),
    )
    if node.skipWhitespace:
        faster.set_whitespace_chars(node.whiteChars, copy_defaults=node.copyDefaultWhiteChars)
    else:
        faster.leave_whitespace(recursive=False)
    if node.parseAction:
        faster.set_parse_action(*node.parseAction, call_during_try=node.callDuringTry)
    if node.failAction is not None:
        faster.set_fail_action(node.failAction)
    if node.customName is not None:
        faster.set_name(node.customName)
    if node.resultsName:
        return faster.set_results_name(node.resultsName, list_all_matches=not node.modalResults)
    return faster


def _nodes(root: ParserElement) -> Iterable[ParserElement]:
    seen: set[int] = set()
    pending = [root]
    while pending:
        node = pending.pop()
        if node is None or id(node) in seen or not isinstance(node, ParserElement):
            continue
        seen.add(id(node))
        yield node
        pending.extend(node.ignoreExprs)
        if isinstance(node, ParseExpression):
            pending.extend(node.exprs)
        elif isinstance(node, ParseElementEnhance):
            pending.append(node.expr)
        if isinstance(node, SkipTo):
            pending.extend([node.failOn, *node.ignorer.ignoreExprs])
        if isinstance(node, FirstCharMatch):
            pending.extend(node._at.values())


def first_chars(expr: ParserElement) -> frozenset[str] | None:
    """The characters a match of `expr` can start with (it may also match at the end of the
    text); None when that is not known: a regex, a forward reference, an expression that may
    match nothing, or one that skips whitespace or ignorables first."""
    found = _first(expr)
    return found[0] if found is not None and not found[1] else None


def _first(expr: ParserElement) -> tuple[frozenset[str], bool] | None:
    """(what a match can start with, whether it may match nothing), or None if not known."""
    if expr.ignoreExprs or (expr.skipWhitespace and expr.whiteChars):
        return None
    if isinstance(expr, _CONDITIONS):
        return frozenset(), True
    if isinstance(expr, (Opt, ZeroOrMore)):
        inner = _first(expr.expr)
        return None if inner is None else (inner[0], True)
    if isinstance(expr, (TokenConverter, OneOrMore)):
        return _first(expr.expr)
    if isinstance(expr, And):
        chars: frozenset[str] = frozenset()
        for part in expr.exprs:
            found = _first(part)
            if found is None:
                return None
            chars |= found[0]
            if not found[1]:
                return chars, False
        return chars, True
    if isinstance(expr, (MatchFirst, Or)):
        alternatives = [_first(e) for e in expr.exprs]
        if not alternatives or any(a is None for a in alternatives):
            return None
        known = [a for a in alternatives if a is not None]
        return frozenset().union(*(a[0] for a in known)), any(a[1] for a in known)
    token = _token_first(expr)
    return None if token is None else (token, False)


def _token_first(expr: ParserElement) -> frozenset[str] | None:
    if isinstance(expr, (CaselessLiteral, CaselessKeyword)):
        first = expr.match[:1]
        return frozenset({first.lower(), first.upper()}) if first else None
    if isinstance(expr, (Literal, Keyword)):
        first = expr.match[:1]
        if not first:
            return None
        caseless = getattr(expr, "caseless", False)
        return frozenset({first.lower(), first.upper()}) if caseless else frozenset(first)
    if isinstance(expr, Word):
        return frozenset(expr.init_chars)
    if isinstance(expr, White):
        return frozenset(expr.matchWhite)
    if isinstance(expr, QuotedString):
        return frozenset(expr.quote_char[:1]) or None
    if isinstance(expr, LineEnd):
        return frozenset("\n")
    if isinstance(expr, StringEnd):
        return frozenset()
    return None  # a regex, a forward reference, SkipTo, anything else
