"""The Jira wiki grammar Connect renders for Slack: jira2markdown's elements, a few swapped
for Slack's needs (no HTML tags, mrkdwn link and escaping rules, real numbering), in two
variants (`markdown` for Slack's `markdown` block, `mrkdwn` for `section` text), each built
once per thread with the parsing shortcuts of `services.markup.parsing`.

`services.markup.jira_to_slack` converts with them; this module only builds them."""

from __future__ import annotations

import gc
import re
import string
import threading
from collections.abc import Mapping
from typing import Any

from jira2markdown.elements import MarkupElements
from jira2markdown.markup.advanced import Code, Noformat, Panel
from jira2markdown.markup.base import AbstractMarkup
from jira2markdown.markup.headings import Headings
from jira2markdown.markup.images import Image
from jira2markdown.markup.links import Attachment, Link, MailTo, Mention, Url
from jira2markdown.markup.lists import List, ListIndentState, OrderedList, UnorderedList
from jira2markdown.markup.tables import Table
from jira2markdown.markup.text_breaks import LineBreak, Mdash, Ndash, Ruler
from jira2markdown.markup.text_effects import (
    BlockQuote,
    Bold,
    Color,
    EscSpecialChars,
    InlineQuote,
    Monospaced,
    Quote,
    Strikethrough,
    Subscript,
    Superscript,
    Underline,
)
from pyparsing import FollowedBy, Forward, ParserElement, ParseResults, Regex

from services.markup.parsing import FirstCharMatch, skip_faster
from services.markup.slack_to_jira import JIRA_ESCAPABLE

_MRKDWN_ESCAPES = {"&": "&amp;", "<": "&lt;", ">": "&gt;"}
_MRKDWN_SPECIAL = re.compile(r"[&<>]")
_NUMBERED_ITEM = re.compile(r"^( *)1\. ", re.MULTILINE)
_TRAILING_PUNCTUATION = ".,;:!?)]}'\""


def escape_mrkdwn(text: str) -> str:
    """Escape the three characters Slack's mrkdwn reserves (`&`, `<`, `>`)."""
    return _MRKDWN_SPECIAL.sub(lambda m: _MRKDWN_ESCAPES[m.group(0)], text)


def _is_web_url(url: str) -> bool:
    return url.lower().startswith(("http://", "https://", "ftp://"))


def _mrkdwn_url(url: str) -> str:
    return escape_mrkdwn(url).replace("|", "%7C")


def _variant(element: Any, *, guard: str | None = None, **overrides: Any) -> Any:
    """A subclass of a jira2markdown element with `overrides` (methods or class attributes).

    `guard` is a regex the text must match where the element starts. jira2markdown scans ahead
    for closing tokens (`-x-`, `[...]`, `{color}...{color}`) with pyparsing's per-character
    SkipTo, so a long line with many unclosed openers costs quadratic time with a large
    constant (seconds per kilobyte); checking first with a C-speed regex keeps it cheap.
    """
    namespace = dict(overrides)
    if guard is not None:
        unguarded = element.expr

        def expr(self: Any) -> ParserElement:
            guarded: ParserElement = FollowedBy(Regex(guard, flags=re.DOTALL)) + unguarded.fget(
                self
            )
            return guarded

        namespace["expr"] = property(expr)
    return type(element.__name__, (element,), namespace)


def _effect_guard(token: str) -> str:
    """A closing `token` after non-space text on the same line, then a non-word character."""
    t = re.escape(token)
    return rf"{t}(?=[^\s{re.escape(token[0])}])[^\n]*?\S{t}(?!\w)"


def _block_guard(name: str) -> str:
    return rf"\{{{name}.*?\{{{name}\}}"


_BRACKETED = r"\[[^\]]*\]"
_IMAGE = r"![^!|\n]{3,}[!|]"


def _plain_color(self: Any, tokens: ParseResults) -> str:
    return str(self.inline_markup.transform_string(tokens.text))


def _renumber(self: Any, tokens: ParseResults) -> str:
    """jira2markdown writes every item as `1.`; Slack shows numbers as written."""
    counters: dict[int, int] = {}

    def number(match: re.Match[str]) -> str:
        depth = len(match.group(1))
        for deeper in [d for d in counters if d > depth]:
            del counters[deeper]
        counters[depth] = counters.get(depth, 0) + 1
        return f"{match.group(1)}{counters[depth]}. "

    return _NUMBERED_ITEM.sub(number, str(OrderedList.action(self, tokens)))


def _markdown_code(self: Any, tokens: ParseResults) -> str:
    # jira2markdown labels a block without a language "Java", as Jira highlights it.
    code = str(tokens.text).strip("\n")
    return f"```{tokens.lang or ''}\n{code}\n```"


def _markdown_attachment(self: Any, tokens: ParseResults) -> str:
    return str(tokens.filename)


def _markdown_table(self: Any, tokens: ParseResults) -> str:
    return str(Table.action(self, tokens)).replace("<br>", " ")  # no HTML in Slack


def _markdown_image(self: Any, tokens: ParseResults) -> str:
    url = str(tokens.url).strip()
    return f"[{url}]({url})" if _is_web_url(url) else url


class _RegexElement(AbstractMarkup):  # type: ignore[misc]  # jira2markdown ships no type hints
    """An element that is one regex, rendered match by match."""

    PATTERN = ""

    @property
    def expr(self) -> ParserElement:
        return Regex(self.PATTERN).set_parse_action(lambda tokens: self.render(str(tokens[0])))

    def render(self, text: str) -> str:
        return text


_PLAIN = r"(?:(?!(?:https?|ftp)://)[^\W_]|[ \t])+"


class _PlainRun(_RegexElement):
    """Letters, digits and spaces, passed through in one step instead of one pyparsing attempt
    of every element per character (a several-fold speed-up on prose). It stops before URLs,
    the only markup that starts with a letter mid-line, and never crosses a line break."""

    PATTERN = r"(?i)" + _PLAIN


class _PlainRunMidLine(_PlainRun):
    """The same run, tried before every other element wherever a line has begun: no Jira
    markup starts mid-line with a letter, a digit or a space but a URL (which the run stops
    before), while the markup that does start with one (`h1.`, `bq.`, a ruler, a list or a
    table row after spaces) starts a line. Where no run starts, the elements are tried as
    before, in their order."""

    PATTERN = r"(?i)(?<=[^\n])" + _PLAIN


class _MarkdownEscape(_RegexElement):
    r"""Jira's backslash escape (`\{`, `\*`): the character, escaped for Markdown if need be."""

    PATTERN = r"\\" + JIRA_ESCAPABLE

    def render(self, text: str) -> str:
        return "\\" + text[1]  # all ASCII punctuation, which Markdown escapes the same way


# --- mrkdwn: every piece of source text passes through escape_mrkdwn exactly once.


class _MrkdwnEscape(_RegexElement):
    r"""Jira's backslash escape: the character alone (mrkdwn has no escapes but entities)."""

    PATTERN = r"\\" + JIRA_ESCAPABLE

    def render(self, text: str) -> str:
        return escape_mrkdwn(text[1])


class _MrkdwnSpecial(_RegexElement):
    """Plain `&`, `<`, `>` as entities (in place of jira2markdown's Markdown `\\*`)."""

    PATTERN = r"[&<>]"

    def render(self, text: str) -> str:
        return escape_mrkdwn(text)


class _MrkdwnUrl(_RegexElement):
    """A bare URL as a mrkdwn link, leaving sentence punctuation after it outside."""

    PATTERN = r"(?i)(?:https?|ftp)://\S+"

    def render(self, text: str) -> str:
        url = text.rstrip(_TRAILING_PUNCTUATION)
        return f"<{_mrkdwn_url(url)}>{escape_mrkdwn(text[len(url) :])}"


def _mrkdwn_alias(self: Any, tokens: ParseResults) -> str:
    """A link's text as mrkdwn; plain if it held a link itself (mrkdwn links do not nest)."""
    alias = str(getattr(tokens, "alias", ""))
    rendered = str(self.markup.transform_string(alias))
    return escape_mrkdwn(alias) if "<" in rendered else rendered


def _mrkdwn_link(self: Any, tokens: ParseResults) -> str:
    alias = _mrkdwn_alias(self, tokens)
    url = str(tokens.url).strip()
    if url.lower().startswith("www."):
        url = "https://" + url
    if not _is_web_url(url):
        return alias or escape_mrkdwn(url)  # an anchor or a page name: no URL to link to
    return f"<{_mrkdwn_url(url)}|{alias}>" if alias.strip() else f"<{_mrkdwn_url(url)}>"


def _mrkdwn_mailto(self: Any, tokens: ParseResults) -> str:
    alias = _mrkdwn_alias(self, tokens)
    email = str(tokens.email)
    return f"<mailto:{_mrkdwn_url(email)}|{alias if alias.strip() else escape_mrkdwn(email)}>"


def _mrkdwn_mention(self: Any, tokens: ParseResults) -> str:
    account = str(tokens.accountid)
    return "@" + escape_mrkdwn(str(self.usernames.get(account, account)))


def _mrkdwn_code(self: Any, tokens: ParseResults) -> str:
    return "```\n" + escape_mrkdwn(str(tokens.text).strip("\n")) + "\n```"


def _mrkdwn_monospaced(self: Any, tokens: ParseResults) -> str:
    return f"`{escape_mrkdwn(str(tokens[0]))}`"


def _mrkdwn_heading(self: Any, tokens: ParseResults) -> str:
    return f"*{self.inline_markup.transform_string(tokens.text)}*"


def _mrkdwn_attachment(self: Any, tokens: ParseResults) -> str:
    return escape_mrkdwn(str(tokens.filename))


def _mrkdwn_image(self: Any, tokens: ParseResults) -> str:
    url = str(tokens.url).strip()
    return f"<{_mrkdwn_url(url)}>" if _is_web_url(url) else escape_mrkdwn(url)


def _mrkdwn_table(self: Any, tokens: ParseResults) -> str:
    rows = [
        " | ".join(str(self.markup.transform_string(cell)).replace("\n", " ") for cell in row)
        for row in tokens
        if len(row) > 0
    ]
    return "\n".join(rows) + "\n"


def _mrkdwn_panel(self: Any, tokens: ParseResults) -> str:
    params = tokens.as_dict().get("params") or []
    title = next((str(v) for p, v in params if str(p).lower() == "title"), "")
    body = "\n".join(line.lstrip() for line in str(tokens.text).strip().splitlines())
    lines = str(self.markup.transform_string(body)).splitlines()
    if title:
        lines.insert(0, f"*{escape_mrkdwn(title)}*")
    return "\n".join(f"> {line}" for line in lines)


def _mrkdwn_bullets(self: Any, *args: Any, **kwargs: Any) -> None:
    List.__init__(self, "#", 3, "*-", 2, "•", *args, **kwargs)


# Effects Slack cannot show render as their plain text; guarded elements as in _variant.
_COMMON: dict[Any, Any] = {
    Underline: _variant(Underline, guard=_effect_guard("+"), QUOTE_CHAR="", END_QUOTE_CHAR=""),
    InlineQuote: _variant(
        InlineQuote, guard=_effect_guard("??"), QUOTE_CHAR="“", END_QUOTE_CHAR="”"
    ),
    Superscript: _variant(Superscript, guard=_effect_guard("^"), QUOTE_CHAR="", END_QUOTE_CHAR=""),
    Subscript: _variant(Subscript, guard=_effect_guard("~"), QUOTE_CHAR="", END_QUOTE_CHAR=""),
    Color: _variant(Color, guard=_block_guard("color"), action=_plain_color),
    BlockQuote: _variant(BlockQuote, guard=r"\{quote\}.*?\{quote\}"),
    OrderedList: _variant(OrderedList, action=_renumber),
}

_MARKDOWN: dict[Any, Any] = {
    **_COMMON,
    Bold: _variant(Bold, guard=_effect_guard("*")),
    Strikethrough: _variant(Strikethrough, guard=_effect_guard("-")),
    Code: _variant(Code, guard=_block_guard("code"), action=_markdown_code),
    Noformat: _variant(Noformat, guard=_block_guard("noformat")),
    Panel: _variant(Panel, guard=_block_guard("panel")),
    Mention: _variant(Mention, guard=_BRACKETED),
    MailTo: _variant(MailTo, guard=_BRACKETED),
    Link: _variant(Link, guard=_BRACKETED),
    Attachment: _variant(Attachment, guard=_BRACKETED, action=_markdown_attachment),
    Image: _variant(Image, guard=_IMAGE, action=_markdown_image),
    Table: _variant(Table, action=_markdown_table),
}

_MRKDWN: dict[Any, Any] = {
    **_COMMON,
    Bold: _variant(Bold, guard=_effect_guard("*"), QUOTE_CHAR="*"),
    Strikethrough: _variant(Strikethrough, guard=_effect_guard("-"), QUOTE_CHAR="~"),
    Code: _variant(Code, guard=_block_guard("code"), action=_mrkdwn_code),
    Noformat: _variant(Noformat, guard=_block_guard("noformat"), action=_mrkdwn_code),
    Panel: _variant(Panel, guard=_block_guard("panel"), action=_mrkdwn_panel),
    Monospaced: _variant(Monospaced, action=_mrkdwn_monospaced),
    Mention: _variant(Mention, guard=_BRACKETED, action=_mrkdwn_mention),
    MailTo: _variant(MailTo, guard=_BRACKETED, action=_mrkdwn_mailto),
    Link: _variant(Link, guard=_BRACKETED, action=_mrkdwn_link),
    Attachment: _variant(Attachment, guard=_BRACKETED, action=_mrkdwn_attachment),
    Image: _variant(Image, guard=_IMAGE, action=_mrkdwn_image),
    Table: _variant(Table, action=_mrkdwn_table),
    Headings: _variant(Headings, action=_mrkdwn_heading),
    UnorderedList: _variant(UnorderedList, __init__=_mrkdwn_bullets),
    Url: _MrkdwnUrl,
    EscSpecialChars: _MrkdwnSpecial,
}


# What each element's match can start with, of the characters FirstCharMatch chooses at
# (printable ASCII but whitespace), read off its grammar. None of them skips whitespace first
# (jira2markdown sets pyparsing's default whitespace to none), and zero-width parts (line and
# word starts, look-aheads such as the guards) consume nothing. An element not named here (a
# subclass counts as its class) is tried at every character.
_ALNUM = string.ascii_letters + string.digits
_URL_SCHEMES = "hHfF"  # http://, https://, ftp://, in any case
_STARTS: dict[type, str] = {
    UnorderedList: "#*-",  # bullets `*`, `-`, nested under `#`, after any indent
    OrderedList: "#*",
    Code: "{",
    Noformat: "{",
    Panel: "{",
    Color: "{",
    BlockQuote: "{",
    Monospaced: "{",
    Mention: "[",
    MailTo: "[",
    Attachment: "[",
    Link: "[",
    Image: "!",
    Table: "|",  # after an optional blank line
    Headings: "h",  # `h1. ` after any indent
    Quote: "b",  # `bq. ` after any indent
    Url: _URL_SCHEMES,
    _MrkdwnUrl: _URL_SCHEMES,
    _PlainRun: _ALNUM,
    Bold: "*",
    Strikethrough: "-",
    Underline: "+",
    InlineQuote: "?",
    Superscript: "^",
    Subscript: "~",
    Ndash: "-",
    Mdash: "-",
    Ruler: "\\-",  # `----` at a line start or after a `\\` line break
    LineBreak: "\\",
    EscSpecialChars: "*",
    _MarkdownEscape: "\\",
    _MrkdwnEscape: "\\",
    _MrkdwnSpecial: "&<>",
}


def _starts(element: type) -> str | None:
    return next((_STARTS[k] for k in element.__mro__ if k in _STARTS), None)


def _elements(replacements: Mapping[Any, Any], escape: Any) -> Any:
    elements = MarkupElements([replacements.get(element, element) for element in MarkupElements()])
    elements.insert(elements.index(LineBreak), escape)
    elements.append(_PlainRun)
    elements.insert(0, _PlainRunMidLine)
    return elements


_ELEMENTS = {
    "markdown": _elements(_MARKDOWN, _MarkdownEscape),
    "mrkdwn": _elements(_MRKDWN, _MrkdwnEscape),
}
_GRAMMARS = threading.local()
_Grammar = tuple[ParserElement, dict[str, str], list[ListIndentState]]


def grammar(kind: str) -> _Grammar:
    """The grammar for `kind`, the name map its mentions read and its lists' indent states,
    built once per thread.

    jira2markdown's `convert` builds the same grammar on every call, which takes 60-110 ms;
    this is its body, kept. Parsing keeps state in the grammar (list indents), hence per thread.
    """
    cache = _cache()
    if kind not in cache:
        cache[kind] = _build(_ELEMENTS[kind])
        _out_of_the_collectors_reach()
    return cache[kind]


def _out_of_the_collectors_reach() -> None:
    """A grammar is some 30,000 objects that live as long as their thread. Left tracked, every
    full collection walks them: with a thread's three grammars, 90-120 ms a collection in the
    markup benchmark (8 ms without), a pause that lands in whatever conversion or ack is
    running. So, as bot.gc_tuning does with start-up, they are frozen once built: a few
    builds per thread in a process's life. The young generations are collected first (1-3
    ms), so that the garbage of the moment is not frozen with them; a full collection here
    would cost the very pause this avoids."""
    gc.collect(1)
    gc.freeze()


def drop_grammar(kind: str) -> None:
    """Forget this thread's grammar for `kind` (a parse that raised may have left it half-way)."""
    _cache().pop(kind, None)


def _cache() -> dict[str, _Grammar]:
    cache: dict[str, _Grammar] = _GRAMMARS.__dict__.setdefault("cache", {})
    return cache


def _build(elements: Any) -> _Grammar:
    """jira2markdown's grammar of `elements` (its `convert`), with the shortcuts of
    `services.markup.parsing`, which never change a conversion: a 4,000-character description
    converts in ~100 ms instead of ~250, a line of unclosed markup in 20-150 ms instead of
    170-480. Each element's expression is built once and serves both the inline choice and
    the full one (jira2markdown builds it twice: most of the grammar's build time)."""
    names: dict[str, str] = {}
    inline_markup, markup = Forward(), Forward()
    instances = [
        element(inline_markup=inline_markup, markup=markup, usernames=names) for element in elements
    ]
    built = [(type(instance), instance.expr) for instance in instances]
    inline = [(element, expr) for element, expr in built if element.is_inline_element]
    inline_markup <<= FirstCharMatch([e for _, e in inline], [_starts(el) for el, _ in inline])
    markup <<= FirstCharMatch([e for _, e in built], [_starts(el) for el, _ in built])
    lists = [instance.indent_state for instance in instances if isinstance(instance, List)]
    grammar = skip_faster(markup)
    grammar.transform_string(_WARM_UP)  # pyparsing compiles each element on its first use
    for indent in lists:
        indent.reset()
    return grammar, names, lists


# Every element once, so that a thread's first real text is not charged for their set-up.
_WARM_UP = """h1. a *b* _c_ -d- +e+ ^f^ ~g~ ??h?? {{i}} x-y -- --- \\{ & < > http://j.k
[l|http://m] [~n] [mailto:o@p.q] [^r] !s.png! !t.png|thumbnail! \\
* u
** v
# w
## x
- y

||z||a||
|b|c|

{code:python}d{code}
{noformat}e{noformat}
{quote}f{quote}
{panel:title=g}h{panel}
{color:red}i{color}
bq. j
----
"""
