"""Tokens → a `JqlQuery`, or `JqlSyntaxError` saying what is wrong and where.

    query     := [or] [ORDER BY item {, item}]          (ORDER BY once, at the very end)
    or        := and {OR and}
    and       := unary {AND unary}
    unary     := {NOT} ( "(" or ")" | clause )
    clause    := field operator [operand] {predicate}
    operator  := = | != | ~ | !~ | > | >= | < | <= | [NOT] IN | IS [NOT] | WAS [NOT] [IN] | CHANGED
    operand   := value | EMPTY | NULL | function | "(" item {, item} ")"
    predicate := (AFTER | BEFORE | BY | DURING | ON | FROM | TO) operand

Brackets and NOTs together nest at most `MAX_NESTING` deep (a `)` never takes the depth below
zero), so the descent is bounded however the text is built.
"""

from __future__ import annotations

from services.jql.lexer import MAX_JQL_LENGTH, JqlSyntaxError, Token, tokenize
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
)

MAX_NESTING = 30
# Words that are grammar, so never a field or a bare value (Jira wants them quoted).
KEYWORDS = frozenset(
    {"and", "or", "not", "in", "is", "was", "changed", "order", "by", "empty", "null"}
)
_PREDICATES = frozenset({"after", "before", "by", "during", "on", "from", "to"})
_COMPARISONS = frozenset({"=", "!=", "~", "!~", ">", ">=", "<", "<="})
_LISTS = frozenset({"IN", "NOT IN", "WAS IN", "WAS NOT IN"})


def parse_jql(text: str, *, max_length: int | None = MAX_JQL_LENGTH) -> JqlQuery:
    return _Parser(tokenize(text, max_length)).query()


class _Parser:
    def __init__(self, tokens: list[Token]) -> None:
        self._tokens = tokens
        self._at = 0
        self._depth = 0

    # -- tokens ---------------------------------------------------------------------------

    def _peek(self) -> Token:
        return self._tokens[self._at]

    def _next(self) -> Token:
        token = self._tokens[self._at]
        self._at = min(self._at + 1, len(self._tokens) - 1)
        return token

    def _expect(self, kind: str, what: str) -> Token:
        token = self._next()
        if token.kind != kind:
            raise _error(f"expected {what}", token)
        return token

    def _deeper(self, token: Token) -> None:
        self._depth += 1
        if self._depth > MAX_NESTING:
            raise _error(f"brackets and NOTs nest more than {MAX_NESTING} deep", token)

    # -- grammar --------------------------------------------------------------------------

    def query(self) -> JqlQuery:
        where = None
        if self._peek().kind != "end" and not self._peek().is_word("order"):
            where = self._or()
        order: list[OrderItem] = []
        if self._peek().is_word("order"):
            self._next()
            if not self._next().is_word("by"):
                raise _error("ORDER must be followed by BY", self._peek())
            order.append(self._order_item())
            while self._peek().kind == ",":
                self._next()
                order.append(self._order_item())
        end = self._peek()
        if end.kind == ")":
            raise _error("this closing bracket has no opening one", end)
        if end.kind != "end":
            raise _error("expected AND, OR or the end (ORDER BY comes once, at the end)", end)
        return JqlQuery(where, tuple(order))

    def _or(self) -> Node:
        parts = [self._and()]
        while self._peek().is_word("or"):
            self._next()
            parts.append(self._and())
        return parts[0] if len(parts) == 1 else Junction(False, tuple(parts))

    def _and(self) -> Node:
        parts = [self._unary()]
        while self._peek().is_word("and"):
            self._next()
            parts.append(self._unary())
        return parts[0] if len(parts) == 1 else Junction(True, tuple(parts))

    def _unary(self) -> Node:
        depth, negations = self._depth, 0
        while self._peek().is_word("not"):
            self._deeper(self._next())
            negations += 1
        if self._peek().kind == "(":
            opening = self._next()
            self._deeper(opening)
            node = self._or()
            closing = self._next()
            if closing.is_word("order"):
                raise _error("ORDER BY comes once, at the end, outside brackets", closing)
            if closing.kind != ")":
                raise _error("this bracket is not closed", opening)
        else:
            node = self._clause()
        for _ in range(negations):
            node = Not(node)
        self._depth = depth
        return node

    def _clause(self) -> Clause:
        name = self._next()
        if name.kind not in ("word", "string") or name.is_word(*KEYWORDS):
            raise _error("expected a field name", name)
        field = Value(name.text, quoted=name.kind == "string")
        operator = self._operator()
        if operator == "CHANGED":
            return Clause(field, operator, None, self._predicates())
        operand = self._operand()
        if operator in ("IS", "IS NOT") and not isinstance(operand, Empty):
            raise _error(f"{operator} takes EMPTY or NULL", name)
        if operator in _LISTS and isinstance(operand, (Value, Empty)):
            raise _error(f"{operator} takes a list in brackets", name)
        if operator not in _LISTS and isinstance(operand, ValueList):
            raise _error(f"{operator} takes one value, not a list", name)
        predicates = self._predicates() if operator.startswith("WAS") else ()
        return Clause(field, operator, operand, predicates)

    def _operator(self) -> str:
        token = self._next()
        if token.kind == "op":
            return token.text
        word = token.text.lower() if token.kind == "word" else ""
        if word == "in" or word == "changed":
            return word.upper()
        if word == "not" and self._peek().is_word("in"):
            self._next()
            return "NOT IN"
        if word == "is":
            return "IS NOT" if self._take_word("not") else "IS"
        if word == "was":
            negated = self._take_word("not")
            listed = self._take_word("in")
            return "WAS" + (" NOT" if negated else "") + (" IN" if listed else "")
        raise _error("expected an operator (=, !=, ~, IN, IS, WAS, CHANGED, …)", token)

    def _take_word(self, word: str) -> bool:
        if self._peek().is_word(word):
            self._next()
            return True
        return False

    def _predicates(self) -> tuple[Predicate, ...]:
        found = []
        while self._peek().is_word(*_PREDICATES):
            word = self._next().text.upper()
            found.append(Predicate(word, self._operand()))
        return tuple(found)

    def _operand(self) -> Operand:
        if self._peek().kind != "(":
            return self._item()
        opening = self._next()
        items = [self._item()]
        while self._peek().kind == ",":
            self._next()
            items.append(self._item())
        if self._next().kind != ")":
            raise _error("this list's bracket is not closed", opening)
        return ValueList(tuple(items))

    def _item(self) -> Value | Empty | Function:
        token = self._next()
        if token.kind == "string":
            return Value(token.text, quoted=True)
        if token.kind != "word" or token.is_word(*KEYWORDS - {"empty", "null"}):
            raise _error("expected a value", token)
        if token.is_word("empty", "null"):
            return Empty()
        if self._peek().kind != "(":
            return Value(token.text)
        self._next()
        args: list[Value] = []
        while self._peek().kind != ")":
            if args:
                self._expect(",", "a comma between a function's arguments")
            arg = self._next()
            if arg.kind not in ("word", "string"):
                raise _error(f"expected an argument of {token.text}()", arg)
            args.append(Value(arg.text, quoted=arg.kind == "string"))
        self._next()
        return Function(token.text, tuple(args))

    def _order_item(self) -> OrderItem:
        name = self._next()
        if name.kind not in ("word", "string") or name.is_word(*KEYWORDS):
            raise _error("expected a field to order by", name)
        direction = None
        if self._peek().is_word("asc", "desc"):
            direction = self._next().text.upper()
        return OrderItem(Value(name.text, quoted=name.kind == "string"), direction)


def _error(problem: str, token: Token) -> JqlSyntaxError:
    if token.kind == "end":
        return JqlSyntaxError(f"{problem}, but the JQL ends there.")
    shown = token.text if len(token.text) <= 30 else token.text[:29] + "…"
    return JqlSyntaxError(f"{problem} at character {token.position + 1} (“{shown}”).")
