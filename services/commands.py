"""The one parser for `/jira` text (and `@Connect …` mentions): subcommand, words, rest."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from services.issues.keys import parse_issue_key
from services.markup import escape_typed

MAX_COMMAND_TEXT = 4000


@dataclass(frozen=True, slots=True)
class Subcommand:
    name: str
    usage: str
    summary: str
    aliases: tuple[str, ...] = ()
    min_args: int = 0
    # The answer shows the asker's own account: an `@Connect` mention answers only to them.
    private: bool = False


@dataclass(frozen=True, slots=True)
class Invocation:
    name: str
    args: tuple[str, ...]
    # The text after the subcommand word, spacing kept (summaries, comments, JQL).
    rest: str


class UsageError(Exception):
    """Bad command text: `problem` names what is wrong, `usage` the right form ("" = all)."""

    def __init__(self, problem: str, usage: str) -> None:
        super().__init__(problem)
        self.problem = problem
        self.usage = usage


class CommandParser:
    def __init__(self, subcommands: Iterable[Subcommand], *, command: str = "/jira") -> None:
        self.command = command
        self.subcommands = tuple(subcommands)
        self._by_word: dict[str, Subcommand] = {}
        for sub in self.subcommands:
            for word in (sub.name, *sub.aliases):
                if word in self._by_word:
                    raise ValueError(f"subcommand word {word!r} is declared twice")
                self._by_word[word] = sub

    def parse(self, text: str) -> Invocation:
        text = (text or "").strip()
        if len(text) > MAX_COMMAND_TEXT:
            raise UsageError(
                f"That is {len(text):,} characters; {self.command} takes at most "
                f"{MAX_COMMAND_TEXT:,}.",
                self.usage_of("help"),
            )
        if not text:
            return Invocation("help", (), "")
        # Any whitespace ends the first word (a tab, a newline, a no-break space), not only " ".
        word, *after = text.split(maxsplit=1)
        rest = after[0].strip() if after else ""
        sub = self._by_word.get(word.lower())
        if sub is None and "show" in self._by_word and parse_issue_key(word):
            return Invocation("show", (word, *rest.split()), text)
        if sub is None:
            raise UsageError(
                f"`{self.command} {escape_typed(_clip(word))}` is not a command I know.", ""
            )
        args = tuple(rest.split())
        if len(args) < sub.min_args:
            raise UsageError(f"`{sub.name}` is missing an argument.", self.usage_of(sub.name))
        return Invocation(sub.name, args, rest)

    def is_private(self, name: str) -> bool:
        sub = self._by_word.get(name)
        return sub is not None and sub.private

    def usage_of(self, name: str) -> str:
        sub = self._by_word[name]
        return f"`{self.command} {sub.usage}`"

    def help_lines(self) -> list[tuple[str, str]]:
        """(usage, what it does) for every subcommand, in declaration order."""
        return [(f"{self.command} {sub.usage}", sub.summary) for sub in self.subcommands]


def _clip(word: str, limit: int = 40) -> str:
    word = word.replace("`", "'")
    return word if len(word) <= limit else word[: limit - 1] + "…"


# Every `/jira` subcommand, in the order `/jira help` lists them: the parser's words, the help
# text, and (by name) handlers.commands' dispatch, which refuses to load if one has no runner.
SUBCOMMANDS = (
    Subcommand("help", "help", "show this list of commands"),
    Subcommand("create", "create [PROJECT] [summary…]", "open the form to create an issue"),
    Subcommand("show", "show KEY  (or just KEY)", "show an issue's card", min_args=1),
    Subcommand("search", "search TEXT or JQL", "find up to 10 issues", min_args=1),
    Subcommand(
        "transition",
        "transition KEY STATUS  (or move KEY STATUS)",
        "change an issue's status (status or transition name)",
        aliases=("move",),
        min_args=2,
    ),
    Subcommand(
        "assign", "assign KEY @user|me|none", "change who an issue is assigned to", min_args=2
    ),
    Subcommand("comment", "comment KEY text…", "add a comment to an issue", min_args=2),
    Subcommand(
        "link",
        "link KEY [--sync]",
        "post this issue's updates in this channel (`--sync`: in a thread synced with Jira)",
        min_args=1,
    ),
    Subcommand("unlink", "unlink KEY", "stop posting this issue's updates here", min_args=1),
    Subcommand("links", "links [PAGE]", "list the issues linked to this channel"),
    Subcommand(
        "subscribe",
        "subscribe [PROJECT] [JQL…] [--events K,K]",
        "post new and changed issues of a project or filter here",
        min_args=1,
    ),
    Subcommand("subscriptions", "subscriptions [PAGE]", "list what this channel is subscribed to"),
    Subcommand(
        "unsubscribe", "unsubscribe ID", "remove one of this channel's subscriptions", min_args=1
    ),
    Subcommand(
        "connect",
        "connect",
        "connect your Jira account (by your Slack e-mail, or Jira's consent screen)",
        private=True,
    ),
    Subcommand("whoami", "whoami", "show which Jira account is yours", private=True),
    Subcommand("disconnect", "disconnect", "disconnect your Jira account", private=True),
    Subcommand(
        "notify",
        "notify [assigned,mentions,reported,watching | off]",
        "show or choose what Connect DMs you about",
        private=True,
    ),
    Subcommand(
        "settings",
        "settings [previews on|off | notify all|important | sync on|off]",
        "show or change this channel's previews, notification level and sync default",
    ),
)

_USER_MENTION = re.compile(r"^<@([UW][A-Z0-9]+)(?:\|[^>]*)?>$")
_USER_MENTIONS = re.compile(r"<@([UW][A-Z0-9]+)(?:\|[^<>]*)?>")  # linear: stops at `<`


def mentioned_users(text: str) -> list[str]:
    """Slack user ids mentioned in mrkdwn text, in order, without repeats."""
    return list(dict.fromkeys(_USER_MENTIONS.findall(text or "")))


def parse_user_mention(word: str) -> str | None:
    """`<@U123>` or `<@U123|alice>` (slash commands declared with should_escape) → `U123`."""
    match = _USER_MENTION.match(word.strip())
    return match.group(1) if match else None


def default_parser() -> CommandParser:
    """Every subcommand Connect has; `help` lists exactly these."""
    return CommandParser(SUBCOMMANDS)
