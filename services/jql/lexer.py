"""JQL text → tokens, in one linear pass: quoted strings with JQL's escapes, operators,
brackets, commas, and the bare words between them.

The lexer is stricter than Jira where the two could disagree on where a token ends: a bare
word holds no quote, bracket, comma, operator, `&`, `|` or backslash, and a quoted string
knows only the escapes JQL defines (`\\t \\n \\r \\" \\' \\\\ \\ ` and `\\uXXXX`). So the
text Connect re-serialises from the tokens reads to Jira exactly as it reads to Connect.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

MAX_JQL_LENGTH = 2_000

_STRING_BODY = r"""(?:[^{q}\\\r\n]|\\(?:[tnr"'\\ ]|u[0-9a-fA-F]{{4}}))*"""
_TOKEN = re.compile(
    r"(?P<space>\s+)"
    rf'|(?P<string>"{_STRING_BODY.format(q=chr(34))}"|\'{_STRING_BODY.format(q=chr(39))}\')'
    r"|(?P<op>!=|!~|>=|<=|=|~|<|>)"
    r"|(?P<logic>&&|\|\||&|\||!)"
    r"|(?P<punct>[(),])"
    r"""|(?P<word>[^\s()"',=!~<>&|\\\x00-\x1f\x7f]+)"""
)
_ESCAPES = {"t": "\t", "n": "\n", "r": "\r", '"': '"', "'": "'", "\\": "\\", " ": " "}
_ESCAPE = re.compile(r"\\(u[0-9a-fA-F]{4}|.)")
_LOGIC = {"&&": "and", "&": "and", "||": "or", "|": "or", "!": "not"}


class JqlSyntaxError(ValueError):
    """Text that is not JQL Connect can pass on; the message is fit to show (not escaped)."""


@dataclass(frozen=True, slots=True)
class Token:
    kind: str  # "string", "word", "op", "(", ")", ",", "end"
    text: str  # a string's value (unescaped); an operator or word as typed
    position: int

    def is_word(self, *words: str) -> bool:
        return self.kind == "word" and self.text.lower() in words


def tokenize(text: str, max_length: int | None = MAX_JQL_LENGTH) -> list[Token]:
    """`max_length` None for JQL Connect builds itself (a poll's `key in (…)`), which Jira
    takes at any length."""
    if max_length is not None and len(text) > max_length:
        raise JqlSyntaxError(f"JQL is limited to {max_length:,} characters.")
    tokens: list[Token] = []
    position = 0
    while position < len(text):
        match = _TOKEN.match(text, position)
        if match is None:
            raise JqlSyntaxError(_stuck_at(text, position))
        kind, value = match.lastgroup or "space", match.group()
        if kind == "string":
            tokens.append(Token("string", _unescape(value[1:-1]), position))
        elif kind == "logic":  # `&&`, `||` and `!` are JQL's other spelling of AND, OR, NOT
            tokens.append(Token("word", _LOGIC[value], position))
        elif kind == "punct":
            tokens.append(Token(value, value, position))
        elif kind != "space":
            tokens.append(Token(kind, value, position))
        position = match.end()
    tokens.append(Token("end", "", len(text)))
    return tokens


def _unescape(body: str) -> str:
    def one(match: re.Match[str]) -> str:
        escape = match.group(1)
        return chr(int(escape[1:], 16)) if len(escape) == 5 else _ESCAPES[escape]

    return _ESCAPE.sub(one, body)


def _stuck_at(text: str, position: int) -> str:
    char = text[position]
    if char in "\"'":
        return (
            f"the quote at character {position + 1} is not closed on its line "
            "(or holds a backslash JQL does not know)."
        )
    shown = char if char.isprintable() else f"U+{ord(char):04X}"
    return f"JQL has no use for “{shown}” at character {position + 1}."
