"""Subscription filters evaluated against what Connect already knows of an issue.

Filters are read by Connect's one JQL parser (`services.jql`). Evaluated here is the subset
most filters use: the fields project, status, priority, type, labels, assignee, reporter and
component; the operators `=`, `!=`, `IN`, `NOT IN`; `AND`, `OR` and
parentheses; values as words, quoted strings or `EMPTY`. `compile_filter` returns None for
anything else (functions, other fields, `~`, dates, `NOT`, ids, e-mail addresses), and the
caller asks Jira instead.

Evaluation is three-valued: a field the snapshot does not carry is unknown (None), and so is
any answer that depends on it — then Jira is asked too.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from services import jql

# What an issue shows a filter: lower-case values per field; () is EMPTY, None is unknown.
IssueValues = Mapping[str, tuple[str, ...] | None]

FIELDS = frozenset(
    {"project", "status", "priority", "issuetype", "labels", "assignee", "reporter", "component"}
)
_ALIASES = {"type": "issuetype", "components": "component"}
# Jira accepts ids for these; Connect's snapshots carry names, so an id is left to Jira.
_NAMED_FIELDS = frozenset({"project", "status", "priority", "issuetype"})
_PEOPLE = frozenset({"assignee", "reporter"})
_LOCAL_OPERATORS = {  # operator -> (negated, takes a list)
    "=": (False, False),
    "!=": (True, False),
    "IN": (False, True),
    "NOT IN": (True, True),
}


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


def compile_filter(text: str) -> Filter | None:
    """The filter as a tree Connect can evaluate, or None when only Jira can (or it is not
    JQL Connect reads: that filter is the caller's to refuse)."""
    try:
        query = jql.parse_jql(text)
    except jql.JqlSyntaxError:
        return None
    if query.where is None or query.order_by:
        return None
    return local_filter(query.where)


def local_filter(node: jql.Node) -> Filter | None:
    try:
        return _local(node)
    except _NotLocal:
        return None


def _local(node: jql.Node) -> Filter:
    """Bounded: the parser keeps trees `jql.MAX_NESTING` deep at most."""
    if isinstance(node, jql.Junction):
        return Junction(node.conjunction, tuple(_local(part) for part in node.parts))
    if isinstance(node, jql.Not):
        raise _NotLocal
    name = node.field.text.lower()
    field = _ALIASES.get(name, name)
    if field not in FIELDS or node.operator not in _LOCAL_OPERATORS or node.predicates:
        raise _NotLocal
    negated, listed = _LOCAL_OPERATORS[node.operator]
    operand = node.operand
    items = operand.items if isinstance(operand, jql.ValueList) else (operand,)
    if listed != isinstance(operand, jql.ValueList):
        raise _NotLocal
    values: list[str | None] = []
    for item in items:
        if isinstance(item, jql.Empty):
            values.append(None)
        elif isinstance(item, jql.Value) and _plain_value(field, item.text):
            values.append(item.text.lower())
        else:  # a function such as currentUser(), an id or an e-mail address
            raise _NotLocal
    return Clause(field, negated, frozenset(values))


def _plain_value(field: str, value: str) -> bool:
    """Values a snapshot can be compared with: names, not ids or e-mail addresses."""
    if field in _NAMED_FIELDS and value.strip().isdigit():
        return False
    return not (field in _PEOPLE and "@" in value)


def subscription_query(project_key: str | None, where: jql.Node | None) -> jql.JqlQuery:
    """What a subscription stands for: its project and its filter, both when given."""
    parts: list[jql.Node] = []
    if project_key:
        parts.append(jql.Clause(jql.Value("project"), "=", jql.Value(project_key, quoted=True)))
    if where is not None:
        parts.append(where)
    if len(parts) < 2:
        return jql.JqlQuery(parts[0] if parts else None)
    return jql.JqlQuery(jql.Junction(True, tuple(parts)))
