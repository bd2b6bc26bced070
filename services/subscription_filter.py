"""Subscription filters evaluated against what Connect already knows of an issue.

The subset of JQL most filters use: the fields project, status, priority, type, labels,
assignee, reporter and component; the operators `=`, `!=`, `IN`, `NOT IN`; `AND`, `OR` and
parentheses; values as words, quoted strings or `EMPTY`. `compile_filter` returns None for
anything else (functions, other fields, `~`, dates, `NOT`, ids, e-mail addresses), and the
caller asks Jira instead.

Evaluation is three-valued: a field the snapshot does not carry is unknown (None), and so is
any answer that depends on it — then Jira is asked too.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

# What an issue shows a filter: lower-case values per field; () is EMPTY, None is unknown.
IssueValues = Mapping[str, tuple[str, ...] | None]

FIELDS = frozenset(
    {"project", "status", "priority", "issuetype", "labels", "assignee", "reporter", "component"}
)
_ALIASES = {"type": "issuetype", "components": "component"}
# Jira accepts ids for these; Connect's snapshots carry names, so an id is left to Jira.
_NAMED_FIELDS = frozenset({"project", "status", "priority", "issuetype"})
_PEOPLE = frozenset({"assignee", "reporter"})
_TOKEN = re.compile(
    r"""\s*(?:(?P<string>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')|(?P<op>!=|=)|(?P<punct>[(),])
    |(?P<word>[^\s()=,!~<>"']+))""",
    re.VERBOSE,
)


class _NotLocal(Exception):
    """The filter uses something only Jira can evaluate."""


@dataclass(frozen=True, slots=True)
class Clause:
    field: str
    negated: bool  # `!=` / `NOT IN`
    values: frozenset[str | None]  # lower case; None is EMPTY

    def evaluate(self, issue: IssueValues) -> bool | None:
        have = issue.get(self.field)
        if have is None:
            return None
        found = any(value in self.values for value in have)
        if self.negated:  # Jira leaves issues whose field is empty out of `!=` and `NOT IN`
            return bool(have) and not found
        return found or (None in self.values and not have)


@dataclass(frozen=True, slots=True)
class Junction:
    conjunction: bool  # AND when True, OR when False
    parts: tuple[Filter, ...]

    def evaluate(self, issue: IssueValues) -> bool | None:
        answers = [part.evaluate(issue) for part in self.parts]
        decisive = not self.conjunction  # a False decides an AND, a True decides an OR
        if decisive in answers:
            return decisive
        if None in answers:
            return None
        return not decisive


Filter = Clause | Junction


def fields_of(node: Filter) -> frozenset[str]:
    if isinstance(node, Clause):
        return frozenset({node.field})
    return frozenset().union(*(fields_of(part) for part in node.parts))


def compile_filter(jql: str) -> Filter | None:
    """The filter as a tree Connect can evaluate, or None when only Jira can."""
    try:
        tokens = _tokenize(jql)
        parser = _Parser(tokens)
        node = parser.disjunction()
        if parser.peek() != ("end", ""):
            raise _NotLocal
        return node
    except _NotLocal:
        return None


def _tokenize(jql: str) -> list[tuple[str, str]]:
    tokens, position, text = [], 0, jql.strip()
    while position < len(text):
        match = _TOKEN.match(text, position)
        if match is None or match.end() == position:
            raise _NotLocal
        kind = match.lastgroup or "word"
        value = match.group(kind)
        if kind == "string":
            value = re.sub(r"\\(.)", r"\1", value[1:-1])
        tokens.append((kind, value))
        position = match.end()
    tokens.append(("end", ""))
    return tokens


class _Parser:
    def __init__(self, tokens: list[tuple[str, str]]) -> None:
        self._tokens = tokens
        self._at = 0

    def peek(self) -> tuple[str, str]:
        return self._tokens[self._at]

    def _next(self) -> tuple[str, str]:
        token = self._tokens[self._at]
        self._at = min(self._at + 1, len(self._tokens) - 1)
        return token

    def _at_word(self, word: str) -> bool:
        kind, text = self.peek()
        return kind == "word" and text.lower() == word

    def disjunction(self) -> Filter:
        parts = [self._conjunction()]
        while self._at_word("or"):
            self._next()
            parts.append(self._conjunction())
        return parts[0] if len(parts) == 1 else Junction(False, tuple(parts))

    def _conjunction(self) -> Filter:
        parts = [self._term()]
        while self._at_word("and"):
            self._next()
            parts.append(self._term())
        return parts[0] if len(parts) == 1 else Junction(True, tuple(parts))

    def _term(self) -> Filter:
        if self.peek() == ("punct", "("):
            self._next()
            inner = self.disjunction()
            if self._next() != ("punct", ")"):
                raise _NotLocal
            return inner
        return self._clause()

    def _clause(self) -> Clause:
        kind, name = self._next()
        if kind not in ("word", "string"):
            raise _NotLocal
        field = _ALIASES.get(name.lower(), name.lower())
        if field not in FIELDS:
            raise _NotLocal
        negated, listed = self._operator()
        values = self._values() if listed else [self._value()]
        for value in values:
            if value is not None and not _plain_value(field, value):
                raise _NotLocal
        lowered = frozenset(value.lower() if value is not None else None for value in values)
        return Clause(field, negated, lowered)

    def _operator(self) -> tuple[bool, bool]:
        """(negated, takes a list)."""
        kind, text = self._next()
        if kind == "op":
            return text == "!=", False
        if kind == "word" and text.lower() == "in":
            return False, True
        if kind == "word" and text.lower() == "not" and self._at_word("in"):
            self._next()
            return True, True
        raise _NotLocal

    def _values(self) -> list[str | None]:
        if self._next() != ("punct", "("):
            raise _NotLocal
        values = [self._value()]
        while self.peek() == ("punct", ","):
            self._next()
            values.append(self._value())
        if self._next() != ("punct", ")"):
            raise _NotLocal
        return values

    def _value(self) -> str | None:
        kind, text = self._next()
        if kind == "string":
            return text
        if kind != "word" or self.peek() == ("punct", "("):  # a function such as currentUser()
            raise _NotLocal
        if text.lower() in ("empty", "null"):
            return None
        if text.lower() in ("and", "or", "not", "in", "order"):
            raise _NotLocal
        return text


def _plain_value(field: str, value: str) -> bool:
    """Values a snapshot can be compared with: names, not ids or e-mail addresses."""
    if field in _NAMED_FIELDS and value.strip().isdigit():
        return False
    return not (field in _PEOPLE and "@" in value)


def subscription_jql(project_key: str | None, jql: str | None) -> str | None:
    """The JQL a subscription stands for: its project and its filter, both when given."""
    parts = [f'project = "{project_key}"'] if project_key else []
    if jql:
        parts.append(f"({jql})")
    return " AND ".join(parts) or None
