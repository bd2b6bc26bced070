"""5. Jira webhook → Slack post: latency (bar: p50 < 1 s, bursts included: the first change of
a burst is posted at once and the rest edit it, so nothing waits for the 2 s burst window),
and how fast the outbox drains against Slack's ~1 message/s per channel.

Latency: Connect in its own process (worker included, as `serve` runs it) gets status changes of
issues linked to one channel each, a few per second, signed the way Jira Cloud signs them;
each is timed from the webhook sent to the notification arriving at the fake Slack. Then
bursts: 10 comments in about a second on each of a few issues, each comment timed from its
webhook to the first Slack call that shows it (the post, or the edit of the burst's message).

Watchers: what DMs to watchers cost Jira. A person who chose `watching` makes Connect ask Jira
who watches an issue (`/issue/{key}/watchers`); a burst of comments on many issues must not
cost one call per event: the answer is cached a minute per issue.

Drain: the `outbox` job of `build_worker`, alone, against rows already due: (a) many channels
with a few messages each, where Slack's pace allows one message a second per channel; (b) one
busy channel whose backlog is older than single messages for many others, which Slack would
post at once.
"""

from __future__ import annotations

import itertools
import math
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from benchmarks import load
from benchmarks.report import INFO, Result, ms, percentile, secs
from benchmarks.seed import link_issues
from benchmarks.sites import TEAM, Sites
from benchmarks.target import Target
from bot.container import build_runtime, build_worker
from bot.database import create_db_engine, ensure_schema, session_factory
from bot.worker import Worker
from clients.jira_client import JiraIssue, JiraUser
from models import NotificationOutbox, NotifyPreference, UserLink, utcnow
from models.delivery import SENT
from services.jira_changes.deliveries import DeliveryProcessor
from services.jira_changes.events import parse_webhook
from services.notifications.fan_out import Notifier
from services.notifications.personal import PersonalNotices
from services.notifications.watchers import IssueWatchers
from services.unit_of_work import UnitOfWork, UnitOfWorkFactory
from simulators.jira_site.memory import InMemoryJira
from simulators.jira_site.sample import with_sample_data
from simulators.jira_site.webhooks import JiraWebhookEmitter

NAME = "webhooks"
TITLE = "Jira webhook -> Slack post latency, and outbox drain against 1 msg/s per channel"
LATENCY_BAR = 1.0
SLACK_PACE = 1.0  # messages a second per channel


@dataclass(frozen=True)
class Size:
    changes: int = 60
    spacing: float = 0.1  # seconds between webhooks
    channels: int = 100
    per_channel: int = 3
    hot_backlog: int = 30
    cold_channels: int = 100
    watched_issues: int = 50
    comments_each: int = 10
    burst_issues: int = 5
    burst_changes: int = 10  # comments on each burst issue, `burst_spacing` apart: ~1 s
    burst_spacing: float = 0.1


FULL = Size()
TINY = Size(
    changes=3,
    spacing=0.05,
    channels=4,
    per_channel=2,
    hot_backlog=3,
    cold_channels=4,
    watched_issues=3,
    comments_each=3,
    burst_issues=1,
    burst_changes=3,
    burst_spacing=0.05,
)


def run(size: Size = FULL) -> Result:
    result = Result(NAME, TITLE)
    _latency(result, size)
    _watchers(result, size)
    _drain_spread(result, size)
    _drain_hot(result, size)
    return result


# -- latency ----------------------------------------------------------------------------------


def _latency(result: Result, size: Size) -> None:
    with tempfile.TemporaryDirectory(prefix="connect-bench-webhooks-") as tmp, Sites() as sites:
        jira = sites.jira
        with jira.act_as("bob@example.com"):
            issues = [jira.add_issue("OPS", f"Webhook issue {i}") for i in range(size.changes)]
            bursty = [jira.add_issue("OPS", f"Burst {i}") for i in range(size.burst_issues)]
        channels = [f"C1{i:07d}" for i in range(size.changes)]
        burst_channels = [f"C4{i:07d}" for i in range(size.burst_issues)]
        sites.add_channels(channels + burst_channels)
        database = Path(tmp) / "connect.db"
        engine = create_db_engine(f"sqlite:///{database}")
        ensure_schema(engine)
        everything = channels + burst_channels
        link_issues(
            lambda: UnitOfWork(session_factory(engine)),
            TEAM,
            issues + bursty,
            everything.__getitem__,
        )
        engine.dispose()
        carol = jira.user("carol@example.com")
        sent: dict[str, float] = {}
        answers: list[float] = []
        env = sites.env(database, CONNECT_POLL_INTERVAL="0")
        with Target.of("connect", env) as connect:
            for channel, issue in zip(channels, issues, strict=True):
                with jira.act_as(carol):
                    changed = jira.update_issue(issue.key, status="In Progress")
                payload = load.issue_updated_webhook(
                    changed, actor=carol, field="status", old="To Do", new="In Progress"
                )
                started = time.perf_counter()
                load.post_webhook(connect.url, payload)
                answers.append(time.perf_counter() - started)
                sent[channel] = started
                time.sleep(size.spacing)
            posted = _wait_posts(sites, set(channels), timeout=LATENCY_BAR * 4 + 10)
            burst = _burst(sites, connect.url, bursty, burst_channels, carol, size)
            errors = connect.error_lines()
    latencies = [posted[c] - sent[c] for c in channels if c in posted]
    p50, p99 = percentile(latencies, 50), percentile(latencies, 99)
    result.check(
        "webhook -> post p50",
        f"{secs(p50)} ({len(latencies)}/{len(channels)} posted)",
        f"< {LATENCY_BAR:.0f} s (no burst window to wait for)",
        len(latencies) == len(channels) and p50 < LATENCY_BAR,
    )
    result.add("webhook -> post p99", secs(p99), "", INFO)
    result.add(
        "webhook answered (stored, 200) p50 / p99",
        f"{ms(percentile(answers, 50))} / {ms(percentile(answers, 99))}",
    )
    seen, total = len(burst.latencies), size.burst_issues * size.burst_changes
    b50 = percentile(burst.latencies, 50)
    result.check(
        f"burst: {size.burst_changes} comments in ~1 s on each of {size.burst_issues} issues, "
        "webhook -> in Slack (post or edit) p50",
        f"{secs(b50)} ({seen}/{total} shown)",
        f"< {LATENCY_BAR:.0f} s",
        seen == total and b50 < LATENCY_BAR,
    )
    result.add(
        "burst: webhook -> in Slack p99 / messages posted per burst",
        f"{secs(percentile(burst.latencies, 99))} / {burst.posts / max(size.burst_issues, 1):.1f}",
        "",
        INFO,
    )
    result.counts["webhooks posted"] = len(latencies)
    result.counts["burst changes shown"] = seen
    result.counts["burst posts"] = burst.posts
    if errors:
        result.notes.append(f"Connect logged {len(errors)} errors, e.g. {errors[0][:200]}")


@dataclass(frozen=True)
class _Burst:
    latencies: list[float]
    posts: int  # chat.postMessage calls into the burst channels (one message per burst)


def _burst(
    sites: Sites,
    url: str,
    issues: list[JiraIssue],
    channels: list[str],
    actor: JiraUser,
    size: Size,
) -> _Burst:
    """Comments on each issue, `burst_spacing` apart (10 in ~1 s): each timed from its webhook
    to the first Slack call (a post, or the edit of the burst's message) that shows it."""
    sent: dict[str, tuple[str, float]] = {}  # marker -> (channel, when sent)
    for n in range(size.burst_changes):
        for channel, issue in zip(channels, issues, strict=True):
            marker = f"burst-{issue.key}-{n:02d}"
            payload = load.comment_created_webhook(issue, actor=actor, body=f"{marker} noted")
            sent[marker] = (channel, time.perf_counter())
            load.post_webhook(url, payload)
        time.sleep(size.burst_spacing)
    shown: dict[str, float] = {}
    deadline = time.monotonic() + LATENCY_BAR * 4 + 10
    while time.monotonic() < deadline and len(shown) < len(sent):
        for at, call in sites.slack_calls():
            if call.method not in ("chat.postMessage", "chat.update"):
                continue
            text = str(call.params.get("text") or "")
            for marker, (channel, _) in sent.items():
                if marker not in shown and marker in text and call.params.get("channel") == channel:
                    shown[marker] = at
        time.sleep(0.05)
    posts = sum(
        1
        for _, call in sites.slack_calls("chat.postMessage")
        if call.params.get("channel") in channels
    )
    return _Burst([shown[m] - sent[m][1] for m in shown], posts)


def _wait_posts(sites: Sites, channels: set[str], *, timeout: float) -> dict[str, float]:
    """The first post into each channel (perf_counter when the fake Slack got it)."""
    deadline = time.monotonic() + timeout
    first: dict[str, float] = {}
    while time.monotonic() < deadline:
        for at, call in sites.slack_calls("chat.postMessage"):
            channel = str(call.params.get("channel"))
            if channel in channels and channel not in first:
                first[channel] = at
        if len(first) == len(channels):
            break
        time.sleep(0.05)
    return first


# -- watchers ---------------------------------------------------------------------------------


def _watchers(result: Result, size: Size) -> None:
    """Comments on many issues, each watched by a person who chose `watching`, processed as
    the deliveries job processes them; the Jira calls that asked who watches."""
    jira = with_sample_data(InMemoryJira())
    with jira.act_as("alice@example.com"):
        issues = [jira.add_issue("OPS", f"Watched {n}") for n in range(size.watched_issues)]
    for issue in issues:
        jira.add_watcher(issue.key, "carol@example.com")
    payloads: list[dict[str, Any]] = []
    emitter = JiraWebhookEmitter(jira, payloads.append).start()
    with jira.act_as("bob@example.com"):
        for n in range(size.comments_each):
            for issue in issues:
                jira.add_comment(issue.key, f"Comment {n} on {issue.key}")
    emitter.flush()
    emitter.stop()
    with tempfile.TemporaryDirectory(prefix="connect-bench-watchers-") as tmp:
        engine = create_db_engine(f"sqlite:///{Path(tmp) / 'connect.db'}")
        ensure_schema(engine)
        uow = lambda: UnitOfWork(session_factory(engine))  # noqa: E731
        with uow() as work:
            work.session.add(
                UserLink(
                    team_id=TEAM,
                    slack_user_id="U0CAROL",
                    jira_account_id="acc-carol",
                    jira_display_name="Carol Chen",
                    email="carol@example.com",
                )
            )
            work.session.add(
                NotifyPreference(team_id=TEAM, slack_user_id="U0CAROL", kinds="watching")
            )
            work.commit()
        notifier = Notifier(
            connect_account=lambda: "acc-connect",
            jira_base_url=jira.base_url,
            personal=PersonalNotices(IssueWatchers(jira)),
        )
        processor = DeliveryProcessor(uow, notifier)
        jira.calls.clear()
        started = time.perf_counter()
        for payload in payloads:
            with uow() as work:
                processor.process(work.session, parse_webhook(payload))
                work.commit()
        took = time.perf_counter() - started
        with uow() as work:
            dms = work.session.scalar(
                select(func.count())
                .select_from(NotificationOutbox)
                .where(NotificationOutbox.channel_id == "U0CAROL")
            )
        engine.dispose()
    calls = sum(1 for name, _, _ in jira.calls if name == "watchers")
    events = size.watched_issues * size.comments_each
    result.check(
        f"watcher DMs, {size.watched_issues} issues x {size.comments_each} comments: "
        "Jira watcher calls",
        f"{calls} for {events} comments ({len(payloads)} deliveries)",
        f"<= {size.watched_issues} (one per issue a minute, not one per event)",
        calls <= size.watched_issues,
    )
    result.add(
        "watcher DMs: delivery processed (detect, fan out, DM rows), mean",
        ms(took / max(len(payloads), 1)),
        "",
        INFO,
    )
    result.counts["watcher calls"] = calls
    result.counts["watcher DM rows"] = int(dms or 0)


# -- drain ------------------------------------------------------------------------------------


@dataclass
class _Drain:
    started: float
    posts: dict[str, list[float]]  # channel -> when each post arrived
    sent: int

    def done_at(self, channels: list[str]) -> float:
        last = [max(self.posts[c]) for c in channels if self.posts.get(c)]
        return max(last) - self.started if len(last) == len(channels) else math.nan

    def fastest_repeat(self) -> float:
        gaps = [b - a for times in self.posts.values() for a, b in itertools.pairwise(times)]
        return min(gaps, default=math.nan)


def _drain(queued: list[str], limit: float, wanted: list[str]) -> _Drain:
    """Queue one due row per entry of `queued` (a channel id, oldest first), then run the
    outbox job until every channel in `wanted` has all its rows posted, or `limit` s."""
    with tempfile.TemporaryDirectory(prefix="connect-bench-outbox-") as tmp, Sites() as sites:
        sites.add_channels(sorted(set(queued)))
        runtime = build_runtime(sites.settings(Path(tmp) / "connect.db", connect_poll_interval=0))
        try:
            _queue_rows(runtime.services.uow, queued)
            job = next(j for j in build_worker(runtime).jobs if j.name == "outbox")
            expected: defaultdict[str, int] = defaultdict(int)
            for channel in queued:
                expected[channel] += 1
            worker = Worker([job])
            started = time.perf_counter()
            worker.start()
            deadline = time.monotonic() + limit
            while time.monotonic() < deadline:
                posts = _posts(sites)
                if all(len(posts.get(c, [])) >= expected[c] for c in wanted):
                    break
                time.sleep(0.05)
            worker.stop()
            posts = _posts(sites)
            with runtime.services.uow() as work:
                sent = work.session.scalar(
                    select(func.count())
                    .select_from(NotificationOutbox)
                    .where(NotificationOutbox.status == SENT)
                )
        finally:
            runtime.close()
    return _Drain(started, posts, sent or 0)


def _posts(sites: Sites) -> dict[str, list[float]]:
    posts: dict[str, list[float]] = defaultdict(list)
    for at, call in sites.slack_calls("chat.postMessage"):
        posts[str(call.params.get("channel"))].append(at)
    return posts


def _queue_rows(uow: UnitOfWorkFactory, channels: list[str]) -> None:
    """Rows as the notifier writes them, all due now, the first of `channels` the oldest."""
    now = utcnow()
    with uow() as work:
        for n, channel in enumerate(channels):
            created = now - timedelta(seconds=60) + timedelta(milliseconds=n)
            work.session.add(
                NotificationOutbox(
                    team_id=TEAM,
                    idempotency_key=f"bench-{n}",
                    channel_id=channel,
                    thread_ts=None,
                    issue_id=str(10_000 + n),
                    payload={
                        "issue": {"id": str(10_000 + n), "key": f"OPS-{n + 1}", "summary": "x"},
                        "changes": [
                            {"kind": "status", "actor": "Carol", "old": "To Do", "new": "Done"}
                        ],
                    },
                    created_at=created,
                    available_at=created,
                )
            )
        work.commit()


def _drain_spread(result: Result, size: Size) -> None:
    channels = [f"C2{i:07d}" for i in range(size.channels)]
    queued = [c for _ in range(size.per_channel) for c in channels]  # round robin, as news comes
    floor = (size.per_channel - 1) / SLACK_PACE
    drain = _drain(queued, floor + 60, channels)
    took = drain.done_at(channels)
    total = len(queued)
    allowance = size.channels * SLACK_PACE
    result.add(
        f"drain {size.channels} channels x {size.per_channel}: time / rate",
        f"{secs(took)} / {total / took if took else math.nan:.0f} msg/s",
        f"floor {floor:.1f} s / Slack allows {allowance:.0f} msg/s",
        INFO,
    )
    result.check(
        "fastest repeat post to one channel",
        secs(drain.fastest_repeat()),
        f">= ~{1 / SLACK_PACE:.0f} s (Slack's pace)",
        drain.fastest_repeat() >= 0.9 / SLACK_PACE,
    )
    result.counts["spread sent"] = drain.sent


def _drain_hot(result: Result, size: Size) -> None:
    cold = [f"C3{i:07d}" for i in range(size.cold_channels)]
    queued = ["C3HOT0000"] * size.hot_backlog + cold
    drain = _drain(queued, 60, cold)
    took = drain.done_at(cold)
    result.add(
        f"{size.cold_channels} quiet channels behind one busy channel's {size.hot_backlog}: "
        "all posted after",
        secs(took) if not math.isnan(took) else "not within 60 s",
        "floor ~0 s (their channels are free)",
        INFO,
    )
    result.counts["hot cold-posted"] = sum(1 for c in cold if drain.posts.get(c))
