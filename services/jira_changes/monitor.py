"""The Jira monitor: the poller that finds changes no webhook reported (SPEC §7, §8).

A cycle asks Jira only for issues updated since the stored cursor, in batched JQL:

    project in ("OPS", …) AND updated >= -Nm        one search for the subscribed projects
    key in ("K1", …, "K100") AND updated >= -Nm     one search per 100 linked issues

so N linked issues cost ⌈N/100⌉ + 1 searches a cycle (more pages only when more than a page
changed; a linked issue the project search brought back is not asked for again by key), each
issue's comments come in the same answer, and no issue is read on its own. The
window is in relative minutes, which Jira evaluates on its own clock (its time zone cannot
shift it), reaching back to the previous cycle's start plus an overlap: what is seen twice,
the change detector tells once.

Results go through the same detector and notifier as webhooks, for every workspace that
links the issue or follows it by subscription, in one unit of work per batch; the cursor moves
to the cycle's start only once every batch is stored, so a crash or a Jira outage repeats a
window and never skips one. A key that no longer exists makes Jira reject its whole
batch (400): the keys Jira names, or else the ones found by halving the batch, are checked by
issue id; a deleted issue's links are retired and the deletion announced, a moved issue is
followed to its new key — unless its new project is outside JIRA_PROJECTS, when it is
retired unannounced (services.jira_changes.wall). On other Jira errors the monitor keeps its
cursor and backs off (doubling, up to 10 minutes). Only the holder of the poll lease polls
(services.jira_changes.poll_lease).
"""

from __future__ import annotations

import logging
import math
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from clients.jira_client import JiraBadRequest, JiraClient, JiraError, JiraIssue, JiraNotFound
from models import ChannelSubscription, JiraSlackLink, KnownIssue, PollCursor, utcnow
from services.issues.keys import parse_issue_key, project_of
from services.jira_changes.detector import Change, detect_deleted, detect_snapshot
from services.jira_changes.events import IssueSnapshot, comment_info, snapshot_of
from services.jira_changes.known_issues import known_issue_for, refresh_known_issue
from services.jira_changes.poll_lease import SITE, PollLease
from services.jira_changes.poll_search import UpdatedSearch, keys_named, quoted, values_named
from services.jira_changes.wall import ProjectWall
from services.notifications.fan_out import Announcement, Notifier
from services.policy import ConnectPolicy
from services.unit_of_work import UnitOfWorkFactory, reading

log = logging.getLogger(__name__)

CURSOR_SCOPE = "updated"
WEBHOOK_GRACE = timedelta(seconds=20)
BATCH_SIZE = 100  # keys per `key in (…)`
PAGE_SIZE = 100
OVERLAP = timedelta(minutes=2)
FIRST_LOOKBACK = timedelta(minutes=10)  # the very first cycle, when there is no cursor yet
MAX_BACKOFF = timedelta(minutes=10)
MIN_LEASE = timedelta(minutes=1)
_IN_CHUNK = 500  # ids per SQL `IN (…)`


@dataclass(frozen=True, slots=True)
class PollReport:
    polled: bool  # False: another process holds the lease, or Jira is being given a rest
    searches: int = 0
    reads: int = 0  # other calls, only to check what Jira refused in a search
    issues: int = 0
    changes: int = 0
    retired: tuple[str, ...] = ()


class _LeaseLost(Exception):
    """Another process took over polling in the middle of a cycle."""


@dataclass
class _Cycle:
    since: datetime | None  # the previous cycle's start
    keys: dict[str, set[str]]  # linked issue key -> issue ids
    projects: list[str]
    subscribed: bool  # any active subscription, with a project or not
    search: UpdatedSearch
    reads: int = 0
    issues: int = 0
    changes: int = 0
    retired: list[str] = field(default_factory=list)
    seen: set[str] = field(default_factory=set)  # issue ids already through the detector
    site_projects: set[str] | None = None  # asked only when Jira refuses a project

    def report(self, *, polled: bool) -> PollReport:
        return PollReport(
            polled,
            self.search.searches,
            self.reads,
            self.issues,
            self.changes,
            tuple(self.retired),
        )


@dataclass
class _SearchResult:
    issues: list[JiraIssue] = field(default_factory=list)
    gone: list[tuple[str, str]] = field(default_factory=list)  # (key, issue id)


class JiraMonitor:
    """The poller; `run_once` is its periodic job (a worker thread calls it every interval)."""

    def __init__(
        self,
        uow: UnitOfWorkFactory,
        jira: JiraClient,
        notifier: Notifier,
        *,
        interval: float,
        clock: Callable[[], datetime] = utcnow,
        lease: PollLease | None = None,
        overlap: timedelta = OVERLAP,
        batch_size: int = BATCH_SIZE,
        page_size: int = PAGE_SIZE,
        max_backoff: timedelta = MAX_BACKOFF,
        webhook_grace: timedelta | None = None,
        wall: ProjectWall | None = None,
    ) -> None:
        self.uow = uow
        self.wall = wall or ProjectWall(ConnectPolicy())
        self.jira = jira
        self.notifier = notifier
        self.interval = timedelta(seconds=max(interval, 1.0))
        self.clock = clock
        self.lease = lease or PollLease(uow, ttl=max(3 * self.interval, MIN_LEASE), clock=clock)
        self.overlap = overlap
        self.batch_size = batch_size
        self.page_size = page_size
        self.max_backoff = max_backoff
        # A webhook names who made a change and the poller cannot: changes this fresh are left
        # to the webhook, and the next cycle (whose window overlaps this one) looks again.
        default_grace = min(WEBHOOK_GRACE, 2 * self.interval, overlap / 2)
        self.webhook_grace = default_grace if webhook_grace is None else webhook_grace
        self._failures = 0
        self._resume_at: datetime | None = None
        self._lease_renewed: datetime | None = None
        self._missing_projects: set[str] = set()

    def run_once(self) -> PollReport:
        """One cycle, if this process holds the lease and Jira is not being given a rest."""
        now = self.clock()
        if not self._hold_lease(now):
            return PollReport(polled=False)
        if self._resume_at is not None and now < self._resume_at:
            return PollReport(polled=False)
        cycle = self._start(now)
        try:
            self._poll(cycle)
        except _LeaseLost:
            return cycle.report(polled=False)
        except JiraError as exc:
            self._back_off(now, exc)
            return cycle.report(polled=False)
        self._save_cursor(now)
        self._recovered()
        report = cycle.report(polled=True)
        log.debug("polled Jira: %s", report)
        return report

    # -- the cycle ------------------------------------------------------------------------------

    def _start(self, now: datetime) -> _Cycle:
        with reading(self.uow) as work:
            session = work.session
            since = session.scalars(
                select(PollCursor.cursor_at).where(
                    PollCursor.team_id == SITE, PollCursor.scope == CURSOR_SCOPE
                )
            ).first()
            linked = session.execute(
                select(JiraSlackLink.issue_key, JiraSlackLink.issue_id)
                .where(JiraSlackLink.retired_at.is_(None))
                .distinct()
            ).all()
            subscribed = session.scalars(
                select(ChannelSubscription.project_key)
                .where(ChannelSubscription.active.is_(True))
                .distinct()
            ).all()
        keys: dict[str, set[str]] = defaultdict(set)
        for raw_key, issue_id in linked:
            key = parse_issue_key(raw_key)
            if key is not None:
                keys[key].add(issue_id)
        projects = sorted(
            {
                p.strip().upper()
                for p in subscribed
                if p and _project_key(p) and self.wall.allows(p.strip())
            }
        )
        back_to = since if since is not None else now - FIRST_LOOKBACK
        span = (now - back_to + self.overlap).total_seconds()
        minutes = max(1, math.ceil(span / 60))
        search = UpdatedSearch(self.jira, minutes, self.page_size)
        return _Cycle(since, dict(keys), projects, bool(subscribed), search)

    def _poll(self, cycle: _Cycle) -> None:
        # The subscribed projects first: a linked issue they brought back is not asked for
        # again by key (after a bulk edit, half the searches and none of the duplicates).
        if cycle.projects:
            self._keep_lease()
            issues = cycle.search.apart(
                cycle.projects,
                lambda part: f"project in ({quoted(part)})",
                values_named,
                lambda project, named, error: self._check_project(cycle, project, error),
            )
            self._store(cycle, _SearchResult(issues))
        unseen = [key for key, ids in sorted(cycle.keys.items()) if not ids <= cycle.seen]
        for batch in _chunks(unseen, self.batch_size):
            self._keep_lease()
            self._store(cycle, self._search_keys(cycle, batch))

    def _search_keys(self, cycle: _Cycle, batch: list[str]) -> _SearchResult:
        found = _SearchResult()
        found.issues += cycle.search.apart(
            batch,
            lambda part: f"key in ({quoted(part)})",
            keys_named,
            lambda key, named, error: self._check_key(cycle, key, error, named, found),
        )
        return found

    def _check_key(
        self, cycle: _Cycle, key: str, error: JiraBadRequest, named: bool, found: _SearchResult
    ) -> None:
        """Ask for the issue by id: gone, moved (Jira forgot the old key), or not the problem."""
        for issue_id in sorted(cycle.keys.get(key, ())):
            cycle.reads += 1
            try:
                issue = self.jira.get_issue(issue_id)
            except JiraNotFound:
                found.gone.append((key, issue_id))
                continue
            if issue.key != key:
                found.issues.append(issue)
            elif named:
                log.warning("Jira rejects %s in a search but still has it: skipped", key)
            else:
                raise error  # the query failed for some other reason than this key

    def _check_project(self, cycle: _Cycle, project: str, error: JiraBadRequest) -> None:
        """A subscribed project Jira no longer shows Connect is left out; else it is an error."""
        if cycle.site_projects is None:
            cycle.reads += 1
            cycle.site_projects = {known.key.upper() for known in self.jira.projects()}
        if project in cycle.site_projects:
            raise error
        if project not in self._missing_projects:  # said once, not every cycle
            self._missing_projects.add(project)
            log.warning("subscribed project %s is not in Jira (or hidden from Connect)", project)

    # -- storing what was found -----------------------------------------------------------------

    def _store(self, cycle: _Cycle, found: _SearchResult) -> None:
        fresh = {i.id: i for i in found.issues if i.id not in cycle.seen}
        with self.uow() as work:
            session = work.session
            self._detect(session, cycle, list(fresh.values()))
            for key, issue_id in found.gone:
                self._retire(session, cycle, key, issue_id)
            work.commit()
        cycle.seen.update(fresh)
        cycle.issues += len(found.issues)

    def _detect(self, session: Session, cycle: _Cycle, issues: list[JiraIssue]) -> None:
        """The webhook path's steps for each workspace that links or subscribes to the issue:
        its known, the detector, the notifier."""
        links: dict[str, dict[str, list[JiraSlackLink]]] = defaultdict(lambda: defaultdict(list))
        for ids in _chunks(sorted(issue.id for issue in issues), _IN_CHUNK):
            for link in session.scalars(
                select(JiraSlackLink)
                .where(JiraSlackLink.issue_id.in_(ids), JiraSlackLink.retired_at.is_(None))
                .order_by(JiraSlackLink.id)
            ):
                links[link.issue_id][link.team_id].append(link)
        settled_before = self.clock() - self.webhook_grace
        # Skipped fresh issues come back next cycle, later than `since`: look back as far.
        since = cycle.since - self.overlap if cycle.since else None
        settled = [
            issue
            for issue in sorted(issues, key=lambda i: i.id)
            if issue.updated is None or issue.updated <= settled_before
        ]
        snapshots = {issue.id: snapshot_of(issue) for issue in settled}
        # Moved out of JIRA_PROJECTS: retired before anything is announced, and never told.
        outside = {i.id for i in settled if self.wall.retire_if_outside(session, snapshots[i.id])}
        settled = [issue for issue in settled if issue.id not in outside]
        followers: dict[str, set[str]] = {}  # project key -> workspaces subscribed to it
        teams_of: dict[str, list[str]] = {}
        for issue in settled:
            snapshot = snapshots[issue.id]
            teams = set(links.get(issue.id, {}))
            if cycle.subscribed:
                project = snapshot.project_key
                if project not in followers:  # the same answer for every issue of a project
                    followers[project] = self.notifier.subscribed_teams(session, snapshot)
                teams |= followers[project]
            teams_of[issue.id] = sorted(teams)
        known_issues = _known_issues(session, teams_of)
        announcements: dict[str, list[Announcement]] = defaultdict(list)
        for issue in settled:
            snapshot = snapshots[issue.id]
            comments = [comment_info(comment) for comment in issue.comments]
            linked = links.get(issue.id, {})
            for team_id in teams_of[issue.id]:
                for link in linked.get(team_id, ()):
                    if link.issue_key != issue.key:  # moved: followed by its id
                        link.issue_key = issue.key
                known = known_issues.get((team_id, issue.id)) or known_issue_for(
                    session, team_id, snapshot
                )
                detection = detect_snapshot(
                    snapshot, comments, known.announced or None, since=since
                )
                known.announced = dict(detection.state)
                refresh_known_issue(known, snapshot)
                if detection.changes:
                    # Changes are credited by the changelog the search brought.
                    announcements[team_id].append(Announcement(snapshot, detection.changes))
        # The page's announcements, a workspace at a time: a few queries each, not per issue.
        for team_id in sorted(announcements):
            team_links = {
                a.issue.id: links.get(a.issue.id, {}).get(team_id, [])
                for a in announcements[team_id]
            }
            self.notifier.announce_all(session, team_id, announcements[team_id], links=team_links)
            cycle.changes += sum(len(a.changes) for a in announcements[team_id])

    def _retire(self, session: Session, cycle: _Cycle, key: str, issue_id: str) -> None:
        """The issue is gone from Jira: said once in each thread, and its links retired."""
        links = session.scalars(
            select(JiraSlackLink).where(
                JiraSlackLink.issue_id == issue_id, JiraSlackLink.retired_at.is_(None)
            )
        ).all()
        now = self.clock()
        snapshot = IssueSnapshot(id=issue_id, key=key, project_key=project_of(key))
        for team_id in sorted({link.team_id for link in links}):
            known = known_issue_for(session, team_id, snapshot)
            detection = detect_deleted(issue_id, key, known.announced or None, actor=None)
            known.announced = dict(detection.state)
            known.deleted_at = known.deleted_at or now
            self._announce(session, cycle, team_id, snapshot, detection.changes)
        for link in links:
            link.retired_at = link.retired_at or now  # also when the webhook told it already
        cycle.retired.append(key)

    def _announce(
        self,
        session: Session,
        cycle: _Cycle,
        team_id: str,
        snapshot: IssueSnapshot,
        changes: Sequence[Change],
    ) -> None:
        # A search does not say who made a change; comments name their authors themselves.
        self.notifier.announce(session, team_id, snapshot, changes, actor=None)
        cycle.changes += len(changes)

    def _save_cursor(self, started: datetime) -> None:
        with self.uow() as work:
            cursor = work.session.scalars(
                select(PollCursor).where(
                    PollCursor.team_id == SITE, PollCursor.scope == CURSOR_SCOPE
                )
            ).first()
            if cursor is None:
                work.session.add(PollCursor(team_id=SITE, scope=CURSOR_SCOPE, cursor_at=started))
            elif cursor.cursor_at is None or cursor.cursor_at < started:
                cursor.cursor_at = started  # never backwards, whoever stored it
            work.commit()

    # -- lease and back-off ---------------------------------------------------------------------

    def _hold_lease(self, now: datetime) -> bool:
        held = self.lease.hold()
        self._lease_renewed = now if held else None
        return held

    def _keep_lease(self) -> None:
        """Renew the lease during a long cycle, well before it could run out."""
        now = self.clock()
        renewed = self._lease_renewed
        if renewed is not None and now - renewed < self.lease.ttl / 3:
            return
        if not self._hold_lease(now):
            raise _LeaseLost

    def _back_off(self, now: datetime, exc: JiraError) -> None:
        self._failures += 1
        delay = min(self.interval * 2 ** min(self._failures, 16), self.max_backoff)
        self._resume_at = now + delay
        if self._failures == 1:  # once per outage, not once per cycle
            log.warning(
                "polling Jira failed (%s): the cursor stays, next tries back off up to %s",
                exc.message,
                self.max_backoff,
            )

    def _recovered(self) -> None:
        if self._failures:
            log.info("Jira answers the poller again after %d failed cycles", self._failures)
        self._failures = 0
        self._resume_at = None


def _known_issues(
    session: Session, teams_of: dict[str, list[str]]
) -> dict[tuple[str, str], KnownIssue]:
    """The stored known issues of these issues in the workspaces that follow them, locked."""
    teams = sorted({team for teams in teams_of.values() for team in teams})
    ids = sorted(issue_id for issue_id, teams in teams_of.items() if teams)
    known_issues: dict[tuple[str, str], KnownIssue] = {}
    for chunk in _chunks(ids, _IN_CHUNK):
        for known in session.scalars(
            select(KnownIssue)
            .where(KnownIssue.team_id.in_(teams), KnownIssue.issue_id.in_(chunk))
            .order_by(KnownIssue.id)
            .with_for_update()
        ):
            known_issues[(known.team_id, known.issue_id)] = known
    return known_issues


def _chunks(items: Sequence[str], size: int) -> Iterator[list[str]]:
    for start in range(0, len(items), size):
        yield list(items[start : start + size])


def _project_key(value: str) -> bool:
    text = value.strip().upper()
    return bool(text) and text[0].isalpha() and text.replace("_", "").isalnum()
