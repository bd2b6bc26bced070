"""From detected changes to notification rows: fan out to links and subscribed channels,
coalesce bursts, keep quiet where a change was made from Slack."""

from __future__ import annotations

import hashlib
import logging
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from clients.jira_client import JiraClient, JiraError, JiraUser
from models import (
    ChannelSettings,
    ChannelSubscription,
    ConnectAction,
    JiraSlackLink,
    NotificationOutbox,
    SubscriptionThread,
    utcnow,
)
from models.delivery import HELD, PENDING
from services.jira_changes.detector import Change
from services.jira_changes.events import IssueSnapshot
from services.subscriptions.routing import (
    SUBSCRIPTION_KINDS,
    HeldCheck,
    Route,
    SubscriptionRouter,
)
from services.subscriptions.threads import MARKER, existing_threads, new_thread
from services.thread_sync.echoes import comment_origins
from services.unit_of_work import UnitOfWorkFactory

log = logging.getLogger(__name__)

BURST_WINDOW = timedelta(seconds=2)
# Changes one message carries; a longer burst continues in the next message. 20 sections and
# the card's context and actions stay within MAX_BLOCKS, and 20 comments of at most 1,500
# characters within MAX_MESSAGE_TEXT (`clients.slack_limits`).
MAX_CHANGES_PER_MESSAGE = 20
HELD_CHECK = "check"  # payload: what a held row asks Jira before it may be sent
OWN_ACTION_WINDOW = timedelta(minutes=10)
MAX_ATTEMPTS = 5
SUBSCRIPTION_SCOPE = "subscription"
_IN_CHUNK = 500  # ids per SQL `IN (…)`


class ConnectAccount:
    """Connect's own Jira account id, asked once (None while Jira cannot say)."""

    def __init__(self, jira: JiraClient) -> None:
        self._jira = jira
        self._account_id: str | None = None

    def __call__(self) -> str | None:
        if self._account_id is None:
            try:
                self._account_id = self._jira.myself().account_id
            except JiraError as exc:
                log.warning("could not ask Jira for Connect's own account: %s", exc.message)
        return self._account_id


def remember_action(
    uow: UnitOfWorkFactory,
    *,
    team_id: str,
    issue_key: str,
    channel_id: str | None,
    thread_ts: str | None,
    slack_user_id: str,
    actor_name: str,
) -> None:
    """After Jira accepted a change Connect made for someone: its echo is theirs, and not told
    back where they made it. Never before: a refused write must not claim or hide anything.

    A failure to note it is logged, not raised: the change is made, and an echo is all it costs.
    """
    try:
        with uow() as work:
            work.session.add(
                ConnectAction(
                    team_id=team_id,
                    issue_key=issue_key.upper(),
                    channel_id=channel_id,
                    thread_ts=thread_ts,
                    slack_user_id=slack_user_id,
                    actor_name=actor_name[:255],
                )
            )
            work.commit()
    except SQLAlchemyError:
        log.exception("could not note the change of %s made from Slack", issue_key)


def outbox_key(change: Change, channel_id: str, thread_ts: str | None) -> str:
    raw = f"{change.identity}|{channel_id}|{thread_ts or ''}"
    return hashlib.sha256(raw.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class Destination:
    """Where one change is posted. A subscription's rows are keyed by the subscription (its
    thread may not be known yet) and name their thread for the outbox (`thread_id`)."""

    channel_id: str
    thread_ts: str | None
    key_scope: str | None = None
    thread_id: int | None = None
    held: HeldCheck | None = None  # a subscription filter Jira could not check yet

    @property
    def scope(self) -> str | None:
        return self.key_scope or self.thread_ts


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


class _Pending:
    """The rows still gathering a burst (pending or held, never tried, created within the
    window) for some issues, by thread: read once, and joined by the rows queued meanwhile.
    A held row (its subscription filter waits for Jira) is joined only by held changes."""

    def __init__(self, session: Session, team_id: str, ids: Sequence[str], since: datetime):
        self.rows: dict[_BurstKey, NotificationOutbox | _NewRow] = {}
        self.new: list[_NewRow] = []  # queued by this batch, inserted together at its end
        for start in range(0, len(ids), _IN_CHUNK):
            for row in session.scalars(
                select(NotificationOutbox)
                .where(
                    NotificationOutbox.team_id == team_id,
                    NotificationOutbox.issue_id.in_(ids[start : start + _IN_CHUNK]),
                    NotificationOutbox.status.in_((PENDING, HELD)),
                    NotificationOutbox.attempts == 0,
                    NotificationOutbox.created_at >= since,
                )
                .order_by(NotificationOutbox.id)
                .with_for_update()
            ):  # the newest row of a thread is the one a burst continues in
                key = (row.channel_id, row.thread_ts, row.issue_id, row.status == HELD)
                self.rows[key] = row

    def find(
        self, channel_id: str, thread_ts: str | None, issue_id: str, *, held: bool
    ) -> NotificationOutbox | _NewRow | None:
        return self.rows.get((channel_id, thread_ts, issue_id, held))

    def add(self, row: _NewRow) -> None:
        """A new row; later changes to the same thread join it (it takes a full row's place)."""
        key = (row["channel_id"], row["thread_ts"], row["issue_id"], row["status"] == HELD)
        self.rows[key] = row
        self.new.append(row)

    def insert(self, session: Session) -> None:
        """The new rows, in one INSERT of many (ORM objects would cost a flush each)."""
        if self.new:
            session.execute(insert(NotificationOutbox), self.new)
            self.new = []


_NewRow = dict[str, Any]  # NotificationOutbox's columns
_BurstKey = tuple[str, str | None, str | None, bool]  # channel, thread, issue, held


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
    ) -> None:
        self.connect_account = connect_account
        self.jira_base_url = jira_base_url.rstrip("/")
        self.clock = clock
        self.burst_window = burst_window
        self.subscriptions = subscriptions

    def subscribed_teams(self, session: Session, issue: IssueSnapshot) -> set[str]:
        """Workspaces that follow the issue by subscription (whether or not they link it)."""
        if self.subscriptions is None:
            return set()
        return self.subscriptions.teams_for(session, issue)

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
        pending = _Pending(session, team_id, ids, now - self.burst_window)
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
            self._announce_one(session, team_id, plan, quiet, pending, threads, now)
        pending.insert(session)
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
        own = self._own_action(session, team_id, issue, announcement.actor, now)
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
        return _Plan(issue, changes, links, own, routes)

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
        pending: _Pending,
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
            label = _actor_label(change, own)
            for link in links:
                if own is not None and _is_origin(link, own):
                    continue  # the person who did it from Slack already knows
                if change.comment is not None and echoes.get(change.comment.id) == (
                    link.channel_id,
                    link.reply_thread_ts,
                ):
                    continue  # the reply it came from is right there
                if link.channel_id in quiet and not change.important:
                    continue
                destination = Destination(link.channel_id, link.reply_thread_ts)
                self._enqueue(session, pending, team_id, destination, issue, change, label, now)
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
                label = _actor_label(change, own)
                key = self._enqueue(
                    session, pending, team_id, destination, issue, change, label, now
                )
                thread.first_outbox_key = thread.first_outbox_key or key

    def _own_action(
        self,
        session: Session,
        team_id: str,
        issue: IssueSnapshot,
        actor: JiraUser | None,
        now: datetime,
    ) -> ConnectAction | None:
        own_account = self.connect_account()
        if actor is None or own_account is None or actor.account_id != own_account:
            return None
        return session.scalars(
            select(ConnectAction)
            .where(
                ConnectAction.team_id == team_id,
                ConnectAction.issue_key == issue.key,
                ConnectAction.created_at >= now - OWN_ACTION_WINDOW,
            )
            .order_by(ConnectAction.created_at.desc())
            .limit(1)
        ).first()

    def _enqueue(
        self,
        session: Session,
        pending: _Pending,
        team_id: str,
        destination: Destination,
        issue: IssueSnapshot,
        change: Change,
        actor: str,
        now: datetime,
    ) -> str:
        """Queue the change (into a pending row of the same burst when there is one); the
        idempotency key of the row that carries it."""
        thread_ts = destination.thread_ts
        line = change_line(change, actor, restricted_issue=issue.restricted)
        held = destination.held
        row = pending.find(destination.channel_id, thread_ts, issue.id, held=held is not None)
        if isinstance(row, dict):  # queued by this batch: still to be inserted
            payload = row["payload"]
            if len(payload["changes"]) < MAX_CHANGES_PER_MESSAGE:
                self._join(payload, issue, line, held)
                return str(row["idempotency_key"])
        elif row is not None:  # a burst: one message per thread for changes within the window
            payload = dict(row.payload)
            if len(payload.get("changes", [])) < MAX_CHANGES_PER_MESSAGE:
                payload["changes"] = list(payload.get("changes", []))
                self._join(payload, issue, line, held)
                row.payload = payload
                return row.idempotency_key
        key = outbox_key(change, destination.channel_id, destination.scope)
        fresh: dict[str, Any] = {"issue": self._issue_payload(issue, None), "changes": [line]}
        if destination.thread_id is not None:
            fresh[MARKER] = destination.thread_id
        if destination.held is not None:
            fresh[HELD_CHECK] = destination.held.to_json()
        pending.add(
            {
                "team_id": team_id,
                "idempotency_key": key,
                "channel_id": destination.channel_id,
                "thread_ts": thread_ts,
                "issue_id": issue.id,
                "payload": fresh,
                "status": PENDING if destination.held is None else HELD,
                "attempts": 0,
                "outages": 0 if destination.held is None else 1,
                "created_at": now,
                "available_at": now + self.burst_window,
            }
        )
        return key

    def _join(
        self,
        payload: dict[str, Any],
        issue: IssueSnapshot,
        line: dict[str, Any],
        held: HeldCheck | None,
    ) -> None:
        """One more change in a row's payload (a held row: its subscriptions too)."""
        payload["issue"] = self._issue_payload(issue, payload.get("issue"))
        payload["changes"].append(line)
        if held is not None:
            before = HeldCheck.from_json(payload.get(HELD_CHECK))
            ids = sorted({*held.subscription_ids, *(before.subscription_ids if before else ())})
            payload[HELD_CHECK] = replace(held, subscription_ids=tuple(ids)).to_json()

    def _issue_payload(self, issue: IssueSnapshot, before: Any) -> dict[str, Any]:
        known = dict(before) if isinstance(before, dict) else {}
        fresh = {
            "id": issue.id,
            "key": issue.key,
            "summary": issue.summary,
            "status": issue.status,
            "url": f"{self.jira_base_url}/browse/{issue.key}",
        }
        payload = {**known, **{k: v for k, v in fresh.items() if v}}
        if issue.restricted or known.get("restricted"):
            # A security level: the summary is never stored for a channel, let alone shown.
            payload.pop("summary", None)
            payload["restricted"] = True
        return payload


# What a change says of the issue's text: left out when the issue has a security level.
_TEXT_KINDS = frozenset({"summary", "created"})


def change_line(change: Change, actor: str, *, restricted_issue: bool = False) -> dict[str, Any]:
    """What one change says, as plain data; handlers render it. Restricted content (SPEC
    §7) is left out here, so that no outbox row ever holds it."""
    hide_text = restricted_issue and change.kind in _TEXT_KINDS
    line: dict[str, Any] = {
        "kind": change.kind,
        "actor": actor,
        "old": None if hide_text else change.old,
        "new": None if hide_text else change.new,
    }
    if hide_text:
        line["restricted"] = True
    if change.comment is not None:
        line["comment_id"] = change.comment.id
        if change.comment.restricted or restricted_issue:
            line["restricted"] = True
        else:
            line["comment"] = change.comment.body[:3000]
    return line


def _actor_label(change: Change, own: ConnectAction | None) -> str:
    if own is not None:
        return f"{own.actor_name} (via Slack)"
    return change.actor.display_name if change.actor else "Someone"


def _is_origin(link: JiraSlackLink, own: ConnectAction) -> bool:
    if link.channel_id != own.channel_id:
        return False
    if own.thread_ts is None:
        return link.is_channel_link
    return link.reply_thread_ts == own.thread_ts


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
