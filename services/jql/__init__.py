"""JQL as Connect reads it: a linear lexer, a depth-bounded parser, one canonical
serialisation, and the `JIRA_PROJECTS` wall that every typed query is wrapped in."""

from services.jql.lexer import MAX_JQL_LENGTH, JqlSyntaxError
from services.jql.parser import MAX_NESTING, parse_jql
from services.jql.syntax import (
    Clause,
    Empty,
    Function,
    JqlQuery,
    Junction,
    Node,
    Not,
    Operand,
    OrderItem,
    Predicate,
    Value,
    ValueList,
    quote,
)
from services.jql.wall import JqlWall

__all__ = [
    "MAX_JQL_LENGTH",
    "MAX_NESTING",
    "Clause",
    "Empty",
    "Function",
    "JqlQuery",
    "JqlSyntaxError",
    "JqlWall",
    "Junction",
    "Node",
    "Not",
    "Operand",
    "OrderItem",
    "Predicate",
    "Value",
    "ValueList",
    "parse_jql",
    "quote",
]
