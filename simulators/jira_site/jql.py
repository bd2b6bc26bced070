"""A practical subset of JQL for the in-memory Jira: a tokenizer and a recursive-descent parser.

Grammar (keywords case-insensitive):

    query   := [or] [ORDER BY field [ASC|DESC] {, field [ASC|DESC]}]
    or      := and {OR and}
    and     := not {AND not}
    not     := NOT not | "(" or ")" | clause
    clause  := field (= | != | ~ | !~ | > | >= | < | <= | IN | NOT IN | IS | IS NOT) operand
    operand := word | "string" | function() | EMPTY | NULL | "(" operand {, operand} ")"

Rows are matched through plain mappings (`JqlRow`), so this module knows nothing of issues.
Errors are `JiraBadRequest` with the wording Jira uses, as the real search would raise them.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from clients.jira_client import JiraBadRequest

_ALIASES = {
    "issuekey": "key",
    "id": "key",
    "type": "issuetype",
    "components": "component",
    "label": "labels",
    "createddate": "created",
    "updateddate": "updated",
}
_VALUE_FIELDS = {"key", "project", "status", "statuscategory", "issuetype", "priority"}
_VALUE_FIELDS |= {"resolution", "labels", "component", "assignee", "reporter"}
_TEXT_FIELDS = {"summary", "description", "comment", "text", "environment"}
_DATE_FIELDS = {"created", "updated"}
_OPERATORS = {
    "value": {"=", "!=", "in", "not in", "is", "is not"},
    "text": {"~", "!~", "is", "is not"},
    "date": {"=", "!=", ">", ">=", "<", "<=", "is", "is not"},
}
_DATE_FORMATS = ("%Y/%m/%d %H:%M", "%Y-%m-%d %H:%M", "%Y/%m/%d", "%Y-%m-%d")
_PERIOD = re.compile(r"^([-+]?)((?:\d+[wdhm]\s*)+)$")
_TOKEN = re.compile(
    r"""\s*(?:(?P<string>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')
    |(?P<op>!=|!~|>=|<=|=|~|<|>)|(?P<punct>[(),])|(?P<word>[^\s()=,!~<>"']+))""",
    re.VERBOSE,
)

Predicate = Callable[["JqlRow"], bool]


@dataclass(frozen=True, slots=True)
class JqlRow:
    """What a query can see of one issue; `values` hold lower-case strings, () is EMPTY."""

    ref: str  # lets the caller map a matched row back to its issue
    values: Mapping[str, tuple[str, ...]]
    texts: Mapping[str, str]
    dates: Mapping[str, datetime | None]
    sort: Mapping[str, str | float]


@dataclass(frozen=True, slots=True)
class JqlContext:
    now: datetime
    current_user: str
    # Lower-case values that exist, per field; a field without an entry is not validated.
    known: Mapping[str, frozenset[str]] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class JqlQuery:
    predicate: Predicate
    order_by: tuple[tuple[str, bool], ...]  # (field, descending)
    bounded: bool = True  # False when nothing restricts the query (e.g. only ORDER BY)

    def apply(self, rows: Sequence[JqlRow]) -> list[JqlRow]:
        found = [row for row in rows if self.predicate(row)]
        for name, descending in reversed(self.order_by):  # stable sorts, last key first
            found.sort(key=_sort_key(name), reverse=descending)
        return found


@dataclass(frozen=True, slots=True)
class _Token:
    kind: str  # "string", "op", "punct", "word", "end"
    text: str

    def is_word(self, *words: str) -> bool:
        return self.kind == "word" and self.text.lower() in words


def parse_jql(jql: str, context: JqlContext) -> JqlQuery:
    return _Parser(_tokenize(jql), context).parse()


def _tokenize(jql: str) -> list[_Token]:
    tokens, position, text = [], 0, jql.rstrip()
    while position < len(text):
        match = _TOKEN.match(text, position)
        if match is None or match.end() == position:
            raise _syntax_error(f"unexpected character at {position}.")
        kind = match.lastgroup or "word"
        value = match.group(kind)
        if kind == "string":
            value = re.sub(r"\\(.)", r"\1", value[1:-1])
        tokens.append(_Token(kind, value))
        position = match.end()
    tokens.append(_Token("end", ""))
    return tokens


class _Parser:
    def __init__(self, tokens: list[_Token], context: JqlContext) -> None:
        self._tokens = tokens
        self._at = 0
        self._context = context

    def parse(self) -> JqlQuery:
        predicate: Predicate = _match_all
        bounded = not (self._peek().kind == "end" or self._peek().is_word("order"))
        if bounded:
            predicate = self._or()
        order: list[tuple[str, bool]] = []
        if self._peek().is_word("order"):
            self._next()
            self._expect_word("by")
            order.append(self._order_item())
            while self._peek() == _Token("punct", ","):
                self._next()
                order.append(self._order_item())
        if self._peek().kind != "end":
            raise _syntax_error(f"Expecting either 'OR' or 'AND' but got '{self._peek().text}'.")
        return JqlQuery(predicate, tuple(order), bounded)

    def _peek(self) -> _Token:
        return self._tokens[self._at]

    def _next(self) -> _Token:
        token = self._tokens[self._at]
        self._at = min(self._at + 1, len(self._tokens) - 1)
        return token

    def _expect_word(self, word: str) -> None:
        if not self._next().is_word(word):
            raise _syntax_error(f"Expecting '{word.upper()}'.")

    def _expect_punct(self, text: str) -> None:
        if self._next() != _Token("punct", text):
            raise _syntax_error(f"Expecting '{text}'.")

    def _order_item(self) -> tuple[str, bool]:
        name = _canonical(self._next().text)
        if name not in _VALUE_FIELDS | _DATE_FIELDS | {"summary"}:
            raise JiraBadRequest(f"Not able to sort using field '{name}'.")
        descending = self._peek().is_word("desc")
        if self._peek().is_word("asc", "desc"):
            self._next()
        return name, descending

    def _or(self) -> Predicate:
        parts = [self._and()]
        while self._peek().is_word("or"):
            self._next()
            parts.append(self._and())
        return parts[0] if len(parts) == 1 else lambda row: any(p(row) for p in parts)

    def _and(self) -> Predicate:
        parts = [self._not()]
        while self._peek().is_word("and"):
            self._next()
            parts.append(self._not())
        return parts[0] if len(parts) == 1 else lambda row: all(p(row) for p in parts)

    def _not(self) -> Predicate:
        if self._peek().is_word("not"):
            self._next()
            inner = self._not()
            return lambda row: not inner(row)
        if self._peek() == _Token("punct", "("):
            self._next()
            inner = self._or()
            self._expect_punct(")")
            return inner
        return self._clause()

    def _clause(self) -> Predicate:
        token = self._next()
        if token.kind not in ("word", "string"):
            raise _syntax_error(f"Expecting a field name but got '{token.text}'.")
        name = _canonical(token.text)
        kind = _kind(name)
        operator = self._operator()
        if operator not in _OPERATORS[kind]:
            raise JiraBadRequest(
                f"The operator '{operator.upper()}' is not supported by the '{token.text}' field."
            )
        operands = self._operands(list_expected=operator in ("in", "not in"))
        if operator in ("is", "is not"):
            if operands != [None]:
                raise _syntax_error(f"Expecting 'EMPTY' after '{operator.upper()}'.")
            empty = _empty_test(kind, name)
            return empty if operator == "is" else lambda row: not empty(row)
        if kind == "text":
            return self._text_clause(name, operator, operands)
        if kind == "date":
            return self._date_clause(name, operator, operands)
        return self._value_clause(name, operator, operands)

    def _operator(self) -> str:
        token = self._next()
        if token.kind == "op":
            return token.text
        if token.is_word("in", "is"):
            if token.is_word("is") and self._peek().is_word("not"):
                self._next()
                return "is not"
            return token.text.lower()
        if token.is_word("not") and self._peek().is_word("in"):
            self._next()
            return "not in"
        raise _syntax_error(f"Expecting an operator but got '{token.text}'.")

    def _operands(self, *, list_expected: bool) -> list[str | None]:
        if self._peek() != _Token("punct", "("):
            if list_expected:
                raise _syntax_error("Expecting '(' after 'IN'.")
            return [self._operand()]
        self._next()
        values = [self._operand()]
        while self._peek() == _Token("punct", ","):
            self._next()
            values.append(self._operand())
        self._expect_punct(")")
        return values

    def _operand(self) -> str | None:
        token = self._next()
        if token.kind == "string":
            return token.text
        if token.kind != "word":
            raise _syntax_error(f"Expecting a value but got '{token.text}'.")
        if token.is_word("empty", "null"):
            return None
        if self._peek() == _Token("punct", "("):  # a function call such as currentUser()
            self._next()
            self._expect_punct(")")
            return self._function(token.text)
        return token.text

    def _function(self, name: str) -> str:
        if name.lower() == "currentuser":
            return self._context.current_user
        if name.lower() == "now":
            return self._context.now.strftime("%Y-%m-%d %H:%M")
        raise JiraBadRequest(f"Unable to find JQL function '{name}()'.")

    def _value_clause(self, name: str, operator: str, operands: list[str | None]) -> Predicate:
        wanted = {self._checked(name, value) for value in operands}
        wanted_values = {value for value in wanted if value is not None}
        if operator in ("=", "in"):
            return lambda row: (
                _has_any(row, name, wanted_values) or (None in wanted and not row.values.get(name))
            )
        # Jira leaves out issues whose field is empty from `!=` and `NOT IN`.
        return lambda row: bool(row.values.get(name)) and not _has_any(row, name, wanted_values)

    def _checked(self, name: str, value: str | None) -> str | None:
        if value is None or (name == "resolution" and value.lower() == "unresolved"):
            return None
        lowered = value.lower()
        known = self._context.known.get(name)
        if known is not None and lowered not in known:
            if name == "key":
                raise JiraBadRequest(f"An issue with key '{value}' does not exist for field 'key'.")
            raise JiraBadRequest(f"The value '{value}' does not exist for the field '{name}'.")
        return lowered

    def _text_clause(self, name: str, operator: str, operands: list[str | None]) -> Predicate:
        query = operands[0] or ""
        phrase = query.strip().startswith('"') and query.strip().endswith('"')
        terms = re.findall(r"[\w*]+", query.lower())

        def matches(row: JqlRow) -> bool:
            text = row.texts.get(name, "").lower()
            if phrase:
                return query.strip().strip('"').lower() in text
            words = re.findall(r"\w+", text)
            return bool(terms) and all(
                any(word.startswith(term.rstrip("*")) for word in words) for term in terms
            )

        return matches if operator == "~" else lambda row: not matches(row)

    def _date_clause(self, name: str, operator: str, operands: list[str | None]) -> Predicate:
        bound = self._date(name, operands[0])
        compare: dict[str, Callable[[datetime], bool]] = {
            "=": lambda value: value == bound,
            "!=": lambda value: value != bound,
            ">": lambda value: value > bound,
            ">=": lambda value: value >= bound,
            "<": lambda value: value < bound,
            "<=": lambda value: value <= bound,
        }
        test = compare[operator]

        def matches(row: JqlRow) -> bool:
            value = row.dates.get(name)
            return value is not None and test(value)

        return matches

    def _date(self, name: str, text: str | None) -> datetime:
        text = (text or "").strip()
        period = _PERIOD.match(text)
        if period:
            units = {"w": "weeks", "d": "days", "h": "hours", "m": "minutes"}
            delta = timedelta()
            for amount, unit in re.findall(r"(\d+)([wdhm])", period.group(2)):
                delta += timedelta(**{units[unit]: int(amount)})
            return (
                self._context.now - delta if period.group(1) == "-" else self._context.now + delta
            )
        for pattern in _DATE_FORMATS:
            try:
                return datetime.strptime(text, pattern).replace(tzinfo=UTC)
            except ValueError:
                continue
        raise JiraBadRequest(
            f"Date value '{text}' for field '{name}' is invalid. Valid formats include: "
            "'yyyy/MM/dd HH:mm', 'yyyy-MM-dd HH:mm', 'yyyy/MM/dd', 'yyyy-MM-dd', "
            "or a period format e.g. '-5d', '4w 2d'."
        )


def _syntax_error(message: str) -> JiraBadRequest:
    return JiraBadRequest(f"Error in the JQL Query: {message}")


def _sort_key(name: str) -> Callable[[JqlRow], str | float]:
    return lambda row: row.sort.get(name, "")


def _match_all(row: JqlRow) -> bool:
    return True


def _canonical(name: str) -> str:
    lowered = name.lower()
    return _ALIASES.get(lowered, lowered)


def _kind(name: str) -> str:
    if name in _VALUE_FIELDS:
        return "value"
    if name in _TEXT_FIELDS:
        return "text"
    if name in _DATE_FIELDS:
        return "date"
    raise JiraBadRequest(f"Field '{name}' does not exist or you do not have permission to view it.")


def _has_any(row: JqlRow, name: str, wanted: set[str]) -> bool:
    return any(value in wanted for value in row.values.get(name, ()))


def _empty_test(kind: str, name: str) -> Predicate:
    if kind == "text":
        return lambda row: not row.texts.get(name)
    if kind == "date":
        return lambda row: row.dates.get(name) is None
    return lambda row: not row.values.get(name)
