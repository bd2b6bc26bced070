"""The parsed form of a JQL query, and its one way back to text.

The text is canonical: keywords in capitals, every string in double quotes with JQL's
escapes, every sub-expression of AND/OR/NOT in brackets. Trees are at most `MAX_NESTING`
deep (the parser sees to it), so walking them recursively is bounded.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_WORD = re.compile(r"""[^\s()"',=!~<>&|\\\x00-\x1f\x7f]+""")
_STRING_ESCAPES = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\r": "\\r", "\t": "\\t"}
_NEEDS_ESCAPE = re.compile(r'[\\"\x00-\x1f\x7f\u2028\u2029]')


@dataclass(frozen=True, slots=True)
class Value:
    text: str
    quoted: bool = False  # typed as a string: always serialised as one

    def jql(self) -> str:
        if not self.quoted and _WORD.fullmatch(self.text):
            return self.text
        return quote(self.text)


@dataclass(frozen=True, slots=True)
class Empty:
    def jql(self) -> str:
        return "EMPTY"


@dataclass(frozen=True, slots=True)
class Function:
    name: str
    args: tuple[Value, ...]

    def jql(self) -> str:
        return f"{self.name}({', '.join(arg.jql() for arg in self.args)})"


@dataclass(frozen=True, slots=True)
class ValueList:
    items: tuple[Value | Empty | Function, ...]

    def jql(self) -> str:
        return f"({', '.join(item.jql() for item in self.items)})"


Operand = Value | Empty | Function | ValueList


@dataclass(frozen=True, slots=True)
class Predicate:
    """A history operator's condition: `AFTER "2024-01-01"`, `BY currentUser()`, …"""

    word: str  # upper case: AFTER, BEFORE, BY, DURING, ON, FROM, TO
    operand: Operand

    def jql(self) -> str:
        return f"{self.word} {self.operand.jql()}"


@dataclass(frozen=True, slots=True)
class Clause:
    field: Value
    operator: str  # upper case: =, !=, ~, IN, NOT IN, IS NOT, WAS NOT IN, CHANGED, …
    operand: Operand | None  # None only for CHANGED
    predicates: tuple[Predicate, ...] = ()

    def jql(self) -> str:
        parts = [self.field.jql(), self.operator]
        if self.operand is not None:
            parts.append(self.operand.jql())
        parts.extend(predicate.jql() for predicate in self.predicates)
        return " ".join(parts)


@dataclass(frozen=True, slots=True)
class Not:
    inner: Node

    def jql(self) -> str:
        return f"NOT {_grouped(self.inner)}"


@dataclass(frozen=True, slots=True)
class Junction:
    conjunction: bool  # AND when True, OR when False
    parts: tuple[Node, ...]

    def jql(self) -> str:
        joiner = " AND " if self.conjunction else " OR "
        return joiner.join(_grouped(part) for part in self.parts)


Node = Clause | Not | Junction


@dataclass(frozen=True, slots=True)
class OrderItem:
    field: Value
    direction: str | None  # "ASC", "DESC" or None

    def jql(self) -> str:
        return f"{self.field.jql()} {self.direction}" if self.direction else self.field.jql()


@dataclass(frozen=True, slots=True)
class JqlQuery:
    where: Node | None
    order_by: tuple[OrderItem, ...] = ()

    def where_jql(self) -> str:
        return self.where.jql() if self.where is not None else ""

    def order_jql(self) -> str:
        return ", ".join(item.jql() for item in self.order_by)

    def jql(self) -> str:
        text = self.where_jql()
        if self.order_by:
            text = f"{text} ORDER BY {self.order_jql()}".strip()
        return text


def quote(text: str) -> str:
    """`text` as a JQL string literal that Jira reads back as exactly `text`."""
    return '"' + _NEEDS_ESCAPE.sub(_escaped, text) + '"'


def _escaped(match: re.Match[str]) -> str:
    char = match.group()
    return _STRING_ESCAPES.get(char) or f"\\u{ord(char):04x}"


def _grouped(node: Node) -> str:
    return node.jql() if isinstance(node, Clause) else f"({node.jql()})"
