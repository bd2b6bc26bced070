"""Which subscribed channels hear of a change: project, event kinds and JQL filter (SPEC §7).

Filters are evaluated locally where they can be (`services.subscriptions.filter`); the rest,
and filters that need a field the snapshot lacks, are asked of Jira as `key = X AND (jql)`,
one search per issue version and filter, cached for a short while.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from functools import lru_cache

from cachetools import TTLCache
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from clients.jira_client import JiraClient, JiraError, JiraUnavailable
from models import ChannelSubscription, KnownIssue
from services.jira_changes.detector import ORDER, Change, ChangeKind
from services.jira_changes.events import IssueSnapshot, utc_iso
from services.jql import Clause, JqlQuery, JqlSyntaxError, JqlWall, Junction, Node, Value, parse_jql
from services.policy import ConnectPolicy
from services.subscriptions.filter import (
    Filter,
    IssueValues,
    fields_of,
    local_filter,
    subscription_query,
)

log = logging.getLogger(__name__)

# Detected change kinds → the event kinds a subscription names.
SUBSCRIPTION_KINDS: dict[ChangeKind, str] = {
    "created": "created",
    "status": "transitioned",
    "comment_added": "commented",
    "assignee": "assigned",
    "resolution": "resolved",
}
ANSWER_TTL = 60.0
# After Jira was found unreachable, filter checks are held without asking it for this long: a
# burst of deliveries during an outage does not wait out a timeout each.
OUTAGE_PAUSE = 10.0
PROJECTS_TTL = 600.0
ANSWERS_KEPT = 4096  # distinct (issue version, filter) questions


@dataclass(frozen=True, slots=True)
class Route:
    """A channel that hears of these changes. `held`: the subscriptions (ids) whose filters
    Jira could not check (an outage); the channel hears of the changes once one matches."""

    channel_id: str
    changes: tuple[Change, ...]
    held: tuple[int, ...] = ()


@dataclass(frozen=True, slots=True)
class _StoredFilter:
    where: Node | None
    local: Filter | None  # what Connect can evaluate itself, when it can
    broken: bool  # not JQL Connect reads (stored before it was checked): matches nothing


@lru_cache(maxsize=1024)
def _stored_filter(text: str) -> _StoredFilter:
    """Parsed once per filter text; a broken one is logged once, when first read."""
    try:
        where = parse_jql(text).where
    except JqlSyntaxError as exc:
        log.warning("a stored subscription filter is not JQL Connect reads: %s", exc)
        return _StoredFilter(None, None, broken=True)
    return _StoredFilter(where, local_filter(where) if where is not None else None, broken=False)


class SubscriptionRouter:
    """Shared by the delivery processor and the poller: the caches are thread-safe."""

    def __init__(
        self,
        jira: JiraClient,
        policy: ConnectPolicy,
        *,
        clock: Callable[[], float] = time.monotonic,
        answer_ttl: float = ANSWER_TTL,
        outage_pause: float = OUTAGE_PAUSE,
    ) -> None:
        self.jira = jira
        self.policy = policy
        self.clock = clock
        self.answer_ttl = answer_ttl
        self.outage_pause = outage_pause
        self._lock = threading.Lock()  # cachetools' caches are not thread-safe on their own
        self._answers: TTLCache[str, bool] = TTLCache(ANSWERS_KEPT, answer_ttl, timer=clock)
        self._projects: TTLCache[str, dict[str, tuple[str, ...]]] = TTLCache(
            1, PROJECTS_TTL, timer=clock
        )
        self._jira_away_until = float("-inf")

    def teams_for(self, session: Session, issue: IssueSnapshot) -> set[str]:
        """Workspaces with a subscription that may want to hear of this issue."""
        if issue.project_key and not self.policy.project_allowed(issue.project_key):
            return set()
        query = select(ChannelSubscription.team_id).where(ChannelSubscription.active.is_(True))
        if issue.project_key:
            query = query.where(
                or_(
                    ChannelSubscription.project_key.is_(None),
                    ChannelSubscription.project_key == issue.project_key.upper(),
                )
            )
        return set(session.scalars(query.distinct()))

    def known_issue(self, session: Session, team_id: str, issue: IssueSnapshot) -> IssueSnapshot:
        """Fill in the key and project a delivery left out (Data Center comment events)."""
        if issue.key and issue.project_key:
            return issue
        known = session.scalars(
            select(KnownIssue).where(KnownIssue.team_id == team_id, KnownIssue.issue_id == issue.id)
        ).first()
        if known is None or not known.issue_key:
            return issue
        return replace(
            issue,
            key=issue.key or known.issue_key,
            project_key=issue.project_key or known.project_key,
        )

    def routes(
        self,
        session: Session,
        team_id: str,
        issue: IssueSnapshot,
        changes: Sequence[Change],
        *,
        subscriptions: Sequence[ChannelSubscription] | None = None,
    ) -> list[Route]:
        """The channels that follow these changes, each with the changes it asked for
        (`subscriptions`: the workspace's `active_subscriptions`, when already read)."""
        followed = [change for change in changes if change.kind in SUBSCRIPTION_KINDS]
        if not followed:
            return []
        if issue.project_key and not self.policy.project_allowed(issue.project_key):
            return []
        if subscriptions is None:
            subscriptions = self.active_subscriptions(session, team_id)
        chosen: dict[str, list[Change]] = {}
        unchecked: dict[str, tuple[list[Change], list[int]]] = {}
        for subscription in subscriptions:
            kinds = subscription.kinds
            wanted = [c for c in followed if SUBSCRIPTION_KINDS[c.kind] in kinds]
            if not wanted:
                continue
            try:
                if not self._matches_alone(subscription, issue):
                    continue
            except JiraUnavailable as exc:  # asked again once Jira is back: nothing is lost
                log.warning("subscription %s waits for Jira: %s", subscription.id, exc.message)
                heard, held = unchecked.setdefault(subscription.channel_id, ([], []))
                heard.extend(change for change in wanted if change not in heard)
                held.append(subscription.id)
                continue
            heard = chosen.setdefault(subscription.channel_id, [])
            heard.extend(change for change in wanted if change not in heard)
        routes = [Route(channel, _ordered(heard)) for channel, heard in chosen.items()]
        routes.extend(
            Route(channel, _ordered(heard), tuple(held))
            for channel, (heard, held) in unchecked.items()
            if channel not in chosen
        )
        return routes

    def held_matches(self, session: Session, team_id: str, held: HeldCheck) -> bool:
        """Whether one of the held subscriptions, still active, matches the issue now (Jira
        is asked; JiraUnavailable while it is still away)."""
        if held.project_key and not self.policy.project_allowed(held.project_key):
            return False
        subscriptions = session.scalars(
            select(ChannelSubscription).where(
                ChannelSubscription.team_id == team_id,
                ChannelSubscription.id.in_(held.subscription_ids),
                ChannelSubscription.active.is_(True),
            )
        ).all()
        issue = IssueSnapshot(id=held.issue_id, key=held.issue_key, project_key=held.project_key)
        return any(self.matches(subscription, issue) for subscription in subscriptions)

    def _matches_alone(self, subscription: ChannelSubscription, issue: IssueSnapshot) -> bool:
        """One subscription's failure is its own: the delivery goes on for the others."""
        try:
            return self.matches(subscription, issue)
        except JiraUnavailable:
            raise  # the whole delivery waits for Jira and is retried; nothing is lost
        except Exception:
            log.exception(
                "subscription #%s of %s could not be matched; skipped",
                subscription.number,
                subscription.channel_id,
            )
            return False

    def active_subscriptions(self, session: Session, team_id: str) -> list[ChannelSubscription]:
        return list(
            session.scalars(
                select(ChannelSubscription)
                .where(ChannelSubscription.team_id == team_id, ChannelSubscription.active.is_(True))
                .order_by(ChannelSubscription.channel_id, ChannelSubscription.number)
            )
        )

    def matches(self, subscription: ChannelSubscription, issue: IssueSnapshot) -> bool:
        project = issue.project_key.upper()
        if project and subscription.project_key and project != subscription.project_key:
            return False
        stored = _stored_filter(subscription.jql) if subscription.jql else None
        if stored is not None and stored.broken:
            return False  # only this subscription: the others are routed as ever
        query = subscription_query(subscription.project_key, stored.where if stored else None)
        if project:  # the project is settled: only the filter is left
            where, local = (stored.where, stored.local) if stored else (None, None)
        else:
            where = query.where
            local = local_filter(where) if where is not None else None
        if where is None:
            return True
        if local is not None:
            answer = local.evaluate(self._values(issue, fields_of(local)))
            if answer is not None:
                return answer
        return self._ask_jira(issue, query)

    def _values(self, issue: IssueSnapshot, needed: frozenset[str]) -> IssueValues:
        """What the snapshot says of each field; None where it cannot say (labels, reporter
        and components are not in webhook snapshots; comment events carry fewer fields)."""
        complete = issue.complete
        assignee = issue.assignee
        values: dict[str, tuple[str, ...] | None] = {
            "status": _lowered(issue.status) or None,
            "issuetype": _lowered(issue.issue_type) or None,
            "priority": _lowered(issue.priority) or (() if complete else None),
            "assignee": (
                _lowered(assignee.account_id, assignee.display_name, assignee.email)
                if assignee is not None
                else (() if complete else None)
            ),
        }
        if "project" in needed and issue.project_key:
            values["project"] = self._project_names(issue.project_key)
        return values

    def _project_names(self, key: str) -> tuple[str, ...] | None:
        """A filter may name a project by key, name or id; Jira's list is asked rarely."""
        with self._lock:
            names = self._projects.get("")
        if names is None:
            try:
                projects = self.jira.projects()
            except JiraError as exc:
                log.warning("could not list Jira's projects: %s", exc.message)
                return None
            names = {p.key.upper(): _lowered(p.key, p.name, p.id) for p in projects}
            with self._lock:
                self._projects[""] = names
        return names.get(key.upper(), _lowered(key))

    def _ask_jira(self, issue: IssueSnapshot, subscribed: JqlQuery) -> bool:
        """`key = X AND (filter)`, inside the wall like every JQL Connect sends."""
        which = Clause(Value("key" if issue.key else "id"), "=", Value(issue.key or issue.id))
        where: Node = which
        if subscribed.where is not None:
            where = Junction(True, (which, subscribed.where))
        query = JqlWall(self.policy.allowed_projects).wrap(JqlQuery(where))
        version = utc_iso(issue.updated) if issue.updated else ""
        cache_key = f"{version}|{query}"
        now = self.clock()
        with self._lock:
            cached = self._answers.get(cache_key)
            away = now < self._jira_away_until
        if cached is not None:
            return cached
        if away:
            raise JiraUnavailable("Jira was unreachable moments ago: not asked again yet.")
        try:
            answer = bool(self.jira.search(query, max_results=1).issues)
        except JiraUnavailable:
            with self._lock:
                self._jira_away_until = now + self.outage_pause
            raise  # the check is held and asked again later; nothing is lost
        except JiraError as exc:
            log.warning("a subscription filter could not be checked (%s): %s", query, exc.message)
            answer = False
        with self._lock:
            self._answers[cache_key] = answer
        return answer


@dataclass(frozen=True, slots=True)
class HeldCheck:
    """What a held notification keeps to ask Jira later: the issue and the subscriptions."""

    issue_id: str
    issue_key: str
    project_key: str
    subscription_ids: tuple[int, ...]

    def to_json(self) -> dict[str, object]:
        return {
            "issue_id": self.issue_id,
            "issue_key": self.issue_key,
            "project_key": self.project_key,
            "subscriptions": list(self.subscription_ids),
        }

    @classmethod
    def from_json(cls, data: object) -> HeldCheck | None:
        if not isinstance(data, dict):
            return None
        ids = data.get("subscriptions")
        if not isinstance(ids, list) or not all(isinstance(i, int) for i in ids):
            return None
        return cls(
            str(data.get("issue_id") or ""),
            str(data.get("issue_key") or ""),
            str(data.get("project_key") or ""),
            tuple(ids),
        )


def _ordered(changes: list[Change]) -> tuple[Change, ...]:
    return tuple(sorted(changes, key=lambda c: ORDER.index(c.kind)))


def _lowered(*values: str | None) -> tuple[str, ...]:
    return tuple(dict.fromkeys(value.lower() for value in values if value))
