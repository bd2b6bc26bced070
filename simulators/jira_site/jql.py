"""JQL for the in-memory Jira: Connect's own parser (services/jql) reads the text into a tree,
and the tree is evaluated here against issues seen as plain rows (`JqlRow`), so this module
knows nothing of issues and JQL has one reading, the one Connect's wall relies on.

Fields: key, project, status, statusCategory, issuetype, priority, resolution, labels,
component, assignee and reporter (=, !=, IN, NOT IN, IS [NOT] EMPTY); summary, description,
comment, text and environment (~, !~); created and updated (=, !=, <, <=, >, >=, with dates
or periods such as -5d). Functions: currentUser() and now(). Errors are `JiraBadRequest`
with the wording Jira uses, as the real search would raise them.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from clients.jira_client import JiraBadRequest
from services.jql import (
    Clause,
    Empty,
    Function,
    JqlSyntaxError,
    Junction,
    Node,
    Not,
    Operand,
    OrderItem,
    Value,
    ValueList,
)
from services.jql import parse_jql as parse_tree

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
class JqlSearch:
    """A query ready to run: its test of a row and its order."""

    predicate: Predicate
    order_by: tuple[tuple[str, bool], ...]  # (field, descending)
    bounded: bool = True  # False when nothing restricts the query (e.g. only ORDER BY)
    # Upper-case keys (or ids) a match must have one of, when an AND at the top says so.
    keys: frozenset[str] | None = None

    def apply(self, rows: Sequence[JqlRow]) -> list[JqlRow]:
        found = [row for row in rows if self.predicate(row)]
        for name, descending in reversed(self.order_by):  # stable sorts, last key first
            found.sort(key=_sort_key(name), reverse=descending)
        return found


def parse_jql(jql: str, context: JqlContext) -> JqlSearch:
    try:
        # Jira takes JQL of any length (a poll's `key in (…)` of 100 keys, for one).
        tree = parse_tree(jql, max_length=None)
    except JqlSyntaxError as error:
        raise _syntax_error(str(error)) from None
    evaluator = _Evaluator(context)
    predicate = _match_all if tree.where is None else evaluator.node(tree.where)
    order = tuple(evaluator.order_item(item) for item in tree.order_by)
    return JqlSearch(predicate, order, tree.where is not None, _listed_keys(tree.where))


class _Evaluator:
    def __init__(self, context: JqlContext) -> None:
        self._context = context

    def node(self, node: Node) -> Predicate:
        if isinstance(node, Clause):
            return self._clause(node)
        if isinstance(node, Not):
            inner = self.node(node.inner)
            return lambda row: not inner(row)
        parts = [self.node(part) for part in node.parts]
        if node.conjunction:
            return lambda row: all(part(row) for part in parts)
        return lambda row: any(part(row) for part in parts)

    def order_item(self, item: OrderItem) -> tuple[str, bool]:
        name = _canonical(item.field.text)
        if name not in _VALUE_FIELDS | _DATE_FIELDS | {"summary"}:
            raise JiraBadRequest(f"Not able to sort using field '{name}'.")
        return name, item.direction == "DESC"

    def _clause(self, clause: Clause) -> Predicate:
        name = _canonical(clause.field.text)
        kind = _kind(name)
        operator = clause.operator.lower()
        if operator not in _OPERATORS[kind] or clause.operand is None:
            raise JiraBadRequest(
                f"The operator '{clause.operator}' is not supported by the "
                f"'{clause.field.text}' field."
            )
        if operator in ("is", "is not"):
            empty = _empty_test(kind, name)
            return empty if operator == "is" else lambda row: not empty(row)
        operands = self._operands(clause.operand)
        if kind == "text":
            return self._text_clause(name, operator, operands)
        if kind == "date":
            return self._date_clause(name, operator, operands)
        return self._value_clause(name, operator, operands)

    def _operands(self, operand: Operand) -> list[str | None]:
        items = operand.items if isinstance(operand, ValueList) else (operand,)
        return [self._operand(item) for item in items]

    def _operand(self, item: Value | Empty | Function) -> str | None:
        if isinstance(item, Empty):
            return None
        if isinstance(item, Function):
            return self._function(item)
        return item.text

    def _function(self, function: Function) -> str:
        name = function.name.lower()
        if name in ("currentuser", "now") and function.args:
            raise JiraBadRequest(
                f"Function '{function.name}' expected '0' arguments but got '{len(function.args)}'."
            )
        if name == "currentuser":
            return self._context.current_user
        if name == "now":
            return self._context.now.strftime("%Y-%m-%d %H:%M")
        raise JiraBadRequest(f"Unable to find JQL function '{function.name}()'.")

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


def _listed_keys(where: Node | None) -> frozenset[str] | None:
    """The keys of a `key in (…)` or `key = …` that the whole query is an AND with."""
    parts = where.parts if isinstance(where, Junction) and where.conjunction else (where,)
    for part in parts:
        if not isinstance(part, Clause) or _canonical(part.field.text) != "key":
            continue
        if part.operator not in ("=", "IN") or part.operand is None:
            continue
        items = part.operand.items if isinstance(part.operand, ValueList) else (part.operand,)
        if all(isinstance(item, Value) for item in items):
            return frozenset(item.text.strip().upper() for item in items if isinstance(item, Value))
    return None
