"""`/jira subscribe | subscriptions | unsubscribe`: what a channel follows (SPEC §4, §7).

`subscribe [PROJECT] [JQL…] [--events K,K]`: the first word is a project key when it names a
project Connect may show that exists in Jira; the rest up to `--events` is JQL. The JQL is
parsed (a filter that names a project or issue outside `JIRA_PROJECTS` is refused), stored in
its canonical form, and checked by Jira inside the wall before it is stored, so that a bad
filter is refused with Jira's own words.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from itertools import pairwise

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import InstrumentedAttribute
from sqlalchemy.sql.elements import ColumnElement

from clients.jira_client import JiraBadRequest, JiraClient
from clients.slack_client import SlackClient
from models import ChannelSubscription
from models.channels import EVENT_KINDS
from services.commands import UsageError
from services.errors import InvalidRequest, jira_errors
from services.issues.links import LinkService
from services.issues.service import IssueService
from services.jql import JqlSyntaxError, JqlWall, Node
from services.jql.lexer import tokenize
from services.markup import escape_mrkdwn, escape_typed
from services.policy import ConnectPolicy
from services.subscriptions.filter import subscription_query
from services.unit_of_work import UnitOfWorkFactory

_EVENTS_OPTION = re.compile(r"(?:^|\s)--events(?:=|\s|$)", re.IGNORECASE)
_PROJECT_KEY = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
_TYPED_AS_KEY = re.compile(r"^[A-Z][A-Z0-9_]+$")
_LEADING_AND = re.compile(r"^and\s+", re.IGNORECASE)  # `OPS AND priority = High`
# What follows a field name in JQL: a first word followed by one of these is a field.
_OPERATOR_NEXT = re.compile(
    r"^\s*(?:!=|!~|>=|<=|=|~|<|>|(?:not\s+)?in\b|is\b|was\b|changed\b)", re.IGNORECASE
)


@dataclass(frozen=True, slots=True)
class SubscribeRequest:
    query: str  # project and/or JQL, ORDER BY left out (order means nothing here)
    kinds: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class SubscriptionView:
    number: int
    channel_id: str
    project_key: str | None
    jql: str | None
    kinds: tuple[str, ...]
    created_by: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class SubscribeOutcome:
    subscription: SubscriptionView
    created: bool
    changed_kinds: bool = False


def parse_subscribe(text: str, *, usage: str) -> SubscribeRequest:
    """The grammar alone: `[PROJECT] [JQL…] [--events K,K]` → what to follow and which kinds."""
    text = text.strip()
    option = _EVENTS_OPTION.search(text)
    kinds: tuple[str, ...] = EVENT_KINDS
    if option is not None:
        query, named = text[: option.start()].strip(), text[option.end() :]
        words = [word.lower() for word in re.split(r"[\s,]+", named) if word]
        if not words:
            raise UsageError(f"`--events` needs one or more of {', '.join(EVENT_KINDS)}.", usage)
        unknown = [word for word in dict.fromkeys(words) if word not in EVENT_KINDS]
        if unknown:
            named_wrong = ", ".join(
                f"`{escape_mrkdwn(word[:30].replace('`', ''))}`" for word in unknown[:5]
            )
            raise UsageError(
                f"I don't know the event kind{'s' if len(unknown) > 1 else ''} {named_wrong}; "
                f"the kinds are {', '.join(EVENT_KINDS)}.",
                usage,
            )
        kinds = tuple(kind for kind in EVENT_KINDS if kind in words)
    else:
        query = text
    query = _without_order_by(query)
    if not query:
        raise UsageError("Tell me a project or a JQL filter for this channel to follow.", usage)
    return SubscribeRequest(query, kinds)


def _without_order_by(query: str) -> str:
    """Order means nothing to a subscription: ORDER BY (outside quotes) and what follows go."""
    try:
        tokens = tokenize(query)
    except JqlSyntaxError:
        return query.strip()  # refused when the JQL is parsed
    for word, following in pairwise(tokens):
        if word.is_word("order") and following.is_word("by"):
            return query[: word.position].strip()
    return query.strip()


def split_project(query: str, is_project: Callable[[str], bool]) -> tuple[str | None, str]:
    """(project key, JQL): the first word is the project when it names one Connect may follow."""
    first, *others = query.split(maxsplit=1)
    rest = others[0].strip() if others else ""
    if not _PROJECT_KEY.match(first) or (rest and _OPERATOR_NEXT.match(rest)):
        return None, query
    if is_project(first.upper()):
        return first.upper(), _LEADING_AND.sub("", rest)
    if _TYPED_AS_KEY.match(first) and first != "NOT":  # written like a key, not like JQL
        raise InvalidRequest(
            f"I can't find a project *{escape_mrkdwn(first[:40])}*: it does not exist, or "
            "Connect may not follow it."
        )
    return None, query


def parse_subscription_number(text: str, *, usage: str) -> int:
    word = text.strip().lstrip("#")
    if not word.isdigit() or len(word) > 9:
        raise UsageError(
            f"`{escape_typed(text.strip()[:20])}` is not a subscription number; "
            "`/jira subscriptions` lists them.",
            usage,
        )
    return int(word)


class SubscriptionService:
    def __init__(
        self, uow: UnitOfWorkFactory, jira: JiraClient, slack: SlackClient, policy: ConnectPolicy
    ) -> None:
        self.uow = uow
        self.jira = jira
        self.policy = policy
        self.links = LinkService(uow, jira, slack, policy)  # who may manage the channel

    def subscribe(
        self, team_id: str, channel_id: str, user_id: str, request: SubscribeRequest
    ) -> SubscribeOutcome:
        self.links.ensure_bot_in_channel(channel_id)
        self.links.ensure_can_manage(channel_id, user_id)
        project, words = split_project(request.query, lambda key: key in self._project_keys())
        where = IssueService(self.jira, self.policy).parse_jql(words).where if words else None
        jql = where.jql() if where is not None else None  # canonical: what is checked is stored
        self._check_with_jira(project, where)
        for _attempt in range(8):  # bounded by how many subscribe in this channel at once
            try:
                return self._store(team_id, channel_id, user_id, project, jql, request.kinds)
            except IntegrityError:
                continue  # another subscribe took the same number: count again
        raise RuntimeError("subscription numbers kept conflicting")  # pragma: no cover

    def channel_subscriptions(self, team_id: str, channel_id: str) -> list[SubscriptionView]:
        with self.uow() as work:
            rows = work.session.scalars(
                select(ChannelSubscription)
                .where(
                    ChannelSubscription.team_id == team_id,
                    ChannelSubscription.channel_id == channel_id,
                    ChannelSubscription.active.is_(True),
                )
                .order_by(ChannelSubscription.number)
            ).all()
            return [_view(row) for row in rows]

    def unsubscribe(
        self, team_id: str, channel_id: str, user_id: str, number: int
    ) -> SubscriptionView:
        self.links.ensure_can_manage(channel_id, user_id)
        with self.uow() as work:
            row = work.session.scalars(
                select(ChannelSubscription).where(
                    ChannelSubscription.team_id == team_id,
                    ChannelSubscription.channel_id == channel_id,
                    ChannelSubscription.number == number,
                    ChannelSubscription.active.is_(True),
                )
            ).first()
            if row is None:
                raise InvalidRequest(
                    f"This channel has no subscription #{number}; `/jira subscriptions` lists them."
                )
            row.active = False
            view = _view(row)
            work.commit()
        return view

    def _project_keys(self) -> frozenset[str]:
        with jira_errors():
            projects = self.jira.projects()
        return frozenset(p.key.upper() for p in projects if self.policy.project_allowed(p.key))

    def _check_with_jira(self, project: str | None, where: Node | None) -> None:
        """Jira's own parser judges the filter, inside the wall, before anything is stored."""
        if where is None:
            return
        checked = JqlWall(self.policy.allowed_projects).wrap(subscription_query(project, where))
        try:
            with jira_errors():
                self.jira.search(checked, max_results=1)
        except JiraBadRequest as exc:
            raise InvalidRequest(
                f"Jira can't use that filter: {escape_mrkdwn(exc.message[:300])}"
            ) from None

    def _store(
        self,
        team_id: str,
        channel_id: str,
        user_id: str,
        project: str | None,
        jql: str | None,
        kinds: tuple[str, ...],
    ) -> SubscribeOutcome:
        with self.uow() as work:
            session = work.session
            mine = (
                ChannelSubscription.team_id == team_id,
                ChannelSubscription.channel_id == channel_id,
            )
            same = session.scalars(
                select(ChannelSubscription).where(
                    *mine,
                    ChannelSubscription.active.is_(True),
                    _equals(ChannelSubscription.project_key, project),
                    _equals(ChannelSubscription.jql, jql),
                )
            ).first()
            if same is not None:  # the same filter again: its kinds are what was asked now
                changed = same.kinds != kinds
                same.event_kinds = ",".join(kinds)
                view = _view(same)
                work.commit()
                return SubscribeOutcome(view, created=False, changed_kinds=changed)
            highest = session.scalar(select(func.max(ChannelSubscription.number)).where(*mine))
            row = ChannelSubscription(
                team_id=team_id,
                channel_id=channel_id,
                number=(highest or 0) + 1,  # numbers are never reused, so an old ID stays gone
                project_key=project,
                jql=jql,
                event_kinds=",".join(kinds),
                created_by=user_id,
                active=True,
            )
            session.add(row)
            session.flush()
            view = _view(row)
            work.commit()
        return SubscribeOutcome(view, created=True)


def _equals(column: InstrumentedAttribute[str | None], value: str | None) -> ColumnElement[bool]:
    return column.is_(None) if value is None else column == value


def _view(row: ChannelSubscription) -> SubscriptionView:
    return SubscriptionView(
        number=row.number,
        channel_id=row.channel_id,
        project_key=row.project_key,
        jql=row.jql,
        kinds=row.kinds,
        created_by=row.created_by,
        created_at=row.created_at,
    )
