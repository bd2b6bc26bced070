"""An independent reading of the JQL Connect sends: does it stay inside the wall?

Deliberately not Connect's own lexer: a plain scan of double-quoted strings (backslash
escapes the next character) and brackets, as any JQL reader sees them."""

from __future__ import annotations

import re

_UNQUOTED_LOGIC = re.compile(r"\b(AND|OR|NOT)\b|&|\||!(?![=~])", re.IGNORECASE)


def outside_quotes(text: str) -> str:
    """`text` with every double-quoted string blanked out; fails on an unclosed quote."""
    kept, in_string, escaped = [], False, False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
            kept.append(" ")
        elif char == '"':
            in_string = True
            kept.append(" ")
        else:
            kept.append(char)
    assert not in_string, f"an unclosed quote in {text!r}"
    return "".join(kept)


def assert_inside_the_wall(jql: str, wall: str = "project in (OPS)") -> None:
    """`wall AND (…) [ORDER BY fields]`: the bracket after AND closes only at the end of the
    filter, and what follows is nothing but an ORDER BY of fields."""
    plain = outside_quotes(jql)
    assert "'" not in plain and "\\" not in plain, jql
    if plain == wall:
        return
    assert jql.startswith(wall + " "), jql
    rest = plain[len(wall) :]
    if rest.startswith(" AND ("):
        depth = 0
        for at, char in enumerate(rest):
            if char == "(":
                depth += 1
            elif char == ")":
                depth -= 1
                if depth == 0:
                    rest = rest[at + 1 :]
                    break
        else:
            raise AssertionError(f"the filter's bracket never closes: {jql!r}")
    assert rest == "" or rest.startswith(" ORDER BY "), jql
    tail = rest.removeprefix(" ORDER BY ")
    assert "(" not in tail and ")" not in tail and not _UNQUOTED_LOGIC.search(tail), jql
