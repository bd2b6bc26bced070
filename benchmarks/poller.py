"""4. Poller cost for N linked issues: Jira searches per cycle (bar: ⌈N/100⌉ + 1) and the time
of a cycle (bar: under 10 s at 10,000), against the fake Jira over HTTP.

The Jira monitor is the `poller` job of `build_worker` (what `serve` runs), called here one
cycle at a time. N issues (last updated two days ago) are linked to 100 channels and one
channel follows project OPS. A cycle is measured: the first (no cursor yet); a
steady one after 10 issues were changed in Jira, which must be announced; and, at the largest
N, a stress cycle after a bulk edit changed every linked issue (more pages are allowed then).
"""

from __future__ import annotations

import math
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from benchmarks.report import INFO, Result, secs
from benchmarks.seed import link_issues
from benchmarks.sites import TEAM, Sites
from bot.container import Runtime, build_runtime, build_worker
from clients.jira_client import JiraIssue
from models import ChannelSubscription, NotificationOutbox
from simulators.jira_site.memory import InMemoryJira
from simulators.jira_site.sample import with_sample_data

NAME = "poller"
TITLE = "poller: Jira searches and time per cycle for N linked issues"
CYCLE_BAR = 10.0  # seconds at 10,000 linked issues
CHANNELS = 100
CHANGED = 10
JIRA_LAG = timedelta(minutes=1)


@dataclass(frozen=True)
class Size:
    linked: tuple[int, ...] = (100, 1_000, 10_000)


FULL = Size()
TINY = Size(linked=(150,))


def run(size: Size = FULL) -> Result:
    result = Result(NAME, TITLE)
    try:
        import services.jira_changes.monitor  # noqa: F401 - only whether it exists yet
    except ImportError:
        return result.skip(
            "services/jira_changes/monitor.py does not exist yet: nothing to measure."
        )
    for n in size.linked:
        cycles = _measure(n, with_bulk=n == max(size.linked))
        if cycles is None:
            return result.skip("build_worker has no `poller` job (CONNECT_POLL_INTERVAL > 0).")
        first, steady, bulk = cycles
        bar = math.ceil(n / 100) + 1
        for label, cycle in (("first cycle", first), (f"{CHANGED} changed", steady)):
            result.check(
                f"N={n:,}: searches, {label}",
                f"{cycle.searches} ({cycle.issues} issues back)",
                f"<= {bar}",
                cycle.searches <= bar,
            )
        time_bar = f"< {CYCLE_BAR:.0f} s" if n >= 10_000 else ""
        for label, cycle in (("first cycle", first), (f"{CHANGED} changed", steady)):
            value = f"{secs(cycle.seconds)} (fake Jira's share {secs(cycle.fake_seconds)})"
            if time_bar:
                result.check(f"N={n:,}: time, {label}", value, time_bar, cycle.seconds < CYCLE_BAR)
            else:
                result.add(f"N={n:,}: time, {label}", value, "", INFO)
        result.check(
            f"N={n:,}: changes announced after {CHANGED} changed",
            f"{steady.queued} notifications queued",
            f">= {CHANGED}",
            steady.queued >= CHANGED,
        )
        if bulk is not None:
            pages = bar + math.ceil(n / 100)  # every key batch full, plus the project's pages
            result.check(
                f"N={n:,}: searches, stress: all {n:,} changed",
                f"{bulk.searches} ({bulk.issues} issues back)",
                f"<= {pages} (more pages allowed)",
                bulk.searches <= pages,
            )
            result.check(
                f"N={n:,}: time, stress: all {n:,} changed",
                f"{secs(bulk.seconds)} (fake Jira's share {secs(bulk.fake_seconds)}, "
                f"Connect's {secs(bulk.seconds - bulk.fake_seconds)}; "
                f"{bulk.queued} queued)",
                f"< {CYCLE_BAR:.0f} s",
                bulk.seconds < CYCLE_BAR,
            )
            result.counts[f"{n} queued bulk"] = bulk.queued
        result.counts[f"{n} searches first"] = first.searches
        result.counts[f"{n} searches steady"] = steady.searches
        result.counts[f"{n} queued steady"] = steady.queued
    result.notes.append(
        "Time of a cycle includes the fake Jira answering in this process (its share shown): "
        "against a real Jira that share is Jira's, plus the network."
    )
    return result


@dataclass(frozen=True)
class Cycle:
    searches: int
    issues: int
    seconds: float
    fake_seconds: float
    queued: int


def _measure(n: int, *, with_bulk: bool) -> tuple[Cycle, Cycle, Cycle | None] | None:
    # Jira's clock a minute behind: its changes look a minute old, as they are to a poller
    # that runs every minute (fresher ones are left to webhooks for a grace period).
    jira = with_sample_data(InMemoryJira(clock=lambda: datetime.now(UTC) - JIRA_LAG))
    with (
        tempfile.TemporaryDirectory(prefix="connect-bench-poller-") as tmp,
        Sites(jira=jira) as sites,
    ):
        issues = _seed_jira(sites, n)
        runtime = build_runtime(sites.settings(Path(tmp) / "connect.db", connect_poll_interval=60))
        try:
            _seed_links(runtime, issues)
            worker = build_worker(runtime)
            job = next((j for j in worker.jobs if j.name == "poller"), None)
            if job is None:
                return None
            fake = _FakeJiraClock(sites)
            first = _cycle(sites, runtime, job.run, fake)
            with sites.jira.act_as("carol@example.com"):
                for issue in issues[:: max(1, n // CHANGED)][:CHANGED]:
                    sites.jira.update_issue(issue.key, status="In Progress")
            steady = _cycle(sites, runtime, job.run, fake)
            bulk = None
            if with_bulk:
                with sites.jira.act_as("carol@example.com"):
                    for issue in issues:
                        sites.jira.update_issue(issue.key, priority="High")
                bulk = _cycle(sites, runtime, job.run, fake)
        finally:
            runtime.close()
    return first, steady, bulk


def _seed_jira(sites: Sites, n: int) -> list[JiraIssue]:
    jira = sites.jira
    two_days_ago = jira.now() - timedelta(days=2)
    with jira.act_as("bob@example.com"):
        return [jira.add_issue("OPS", f"Linked issue {i}", created=two_days_ago) for i in range(n)]


def _seed_links(runtime: Runtime, issues: list[JiraIssue]) -> None:
    link_issues(runtime.services.uow, TEAM, issues, lambda i: f"C{i % CHANNELS:08d}")
    with runtime.services.uow() as work:
        work.session.add(
            ChannelSubscription(
                team_id=TEAM, channel_id="C0FOLLOW", number=1, project_key="OPS", created_by="U0BOB"
            )
        )
        work.commit()


class _FakeJiraClock:
    """Time the fake Jira spends answering (it runs in this process, sharing its CPU)."""

    def __init__(self, sites: Sites) -> None:
        self.seconds = 0.0
        api = sites.jira_server.api
        handle = api.handle

        def timed(request: Any) -> Any:
            started = time.perf_counter()
            try:
                return handle(request)
            finally:
                self.seconds += time.perf_counter() - started

        api.handle = timed  # type: ignore[method-assign]


def _cycle(sites: Sites, runtime: Runtime, run: Any, fake: _FakeJiraClock) -> Cycle:
    searches_before = _search_requests(sites)
    queued_before = _queued(runtime)
    fake_before = fake.seconds
    started = time.perf_counter()
    report = run()
    seconds = time.perf_counter() - started
    issues = getattr(report, "issues", 0)
    return Cycle(
        searches=_search_requests(sites) - searches_before,
        issues=issues,
        seconds=seconds,
        fake_seconds=fake.seconds - fake_before,
        queued=_queued(runtime) - queued_before,
    )


def _search_requests(sites: Sites) -> int:
    return sum(1 for path in sites.jira_server.paths() if "/search" in path)


def _queued(runtime: Runtime) -> int:
    with runtime.services.uow() as work:
        return work.session.scalar(select(func.count()).select_from(NotificationOutbox)) or 0
