"""`JIRA_PROJECTS` as a wall around the JQL a person types (SPEC §11).

What a person typed is parsed, never pasted: the query Jira gets is Connect's own clause
`project in (…)` AND the re-serialised filter in brackets, with the ORDER BY after both,
so no quote or bracket in the typed text can reach outside. `names_outside` finds the
projects and issue keys a filter names beyond the wall, which Connect refuses instead of
asking Jira (whose answer or error about them would tell something of what is hidden).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from services.issues.keys import parse_issue_key, project_of
from services.jql.lexer import JqlSyntaxError
from services.jql.parser import parse_jql
from services.jql.syntax import (
    Clause,
    Function,
    JqlQuery,
    Junction,
    Node,
    Not,
    Operand,
    Value,
    ValueList,
    quote,
)

_PROJECT_FIELDS = frozenset({"project"})
_TEXT_OPERATORS = frozenset({"~", "!~"})
_PLAIN_KEY = re.compile(r"^[A-Z][A-Z0-9_]*$")


@dataclass(frozen=True, slots=True)
class JqlWall:
    projects: frozenset[str]  # upper-case project keys; empty means no wall

    def clause(self) -> str:
        keys = (key if _PLAIN_KEY.match(key) else quote(key) for key in sorted(self.projects))
        return f"project in ({', '.join(keys)})"

    def wrap(self, query: JqlQuery) -> str:
        """`project in (…) AND (filter) ORDER BY …`: all the JQL Jira ever gets from Connect."""
        text = query.where_jql()
        if self.projects:
            text = f"{self.clause()} AND ({text})" if text else self.clause()
        if query.order_by:
            text = f"{text} ORDER BY {query.order_jql()}".strip()
        return text

    def allows_key(self, key: str) -> bool:
        return not self.projects or project_of(key) in self.projects

    def names_outside(
        self, query: JqlQuery, project_aliases: Callable[[], frozenset[str]]
    ) -> list[str]:
        """Projects and issue keys the filter names outside the wall, as typed.

        `project_aliases` gives the lower-case names and ids of the allowed projects; it is
        asked only when a project is named by something other than its key."""
        if not self.projects or query.where is None:
            return []
        outside: dict[str, None] = {}
        aliases: frozenset[str] | None = None  # asked once, and only when needed
        for clause in _clauses(query.where):
            if clause.field.text.lower() in _PROJECT_FIELDS:
                for value in _values(clause.operand):
                    if value.text.upper() in self.projects:
                        continue
                    aliases = project_aliases() if aliases is None else aliases
                    if value.text.strip().lower() not in aliases:
                        outside.setdefault(value.text, None)
            if clause.operator in _TEXT_OPERATORS:
                continue
            for value in _values(clause.operand, with_arguments=True):
                key = parse_issue_key(value.text)
                if key is not None and not self.allows_key(key):
                    outside.setdefault(value.text, None)
            for function in _functions(clause.operand):
                for argument in function.args:
                    outside.update(dict.fromkeys(self._inside_argument(argument)))
        return list(outside)

    def _inside_argument(self, argument: Value) -> list[str]:
        """A function that takes JQL (`issueFunction in subtasksOf("project = X")`) is
        held to the wall too; one level deep, keys only for what is nested further."""
        try:
            inner = parse_jql(argument.text)
        except JqlSyntaxError:
            return []
        if inner.where is None:
            return []
        named = []
        for clause in _clauses(inner.where):
            values = _values(clause.operand, with_arguments=True)
            if clause.field.text.lower() in _PROJECT_FIELDS:
                named += [v.text for v in values if v.text.upper() not in self.projects]
            elif clause.operator not in _TEXT_OPERATORS:
                keys = [(v.text, parse_issue_key(v.text)) for v in values]
                named += [text for text, key in keys if key and not self.allows_key(key)]
        return named


def _clauses(root: Node) -> Iterator[Clause]:
    stack: list[Node] = [root]
    while stack:
        node = stack.pop()
        if isinstance(node, Clause):
            yield node
        elif isinstance(node, Not):
            stack.append(node.inner)
        elif isinstance(node, Junction):
            stack.extend(reversed(node.parts))


def _values(operand: Operand | None, *, with_arguments: bool = False) -> list[Value]:
    items = operand.items if isinstance(operand, ValueList) else (operand,)
    found: list[Value] = []
    for item in items:
        if isinstance(item, Value):
            found.append(item)
        elif isinstance(item, Function) and with_arguments:
            found.extend(item.args)
    return found


def _functions(operand: Operand | None) -> list[Function]:
    items = operand.items if isinstance(operand, ValueList) else (operand,)
    return [item for item in items if isinstance(item, Function)]
