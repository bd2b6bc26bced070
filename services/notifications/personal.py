"""Personal notifications (SPEC §7): who a change concerns, and which of them get a DM.

A person mapped to a Jira account (a `UserLink`) is DMed when an issue is assigned to them, when
a comment or description @mentions them, and when an issue they reported or watch is commented
on or changes status, as far as their choice allows (`/jira notify`, `preferences`). Never for
their own changes: those made with their Jira account, or credited to them through Connect
(bot mode). One change makes at most one DM per person, whatever the reasons; it is an outbox
row like any other, so it is posted once and follows the same burst handling.

What a DM may say is the policy's: `DmPolicy.may_see(person, issue, change)`. In bot mode
(`BotModeDms`) restricted content is never DMed: a restricted comment is no DM at all, and a
security-level issue is told without its summary, as in a channel. User mode (each person's
own token) plugs in here with a policy that asks Jira as that person.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session

from models import ConnectAction, NotifyPreference, UserLink
from models.users import DEFAULT_NOTICES, NOTICE_KINDS
from services.jira_changes.detector import Change
from services.jira_changes.events import IssueSnapshot, JiraEvent
from services.markup.mentions import mentioned_accounts
from services.notifications.watchers import IssueWatchers
from services.people.accounts import OPTED_OUT

DM_SCOPE = "dm"
# What an issue someone reported or watches is news for them about.
FOLLOWED_KINDS = frozenset({"comment_added", "status"})
ASSIGNING_KINDS = frozenset({"assignee", "created"})
_IN_CHUNK = 500


@dataclass(frozen=True, slots=True)
class Person:
    team_id: str
    slack_user_id: str
    account_id: str
    notices: frozenset[str]


class DmPolicy(Protocol):
    def may_see(self, person: Person, issue: IssueSnapshot, change: Change) -> bool:
        """Whether this change may be DMed to this person at all."""
        ...


class BotModeDms:
    """Bot mode: Connect reads Jira with one account, so it cannot tell who may read a
    restricted comment: such a comment is never DMed (SPEC §11). A security-level issue is
    DMed as a channel hears of it: without its summary (the payload never holds it)."""

    def may_see(self, person: Person, issue: IssueSnapshot, change: Change) -> bool:
        return not (change.comment is not None and change.comment.restricted)


def concerned_accounts(event: JiraEvent) -> set[str]:
    """The Jira accounts a webhook event may concern, read before any detection: the
    assignee (as the issue and the changelog name them), the reporter, and whoever its text
    @mentions."""
    issue = event.issue
    accounts: set[str] = set()
    if issue is not None:
        accounts.update(u.account_id for u in (issue.assignee, issue.reporter) if u is not None)
        accounts.update(issue.mentions)
    if event.comment is not None:
        accounts.update(event.comment.mentions)
    for item in event.changes:
        if item.field == "assignee" and item.to_id:
            accounts.add(item.to_id)
        if item.field == "description":
            accounts.update(mentioned_accounts(item.to_string or ""))
    return accounts


class PeopleBook:
    """The workspace's mapped people a batch of changes may concern, read in a few queries."""

    def __init__(self, session: Session, team_id: str, accounts: Iterable[str]) -> None:
        wanted = sorted(set(accounts))
        self.by_account: dict[str, Person] = {}
        self.watching: list[Person] = []
        links: list[UserLink] = []
        for start in range(0, len(wanted), _IN_CHUNK):
            links += session.scalars(
                select(UserLink).where(
                    UserLink.team_id == team_id,
                    UserLink.jira_account_id.in_(wanted[start : start + _IN_CHUNK]),
                )
            ).all()
        watchers = _watching_people(session, team_id)
        chosen = _choices(session, team_id, {link.slack_user_id for link in links})
        chosen.update(watchers)
        for link in [*links, *_links_of(session, team_id, watchers)]:
            if link.jira_account_id == OPTED_OUT:
                continue
            notices = chosen.get(link.slack_user_id, frozenset(DEFAULT_NOTICES))
            person = Person(team_id, link.slack_user_id, link.jira_account_id, notices)
            if person.account_id in self.by_account:
                continue  # read both as named and as a watcher
            self.by_account[person.account_id] = person
            if "watching" in notices:
                self.watching.append(person)


def _watching_people(session: Session, team_id: str) -> dict[str, frozenset[str]]:
    rows = session.scalars(
        select(NotifyPreference).where(
            NotifyPreference.team_id == team_id, NotifyPreference.kinds.contains("watching")
        )
    ).all()
    return {row.slack_user_id: frozenset(row.chosen) for row in rows}


def _choices(session: Session, team_id: str, users: set[str]) -> dict[str, frozenset[str]]:
    ordered = sorted(users)
    chosen: dict[str, frozenset[str]] = {}
    for start in range(0, len(ordered), _IN_CHUNK):
        for row in session.scalars(
            select(NotifyPreference).where(
                NotifyPreference.team_id == team_id,
                NotifyPreference.slack_user_id.in_(ordered[start : start + _IN_CHUNK]),
            )
        ):
            chosen[row.slack_user_id] = frozenset(row.chosen)
    return chosen


def _links_of(session: Session, team_id: str, users: Iterable[str]) -> Sequence[UserLink]:
    ordered = sorted(users)
    if not ordered:
        return []
    return session.scalars(
        select(UserLink).where(UserLink.team_id == team_id, UserLink.slack_user_id.in_(ordered))
    ).all()


class PersonalNotices:
    """Who among a workspace's people a change is DMed to, and why."""

    def __init__(self, watchers: IssueWatchers | None, policy: DmPolicy | None = None) -> None:
        self.watchers = watchers
        self.policy: DmPolicy = policy or BotModeDms()

    def teams(self, session: Session, accounts: Iterable[str]) -> set[str]:
        """Workspaces with someone these accounts name, or someone who follows what they
        watch (whose watchers only Jira knows)."""
        wanted = sorted(set(accounts))
        teams: set[str] = set()
        for start in range(0, len(wanted), _IN_CHUNK):
            teams.update(
                session.scalars(
                    select(UserLink.team_id)
                    .where(UserLink.jira_account_id.in_(wanted[start : start + _IN_CHUNK]))
                    .distinct()
                )
            )
        teams.update(
            session.scalars(
                select(NotifyPreference.team_id)
                .where(NotifyPreference.kinds.contains("watching"))
                .distinct()
            )
        )
        return teams

    def book(
        self, session: Session, team_id: str, changes: Iterable[tuple[IssueSnapshot, Change]]
    ) -> PeopleBook:
        """The people these changes may concern in this workspace."""
        accounts: set[str] = set()
        for issue, change in changes:
            accounts.update(_named(issue, change))
        return PeopleBook(session, team_id, accounts)

    def ask_watchers(
        self, book: PeopleBook, changes: Iterable[tuple[IssueSnapshot, Change]]
    ) -> None:
        """Who watches the issues these changes may tell watchers about, asked of Jira (or the
        cache) now, so that `recipients` finds the answers cached."""
        if not book.watching or self.watchers is None:
            return
        for key in sorted({i.key for i, c in changes if i.key and c.kind in FOLLOWED_KINDS}):
            self.watchers.of(key)

    def recipients(
        self,
        book: PeopleBook,
        issue: IssueSnapshot,
        change: Change,
        own: ConnectAction | None,
    ) -> list[tuple[Person, tuple[str, ...]]]:
        """Each person this change is DMed to, once, with the reasons (in `NOTICE_KINDS`
        order) they chose among those that apply."""
        if not issue.key:  # a Data Center comment event about an issue never seen: no key to show
            return []
        reasons: dict[str, set[str]] = {}

        def concern(account: str | None, reason: str) -> None:
            person = book.by_account.get(account or "")
            if person is not None and reason in person.notices:
                reasons.setdefault(person.account_id, set()).add(reason)

        if change.kind in ASSIGNING_KINDS:
            concern(change.new_id, "assigned")
        for account in change.mentions:
            concern(account, "mentions")
        if change.kind in FOLLOWED_KINDS:
            concern(issue.reporter.account_id if issue.reporter else None, "reported")
            if book.watching and self.watchers is not None and issue.key:
                watched_by = self.watchers.of(issue.key)
                for person in book.watching:
                    if person.account_id in watched_by:
                        concern(person.account_id, "watching")
        told: list[tuple[Person, tuple[str, ...]]] = []
        for account, why in reasons.items():
            person = book.by_account[account]
            if change.actor is not None and change.actor.account_id == person.account_id:
                continue  # their own change, made in Jira
            if own is not None and own.slack_user_id == person.slack_user_id:
                continue  # their own change, made through Connect
            if not self.policy.may_see(person, issue, change):
                continue
            told.append((person, tuple(kind for kind in NOTICE_KINDS if kind in why)))
        return told


def _named(issue: IssueSnapshot, change: Change) -> set[str]:
    named = set(change.mentions)
    if change.kind in ASSIGNING_KINDS and change.new_id:
        named.add(change.new_id)
    if change.kind in FOLLOWED_KINDS and issue.reporter is not None:
        named.add(issue.reporter.account_id)
    return named
