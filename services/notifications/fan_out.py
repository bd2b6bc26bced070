"""From detected changes to notification rows: fan out to links and subscribed channels (and,
through `personal`, to the people a change concerns), keep quiet where a change was made from
Slack, and let bursts join the message already on its way (`bursts`)."""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from clients.jira_client import JiraUser
from models import (
    ChannelSettings,
    ChannelSubscription,
    ConnectAction,
    JiraSlackLink,
    SubscriptionThread,
    utcnow,
)
from services.jira_changes.detector import PERSONAL_ONLY, Change
from services.jira_changes.events import IssueSnapshot
from services.notifications.bursts import (
    BURST_WINDOW,
    HELD_CHECK,
    MAX_CHANGES_PER_MESSAGE,
    BurstQueue,
    Destination,
    OpenBursts,
    outbox_key,
)
from services.notifications.change_lines import change_line
from services.notifications.own_changes import (
    ConnectAccount,
    actor_label,
    is_origin,
    own_action,
    remember_action,
)
from services.notifications.personal import DM_SCOPE, PeopleBook, PersonalNotices
from services.subscriptions.routing import SUBSCRIPTION_KINDS, HeldCheck, Route, SubscriptionRouter
from services.subscriptions.threads import existing_threads, new_thread
from services.thread_sync.echoes import comment_origins

log = logging.getLogger(__name__)

SUBSCRIPTION_SCOPE = "subscription"
_IN_CHUNK = 500  # ids per SQL `IN (…)`

# Kept importable from here for the callers that name them so.
__all__ = [
    "BURST_WINDOW",
    "HELD_CHECK",
    "MAX_CHANGES_PER_MESSAGE",
    "Announcement",
    "ConnectAccount",
    "Destination",
    "Notifier",
    "change_line",
    "outbox_key",
    "remember_action",
]


@dataclass(frozen=True, slots=True)
class Announcement:
    """One issue's detected changes, and who made them (None when not known)."""

    issue: IssueSnapshot
    changes: Sequence[Change]
    actor: JiraUser | None = None


@dataclass(frozen=True, slots=True)
class _Plan:
    issue: IssueSnapshot
    changes: Sequence[Change]
    links: list[JiraSlackLink]  # the issue's active links in the workspace
    own: ConnectAction | None  # made from Slack by someone, through Connect
    routes: list[Route]  # subscribed channels that do not link the issue
    actor: JiraUser | None


class Notifier:
    """Fans detected changes out to a workspace's linked threads and subscribed channels, as
    outbox rows."""

    def __init__(
        self,
        *,
        connect_account: Callable[[], str | None],
        jira_base_url: str,
        clock: Callable[[], datetime] = utcnow,
        burst_window: timedelta = BURST_WINDOW,
        subscriptions: SubscriptionRouter | None = None,
        personal: PersonalNotices | None = None,
    ) -> None:
        self.connect_account = connect_account
        self.personal = personal
        self.jira_base_url = jira_base_url.rstrip("/")
        self.clock = clock
        self.burst_window = burst_window
        self.subscriptions = subscriptions
        self.queue = BurstQueue(self.jira_base_url)

    def subscribed_teams(self, session: Session, issue: IssueSnapshot) -> set[str]:
        """Workspaces that follow the issue by subscription (whether or not they link it)."""
        if self.subscriptions is None:
            return set()
        return self.subscriptions.teams_for(session, issue)

    def personal_teams(self, session: Session, accounts: set[str]) -> set[str]:
        """Workspaces where someone may be DMed about a change naming these Jira accounts."""
        if self.personal is None:
            return set()
        return self.personal.teams(session, accounts)

    def announce(
        self,
        session: Session,
        team_id: str,
        issue: IssueSnapshot,
        changes: Sequence[Change],
        *,
        actor: JiraUser | None,
    ) -> None:
        """Queue each change for every active link of the issue in this workspace, and for
        the channels whose subscriptions it matches."""
        self.announce_all(session, team_id, [Announcement(issue, tuple(changes), actor)])

    def announce_all(
        self,
        session: Session,
        team_id: str,
        announcements: Sequence[Announcement],
        *,
        links: Mapping[str, Sequence[JiraSlackLink]] | None = None,
    ) -> None:
        """`announce` for many issues of one workspace (a poller's search page): what they
        need from the database is read in a few queries for all of them, and their rows are
        written in one INSERT. Announced in order, as one `announce` call after another.
        `links`: the workspace's active links of these issues by issue id, oldest first, when
        the caller has just read them."""
        wanted = [a for a in announcements if a.changes]
        if not wanted:
            return
        if self.subscriptions is not None:
            known = self.subscriptions.known_issue
            wanted = [replace(a, issue=known(session, team_id, a.issue)) for a in wanted]
        now = self.clock()
        ids = sorted({a.issue.id for a in wanted})
        if links is None:
            links = _active_links(session, team_id, ids)
        quiet = _quiet_channels(
            session, team_id, {link.channel_id for rows in links.values() for link in rows}
        )
        people = None
        if self.personal is not None:
            pairs = [(a.issue, change) for a in wanted for change in a.changes]
            people = self.personal.book(session, team_id, pairs)
            # Jira is asked who watches before any outbox row is locked, not while they are.
            self.personal.ask_watchers(people, pairs)
        bursts = OpenBursts(session, team_id, ids, now - self.burst_window)
        subscriptions = None
        if self.subscriptions is not None and any(
            change.kind in SUBSCRIPTION_KINDS for a in wanted for change in a.changes
        ):
            subscriptions = self.subscriptions.active_subscriptions(session, team_id)
        plans = [
            self._plan(session, team_id, a, links.get(a.issue.id, ()), subscriptions, now)
            for a in wanted
        ]
        threads = self._subscription_threads(session, team_id, plans)
        for plan in plans:
            self._announce_one(session, team_id, plan, quiet, bursts, threads, now)
            if people is not None:
                self._tell_people(team_id, plan, people, bursts, now)
        bursts.insert(session)
        session.flush()

    def _plan(
        self,
        session: Session,
        team_id: str,
        announcement: Announcement,
        all_links: Sequence[JiraSlackLink],
        subscriptions: Sequence[ChannelSubscription] | None,
        now: datetime,
    ) -> _Plan:
        """What one issue's changes go to: its links active now, who made them from Slack,
        and the subscribed channels that do not link it."""
        issue, changes = announcement.issue, announcement.changes
        links = [link for link in all_links if link.retired_at is None]
        if not issue.key and links:  # Data Center comment events name the issue by id only
            issue = replace(issue, key=links[0].issue_key)
        own = own_action(
            session, team_id, issue.key, announcement.actor, self.connect_account(), now
        )
        linked = {link.channel_id for link in links}
        routes: list[Route] = []
        if self.subscriptions is not None and subscriptions:
            routes = [
                route
                for route in self.subscriptions.routes(
                    session, team_id, issue, changes, subscriptions=subscriptions
                )
                if route.channel_id not in linked
            ]
        return _Plan(issue, changes, links, own, routes, announcement.actor)

    def _subscription_threads(
        self, session: Session, team_id: str, plans: Sequence[_Plan]
    ) -> dict[tuple[str, str], SubscriptionThread]:
        """One thread per issue in each subscribed channel, opened (without a post yet) when
        new: the existing ones in one query, the new ones in one flush."""
        wanted = [(route.channel_id, plan.issue.id) for plan in plans for route in plan.routes]
        if not wanted:
            return {}
        threads = existing_threads(session, team_id, wanted)
        created = False
        for channel_id, issue_id in wanted:
            if (channel_id, issue_id) not in threads:
                thread = new_thread(session, team_id, channel_id, issue_id)
                threads[(channel_id, issue_id)] = thread
                created = True
        if created:
            session.flush()  # their ids mark the rows
        return threads

    def _announce_one(
        self,
        session: Session,
        team_id: str,
        plan: _Plan,
        quiet: set[str],
        bursts: OpenBursts,
        threads: dict[tuple[str, str], SubscriptionThread],
        now: datetime,
    ) -> None:
        issue, own = plan.issue, plan.own
        # Active when this announcement starts, as `announce` would read them.
        links = [link for link in plan.links if link.retired_at is None]
        # Comments that came from a synced thread's replies (SPEC §13): not told back there.
        echoes = comment_origins(
            session, team_id, [c.comment for c in plan.changes if c.comment is not None]
        )
        for change in plan.changes:
            label = actor_label(change, own)
            line = change_line(change, label, restricted_issue=issue.restricted)
            for link in links if change.kind not in PERSONAL_ONLY else ():
                if own is not None and is_origin(link, own):
                    continue  # the person who did it from Slack already knows
                if change.comment is not None and echoes.get(change.comment.id) == (
                    link.channel_id,
                    link.reply_thread_ts,
                ):
                    continue  # the reply it came from is right there
                if link.channel_id in quiet and not change.important:
                    continue
                destination = Destination(link.channel_id, link.reply_thread_ts)
                self.queue.enqueue(bursts, team_id, destination, issue, change, line, now)
            if change.kind == "moved" and change.new:
                for link in links:
                    link.issue_key = change.new
            if change.kind == "deleted":
                for link in links:
                    link.retired_at = now
        # One thread per issue in each subscribed channel; a channel that also links the
        # issue hears of the change through its link only.
        for route in plan.routes:
            thread = threads[(route.channel_id, issue.id)]
            if own is not None and (own.channel_id, own.thread_ts) == (
                route.channel_id,
                thread.thread_ts,
            ):
                continue  # the person who did it from Slack already knows
            held = None
            if route.held:
                held = HeldCheck(issue.id, issue.key, issue.project_key, route.held)
            destination = Destination(
                route.channel_id, thread.thread_ts, SUBSCRIPTION_SCOPE, thread.id, held
            )
            for change in route.changes:
                line = change_line(
                    change, actor_label(change, own), restricted_issue=issue.restricted
                )
                key = self.queue.enqueue(bursts, team_id, destination, issue, change, line, now)
                thread.first_outbox_key = thread.first_outbox_key or key

    def _tell_people(
        self, team_id: str, plan: _Plan, people: PeopleBook, bursts: OpenBursts, now: datetime
    ) -> None:
        """A DM to each person a change concerns (one per change, whatever the reasons)."""
        assert self.personal is not None
        issue, own = plan.issue, plan.own
        for change in plan.changes:
            told = self.personal.recipients(people, issue, change, own)
            if not told:
                continue
            line = change_line(change, actor_label(change, own), restricted_issue=issue.restricted)
            for person, reasons in told:
                destination = Destination(person.slack_user_id, None, DM_SCOPE, reasons=reasons)
                self.queue.enqueue(bursts, team_id, destination, issue, change, line, now)


def _active_links(
    session: Session, team_id: str, ids: Sequence[str]
) -> dict[str, list[JiraSlackLink]]:
    """The workspace's active links of these issues, by issue id, oldest first."""
    links: dict[str, list[JiraSlackLink]] = defaultdict(list)
    for start in range(0, len(ids), _IN_CHUNK):
        for link in session.scalars(
            select(JiraSlackLink)
            .where(
                JiraSlackLink.team_id == team_id,
                JiraSlackLink.issue_id.in_(ids[start : start + _IN_CHUNK]),
                JiraSlackLink.retired_at.is_(None),
            )
            .order_by(JiraSlackLink.id)
        ):
            links[link.issue_id].append(link)
    return links


def _quiet_channels(session: Session, team_id: str, channels: set[str]) -> set[str]:
    """Channels that asked for important changes only (SPEC §4 settings)."""
    rows = session.scalars(
        select(ChannelSettings.channel_id).where(
            ChannelSettings.team_id == team_id,
            ChannelSettings.channel_id.in_(channels),
            ChannelSettings.notify_level == "important",
        )
    ).all()
    return set(rows)
