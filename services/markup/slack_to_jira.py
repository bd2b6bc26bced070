"""Slack mrkdwn (message text, slash-command text with `should_escape`) → Jira wiki markup
(API v2 descriptions and comments) that reads as the message did in Slack."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping

_NO_NAMES: Mapping[str, str] = {}

# Private placeholders, stripped from the input first: SET_ASIDE stands for an already rendered
# piece (a link, a mention, inline code); the others for formatting marks being converted.
_SET_ASIDE = "\x00"
_MARKS = {"*": "\x01", "_": "\x02", "~": "\x03"}
_JIRA_MARKS = str.maketrans({"\x01": "*", "\x02": "_", "\x03": "-"})
_PLACEHOLDERS = re.compile(r"[\x00-\x03]")
_FORMAT_MARKS = re.compile(r"[\x01-\x03]")
_LINE_BREAK = re.compile("\n")

_FENCE = re.compile(r"```(.*?)```", re.DOTALL)
_CODE = re.compile(r"```.*?```|`[^`\n]+`", re.DOTALL)
_ANGLE = re.compile(r"<([^<>\n]*)>")
_INLINE = re.compile(r"`(?P<code>[^`\n]+)`|<(?P<token>[^<>\n]*)>")
_ENTITY = re.compile(r"&(amp|lt|gt);")
_ENTITIES = {"amp": "&", "lt": "<", "gt": ">"}

_QUOTE = re.compile(r"^(?:&gt;|>)[ \t]?")
_QUOTE_REST = re.compile(r"^(?:&gt;|>){3}[ \t]?")
_BULLET = re.compile(r"^([ \t]*)([•◦▪▫‣∙·-])\ufe0e?[ \t]+(?=\S)")
_BULLET_DEPTH = {"◦": 2, "▪": 3, "▫": 3}

# A Slack span: a mark after a non-word character, text that neither starts nor ends with
# a space, the same mark before a non-word character, on one line. Whether a mark can close
# a span depends only on its neighbours, so openers are paired with the next closer found by
# index (linear) rather than by a lazy regex scan to the line's end (quadratic).
_SPAN_OPENER = re.compile(r"(?<![\w\\])[*_~](?=\S)")
# A mark closes after a non-space character and before a non-word one (Slack's and Jira's rule).
_CLOSER = {mark: re.compile(rf"(?<=\S){re.escape(mark)}(?!\w)") for mark in "*_~+^-"}
# What Jira would read as markup where Slack showed plain text. Jira's backslash escapes
# `-#*_+?^~|%{}[]()!@` (and only those); before anything else a backslash shows as itself.
JIRA_ESCAPABLE = r"[-#*_+?^~|%{}\[\]()!@]"
_JIRA_BACKSLASH = re.compile(rf"\\(?={JIRA_ESCAPABLE}|\\)")
_JIRA_OPENER = re.compile(r"(?<![\w\\])([*_~+^-])(?=\S)")  # an effect, if a closer follows
_JIRA_ALWAYS = str.maketrans({"{": "\\{", "[": "\\["})  # macros, links
_JIRA_IMAGE = re.compile(r"!(?=[^\s!][^\n!]*!)")  # up to the next `!` only
_JIRA_EMOTICON = re.compile(r"\((?=(?:[yni/x!+?*-]|on|off|\*[rgby]|flag|flagoff)\))")
_JIRA_LINE_START = re.compile(r"^([ \t]*)(#+[ \t]|\|)")  # numbered list, table
_JIRA_BLOCK_START = re.compile(r"^([ \t]*)(h[1-6]|bq)(?=\.\s)")  # heading, quote
# A character or word that one of the escapes below starts at; without any, text is plain.
_MAYBE_JIRA_MARKUP = re.compile(r"[-\\{\[!(*_~+^#|]|h[1-6]\.|bq\.")
_ZERO_WIDTH_SPACE = "\u200b"
_SPECIAL_MENTIONS = {"here", "channel", "everyone"}
_URL_UNSAFE = {"[": "%5B", "]": "%5D", "|": "%7C", " ": "%20"}


def decode_entities(text: str) -> str:
    """Undo Slack's escaping of `&`, `<` and `>` (and nothing else)."""
    return _ENTITY.sub(lambda m: _ENTITIES[m.group(1)], text)


def mrkdwn_to_wiki(
    text: str,
    *,
    user_names: Mapping[str, str] = _NO_NAMES,
    channel_names: Mapping[str, str] = _NO_NAMES,
) -> str:
    """Slack mrkdwn → Jira wiki markup.

    `user_names` maps Slack user ids to display names (`U123` → `Alice Smith`, shown as
    `@Alice Smith`); `channel_names` maps channel ids to names (shown as `#general`).
    """
    if not isinstance(text, str) or not text:
        return ""
    names = _Names(user_names, channel_names)
    text = _PLACEHOLDERS.sub("", text.replace("\r\n", "\n").replace("\r", "\n"))
    pieces: list[tuple[bool, str]] = []  # (is a code block, Jira text)
    position = 0
    for fence in _FENCE.finditer(text):
        pieces.append((False, _prose(text[position : fence.start()], names)))
        pieces.append((True, _code_block(fence.group(1), names)))
        position = fence.end()
    pieces.append((False, _prose(text[position:], names)))
    return _join(pieces)


def slack_to_plain_text(
    text: str,
    *,
    user_names: Mapping[str, str] = _NO_NAMES,
    channel_names: Mapping[str, str] = _NO_NAMES,
) -> str:
    """Slack mrkdwn → the plain text Slack showed, for fields Jira does not render as wiki
    markup (an issue's summary): names for mentions, a link's text, entities decoded, no
    *bold*/_italic_/~strike~ marks and no escapes."""
    if not isinstance(text, str) or not text:
        return ""
    names = _Names(user_names, channel_names)
    text = _PLACEHOLDERS.sub("", text.replace("\r\n", "\n").replace("\r", "\n"))
    plain, code = _set_aside(_CODE, _plain_tokens(text, names), lambda match: match.group(0))
    return _put_back(_FORMAT_MARKS.sub("", _format_spans(plain)), code)


def _join(pieces: list[tuple[bool, str]]) -> str:
    """Concatenate, giving each code block lines of its own (in a list: adding to one string
    copies it each time, quadratic over thousands of blocks)."""
    out: list[str] = []
    after_block = False
    for is_block, piece in pieces:
        if not piece:
            continue
        if (is_block or after_block) and out:
            _strip_end(out)
            piece = piece.lstrip(" \t")
            if not ((out and out[-1].endswith("\n")) or piece.startswith("\n")):
                out.append("\n")
        out.append(piece)
        after_block = is_block
    return "".join(out)


def _strip_end(out: list[str]) -> None:
    """Strip spaces and tabs from the end of the text `out` holds in pieces."""
    while out:
        last = out[-1].rstrip(" \t")
        if last:
            out[-1] = last
            return
        out.pop()


class _Names:
    def __init__(self, users: Mapping[str, str], channels: Mapping[str, str]) -> None:
        self.users = users if isinstance(users, Mapping) else _NO_NAMES
        self.channels = channels if isinstance(channels, Mapping) else _NO_NAMES

    def user(self, user_id: str, label: str) -> str:
        name = self.users.get(user_id) or label or user_id
        return "@" + str(name).lstrip("@")

    def channel(self, channel_id: str, label: str) -> str:
        name = self.channels.get(channel_id) or label or channel_id
        return "#" + str(name).lstrip("#")


def _code_block(code: str, names: _Names) -> str:
    """Slack ``` block → {code} (or {noformat} if the code itself contains `{code}`)."""
    code = _plain_tokens(code, names)
    if code.startswith("\n"):
        code = code[1:]
    if code.endswith("\n"):
        code = code[:-1]
    if not code.strip():
        return ""
    macro = "noformat" if "{code}" in code else "code"
    code = code.replace("{noformat}", "{noformat\u200b}") if macro == "noformat" else code
    return f"{{{macro}}}\n{code}\n{{{macro}}}"


def _plain_tokens(text: str, names: _Names) -> str:
    """Inside code: Slack's tokens as the words the user typed, entities decoded."""

    def token(match: re.Match[str]) -> str:
        target, _, label = match.group(1).partition("|")
        if target.startswith(("@", "#", "!")):
            return _render_token(match.group(1), names, plain=True)
        return decode_entities(label or target)

    text, rendered = _set_aside(_ANGLE, text, token)
    return _put_back(decode_entities(text), rendered)


def _set_aside(
    pattern: re.Pattern[str], text: str, render: Callable[[re.Match[str]], str]
) -> tuple[str, list[str]]:
    """Render each match of `pattern` and leave a placeholder where it was."""
    rendered: list[str] = []

    def keep(match: re.Match[str]) -> str:
        rendered.append(render(match))
        return _SET_ASIDE

    return pattern.sub(keep, text), rendered


def _put_back(text: str, rendered: list[str]) -> str:
    if not rendered:
        return text
    pieces = iter(rendered)
    return re.sub(_SET_ASIDE, lambda _: next(pieces, ""), text)


def _prose(text: str, names: _Names) -> str:
    """Text outside code blocks, line by line; consecutive quoted lines form one quote."""
    if not text:
        return ""
    out: list[str] = []
    quoted: list[str] = []
    quote_rest = False
    for line in text.split("\n"):
        if quote_rest or _QUOTE.match(line):
            if _QUOTE_REST.match(line):
                quote_rest = True
                line = _QUOTE_REST.sub("", line)
            else:
                line = _QUOTE.sub("", line)
            quoted.append(_line(line, names))
            continue
        _flush_quote(quoted, out)
        out.append(_line(line, names))
    _flush_quote(quoted, out)
    return "\n".join(out)


def _flush_quote(quoted: list[str], out: list[str]) -> None:
    if len(quoted) == 1 and quoted[0].strip():
        out.append("bq. " + quoted[0])
    elif any(line.strip() for line in quoted):
        out.extend(["{quote}", *quoted, "{quote}"])
    elif quoted:
        out.extend(quoted)
    quoted.clear()


def _line(line: str, names: _Names) -> str:
    if not line:
        return ""
    bullet = _BULLET.match(line)
    prefix = ""
    if bullet:
        indent = len(bullet.group(1).expandtabs(4))
        depth = indent // 4 + 1 if indent else _BULLET_DEPTH.get(bullet.group(2), 1)
        prefix, line = "*" * depth + " ", line[bullet.end() :]

    def render(match: re.Match[str]) -> str:
        code = match.group("code")
        if code is not None:
            return _inline_code(code, names)
        return _render_token(match.group("token"), names, match=match)

    line, rendered = _set_aside(_INLINE, line, render)
    line = _escape_plain(_format_spans(decode_entities(line)), at_line_start=not prefix)
    return prefix + _put_back(line.translate(_JIRA_MARKS), rendered)


def _format_spans(text: str) -> str:
    """Slack's *bold*, _italic_ and ~strike~ marks → placeholders (nested spans too)."""
    for _ in range(4):
        converted = _span_pass(text)
        if converted == text:
            break
        text = converted
    return text


def _span_pass(text: str) -> str:
    """The outermost spans, left to right: an opener takes the first closer of its mark at
    least two characters on, on its line; what a span holds waits for the next pass."""
    closers = _Closers(text)
    marked: list[int] = []
    span_end = -1
    for opener in _SPAN_OPENER.finditer(text):
        start = opener.start()
        mark = text[start]
        if start <= span_end or text[start + 1] == mark:
            continue
        closer = closers.after(mark, start + 2)
        if closer is not None:
            marked += (start, closer)
            span_end = closer
    pieces: list[str] = []
    position = 0
    for at in marked:
        pieces += (text[position:at], _MARKS[text[at]])
        position = at + 1
    pieces.append(text[position:])
    return "".join(pieces)


class _Closers:
    """Where each mark could close a span, and where lines end, for questions asked in
    ascending order of position: each list is walked once, so a whole text costs linear time."""

    def __init__(self, text: str) -> None:
        self._text = text
        self._at: dict[str, list[int]] = {}
        self._seen: dict[str, int] = {}
        self._line_ends = [found.start() for found in _LINE_BREAK.finditer(text)] + [len(text)]
        self._line = 0

    def _positions(self, mark: str) -> list[int]:
        if mark not in self._at:  # found when first asked: most texts ask for one mark or none
            self._at[mark] = [found.start() for found in _CLOSER[mark].finditer(self._text)]
            self._seen[mark] = 0
        return self._at[mark]

    def after(self, mark: str, start: int) -> int | None:
        """The first closer of `mark` at or after `start`, on the line `start` is on."""
        while self._line_ends[self._line] < start:
            self._line += 1
        positions = self._positions(mark)
        seen = self._seen[mark]
        while seen < len(positions) and positions[seen] < start:
            seen += 1
        self._seen[mark] = seen
        if seen < len(positions) and positions[seen] < self._line_ends[self._line]:
            return positions[seen]
        return None


def _escape_plain(text: str, *, at_line_start: bool = False) -> str:
    """Escape what Jira would read as markup although Slack showed it as text."""
    if not _MAYBE_JIRA_MARKUP.search(text):
        return text  # most words, names and labels: nothing below would change them
    text = _JIRA_BACKSLASH.sub("\\\\" + _ZERO_WIDTH_SPACE, text)  # `\\` is a line break
    text = text.translate(_JIRA_ALWAYS)
    text = _JIRA_IMAGE.sub(r"\\!", text)
    text = _JIRA_EMOTICON.sub(r"\\(", text)
    out: list[str] = []
    position = 0
    closers: _Closers | None = None
    for opener in _JIRA_OPENER.finditer(text):
        mark = opener.group(1)
        closers = closers or _Closers(text)
        if closers.after(mark, opener.start() + 2) is not None:
            out.append(text[position : opener.start()] + "\\" + mark)
            position = opener.end()
    text = "".join(out) + text[position:]
    if at_line_start:
        text = _JIRA_LINE_START.sub(r"\1\\\2", text)
        text = _JIRA_BLOCK_START.sub(r"\1\2" + _ZERO_WIDTH_SPACE, text)
    return text


def _inline_code(code: str, names: _Names) -> str:
    return "{{" + _escape_plain(_plain_tokens(code, names)).replace("}", "\\}") + "}}"


def _render_token(
    inner: str, names: _Names, *, plain: bool = False, match: re.Match[str] | None = None
) -> str:
    """One Slack `<…>` token: a mention, a channel, a special mention or a link."""
    target, _, label = inner.partition("|")
    label = decode_entities(label)
    if target.startswith("@"):
        rendered = names.user(target[1:], label)
    elif target.startswith("#"):
        rendered = names.channel(target[1:], label)
    elif target.startswith("!"):
        rendered = _special_mention(target[1:], label)
    else:
        return _link(decode_entities(target), label, followed_by_text=_followed_by_text(match))
    return rendered if plain else _escape_plain(rendered)


def _followed_by_text(match: re.Match[str] | None) -> bool:
    if match is None or match.end() >= len(match.string):
        return False
    return not match.string[match.end()].isspace()


def _special_mention(command: str, label: str) -> str:
    name = command.split("^", 1)[0]
    if name in _SPECIAL_MENTIONS:
        return "@" + name
    if name == "subteam":
        return "@" + (label.lstrip("@") or command.partition("^")[2])
    return label or "@" + name  # e.g. <!date^…|Feb 18> shows its fallback text


def _link(url: str, label: str, *, followed_by_text: bool) -> str:
    url = "".join(_URL_UNSAFE.get(char, char) for char in url.strip())
    if not url:
        return _escape_plain(label)
    if label and label != url:
        alias = re.sub(r"[\[\]|{}]", lambda m: "\\" + m.group(0), label)
        return f"[{alias}|{url}]"
    if followed_by_text or not url.lower().startswith(("http:", "https:")):
        return f"[{url}]"  # brackets keep Jira from running the URL into the next word
    return url
