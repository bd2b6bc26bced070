"""1. Ack latency: slash command, global shortcut and view submission with Jira answering every
call after 2.5 s and 20 requests in flight; Connect against bare Bolt apps that only acks, each
in its own process on the same WSGI server (waitress), measured in the same run.

Sustained load, not a burst. Connect acks first and does a request's work afterwards (Jira at
2.5 s a call, then Slack), so what an ack competes with is the work of the requests before it.
Each kind is therefore sent for `Size.sustain` seconds, three Jira delays, in a closed loop:
the timed acks run while the Jira calls of thousands of earlier requests are out and their
answers come back. (Batches of 300 lasted ~0.3 s, less than one Jira call: they timed acks
against a server whose own work had not started.)

Per server, per round: a fresh process; a warm-up of `Size.warmup` requests of each kind,
untimed (imports, caches and the load's connections); a quiet spell until the warm-up's work
is done (no Jira or Slack call for a Jira delay and a second), which leaves the create form's
Jira metadata cached, as it is for all but the first shortcut in five minutes of a serving
process; then each kind for `Size.sustain` seconds, timed. The warm-up's acks are reported
too, against the 3 s bar: they include the cold path (the form read from Jira after the ack).
Rounds alternate the servers' order.

At this pace Connect's work (2.5 s of Jira per command or submission, sixteen threads) falls
behind within a second, so most timed commands and submissions meet a full work queue and are
answered "try again" at once (handlers/backlog.py), as they would be in production; the report
counts them. They are acks like the others and timed like them; a shortcut whose form is kept
needs no work thread and is never turned away.
"""

from __future__ import annotations

import itertools
import math
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import requests

from benchmarks import load
from benchmarks.load import Sample, SlackRequest
from benchmarks.report import INFO, MISS, PASS, Result, ms, percentile
from benchmarks.sites import Sites
from benchmarks.slack_process import SlackProcess
from benchmarks.target import Target

NAME = "ack"
TITLE = "ack latency, Jira at 2.5 s a call, 20 requests in flight, sustained"
ACK_DEADLINE = 3.0
RATIO_BAR = 1.5
TARGETS = ("connect", "bolt-default", "bolt-pbr")
LABELS = {
    "connect": "Connect",
    "bolt-default": "bare Bolt (default)",
    "bolt-pbr": "bare Bolt (process_before_response)",
}
KINDS = ("/jira show OPS-1", "shortcut create_issue", "view submission (create)")
SLOW_SLACK = 0.2  # seconds: a typical Slack Web API answer
SLACK_NICENESS = 19  # see benchmarks/README.md#the-fake-slacks-cpu
QUIET_TIMEOUT = 60.0  # seconds: the longest a warm-up's work may take to finish


@dataclass(frozen=True)
class Size:
    in_flight: int = 20
    sustain: float = 7.5  # seconds of each kind, per server, per round: three Jira delays
    rounds: int = 2
    warmup: int = 40  # requests of each kind before the timed load: two per connection
    jira_delay: float = 2.5
    max_rate: int = 5_000  # requests a second no server here reaches: sizes the modals made
    slow_slack: int = 300  # shortcuts sent with Slack answering in SLOW_SLACK
    quiet: float = 1.0  # seconds with no Jira or Slack call, past a Jira delay: warm-up done


FULL = Size()
TINY = Size(
    in_flight=4,
    sustain=0.3,
    rounds=1,
    warmup=4,
    jira_delay=0.2,
    max_rate=400,
    slow_slack=8,
    quiet=0.3,
)


def run(size: Size = FULL) -> Result:
    result = Result(NAME, TITLE)
    samples: dict[tuple[str, str], list[Sample]] = {(t, k): [] for t in TARGETS for k in KINDS}
    warm: dict[str, list[Sample]] = {t: [] for t in TARGETS}
    errors: list[str] = []
    shortcuts = 0
    refused: Counter[str] = Counter()  # Connect's "try again" answers, by listener
    with (
        tempfile.TemporaryDirectory(prefix="connect-bench-ack-") as tmp,
        Sites(jira_delay=size.jira_delay) as sites,
        SlackProcess(nice=SLACK_NICENESS) as slack,
    ):
        for round_no in range(size.rounds):
            order = TARGETS[round_no % 3 :] + TARGETS[: round_no % 3]
            for target_kind in order:
                database = Path(tmp) / f"{target_kind}-{round_no}.db"
                env = sites.env(database) | slack.env()
                streams = Streams(slack, size, real_views=target_kind == "connect")
                with (
                    Target.of(target_kind, env) as target,
                    load.Load(target.url, in_flight=size.in_flight) as sender,
                ):
                    for kind in KINDS:
                        warm[target_kind].extend(sender.send(streams.take(kind, size.warmup)))
                    quiet(sites, slack, size)
                    before = turned_away(target) if target_kind == "connect" else Counter()
                    for kind in KINDS:
                        timed = sender.send(streams.of(kind), duration=size.sustain)
                        samples[(target_kind, kind)].extend(timed)
                    if target_kind == "connect":
                        refused.update(turned_away(target) - before)
                        errors.extend(target.error_lines())
                        shortcuts += streams.sent[KINDS[1]]
                if streams.exhausted:
                    result.notes.append(f"{target_kind}: ran out of modals to submit")
        opened = slack.counts()["views.open"]
        with SlackProcess(delay=SLOW_SLACK) as slow:
            slow_slack = _shortcut_with_slow_slack(sites, slow, Path(tmp), size)
    for kind in KINDS:
        report_kind(result, kind, samples)
    w = _stats(warm["connect"])
    result.add(
        f"warm-up ({size.warmup} of each kind, fresh process, form not cached): Connect",
        f"p50 {ms(w.p50)}, max {ms(w.max)} (n={w.n})",
        "every ack < 3 s",
        PASS if w.n and w.late == 0 and w.failed == 0 else MISS,
    )
    s = _stats(slow_slack)
    result.add(
        f"{KINDS[1]}: Connect, Slack answering in {SLOW_SLACK * 1000:.0f} ms",
        f"p50 {ms(s.p50)}, p99 {ms(s.p99)}, max {ms(s.max)} (n={s.n})",
        "every ack < 3 s",
        PASS if s.n and s.late == 0 and s.failed == 0 else MISS,
    )
    timed_connect = {kind: len(samples[("connect", kind)]) for kind in KINDS}
    result.add(
        "Connect answered 'try again' (work queue past 512 tasks; see README, Architecture)",
        f"/jira show {refused['run_jira']} of {timed_connect[KINDS[0]]}, "
        f"submissions {refused['create']} of {timed_connect[KINDS[2]]}",
    )
    result.add(
        "Connect: modals opened for its shortcuts (warm-up and timed)",
        f"{opened} of {shortcuts}: a views.open still waiting when its trigger's 3 s are up "
        "is dropped, as Slack would refuse it; the fake Slack, one Python process, sets the "
        "pace here",
    )
    result.counts["connect shortcuts sent"] = shortcuts
    result.counts["connect modals opened"] = opened
    result.notes.append(
        f"{size.rounds} rounds; per server and round, {size.warmup} untimed requests of each "
        f"kind, then each kind sustained for {size.sustain:g} s with {size.in_flight} in "
        f"flight; Jira delay {size.jira_delay:g} s. The ratio bar is judged against bare Bolt "
        "with its defaults (SPEC: 'a bare Bolt app'); the ratio to the process_before_response "
        "variant is shown beside it. The fake Slack answers from a process of its own, as Slack "
        "does from elsewhere."
    )
    if errors:
        result.notes.append(f"Connect logged {len(errors)} errors, e.g. {errors[0][:200]}")
    return result


def turned_away(target: Target) -> Counter[str]:
    """Connect's `connect_work_turned_away_total`, by listener, from its /metrics."""
    counts: Counter[str] = Counter()
    text = requests.get(f"{target.url}/metrics", timeout=10).text
    for line in text.splitlines():
        if line.startswith('connect_work_turned_away_total{listener="'):
            listener = line.split('"', 2)[1]
            counts[listener] = int(float(line.rsplit(" ", 1)[1]))
    return counts


def quiet(sites: Sites, slack: SlackProcess, size: Size) -> None:
    """Until the server has made no Jira or Slack call for a Jira delay and `size.quiet`: the work
    the warm-up started is done (a bare Bolt app makes none, so it waits that long once)."""
    spell = size.jira_delay + size.quiet
    deadline = time.monotonic() + QUIET_TIMEOUT
    seen = (sites.jira_request_count(), slack.api_calls())
    since = time.monotonic()
    while time.monotonic() < deadline:
        time.sleep(0.25)
        now = (sites.jira_request_count(), slack.api_calls())
        if now != seen:
            seen, since = now, time.monotonic()
        elif time.monotonic() - since >= spell:
            return
    raise RuntimeError(f"the warm-up's work was still going after {QUIET_TIMEOUT:g} s")


def _shortcut_with_slow_slack(
    sites: Sites, slack: SlackProcess, tmp: Path, size: Size
) -> list[Sample]:
    """The shortcut's modal with Slack's real latency: views.open must not hold the ack. A
    burst, not sustained: at a thousand shortcuts a second, modals would wait their turn for
    Slack far past a trigger's 3 s (Slack would refuse them; Connect's 32 connections to it
    open 160 modals a second at 200 ms)."""
    env = sites.env(tmp / "connect-slow-slack.db") | slack.env()
    streams = Streams(slack, size)
    with (
        Target.of("connect", env) as target,
        load.Load(target.url, in_flight=size.in_flight) as sender,
    ):
        sent = sender.send(streams.take(KINDS[1], size.warmup + size.slow_slack))
    return sorted(sent, key=lambda sample: sample.sent)[size.warmup :]


class Streams:
    """Requests of each kind, made as they are sent. Connect's view submissions need modals
    that exist in the fake Slack (Connect updates them after the ack): enough are opened up
    front, in one call, for the warm-up and `Size.max_rate` a second. A bare Bolt app never
    calls Slack about them (`real_views=False`): any view id will do."""

    def __init__(self, slack: SlackProcess, size: Size, *, real_views: bool = True) -> None:
        self._slack = slack
        count = size.warmup + int(size.max_rate * size.sustain)
        views = (
            slack.open_views(count) if real_views else ((f"V{n:07d}", "h") for n in range(count))
        )
        self._views = iter(views)
        self.sent: dict[str, int] = dict.fromkeys(KINDS, 0)
        self.exhausted = False

    def of(self, kind: str) -> Iterator[SlackRequest]:
        make: dict[str, Callable[[], SlackRequest | None]] = {
            KINDS[0]: self._slash,
            KINDS[1]: load.global_shortcut,
            KINDS[2]: self._submission,
        }
        for request in iter(make[kind], None):
            self.sent[kind] += 1
            yield request

    def take(self, kind: str, count: int) -> Iterator[SlackRequest]:
        return itertools.islice(self.of(kind), count)

    def _slash(self) -> SlackRequest:
        return load.slash_command("show OPS-1", response_url=self._slack.response_url())

    def _submission(self) -> SlackRequest | None:
        view = next(self._views, None)
        if view is None:
            self.exhausted = True
            return None
        return load.create_submission(*view)


def report_kind(result: Result, kind: str, samples: dict[tuple[str, str], list[Sample]]) -> None:
    stats = {t: _stats(samples[(t, kind)]) for t in TARGETS}
    connect = stats["connect"]
    for target in TARGETS:
        s = stats[target]
        value = f"p50 {ms(s.p50)}, p99 {ms(s.p99)}, max {ms(s.max)} (n={s.n})"
        if target == "connect":
            ok = s.n > 0 and s.late == 0 and s.failed == 0
            detail = "" if ok else f"; {s.late} late, {s.failed} not 200"
            result.add(
                f"{kind}: {LABELS[target]}", value + detail, "every ack < 3 s", PASS if ok else MISS
            )
        else:
            result.add(f"{kind}: {LABELS[target]}", value, "", INFO)
        result.counts[f"{target} {kind} sent"] = s.n
        result.counts[f"{target} {kind} answered"] = s.n - s.failed
    for target, verdict in (("bolt-default", True), ("bolt-pbr", False)):
        ratio = connect.p99 / stats[target].p99 if stats[target].p99 else math.nan
        measure = f"{kind}: Connect p99 / {LABELS[target]} p99"
        if verdict:
            result.check(measure, f"{ratio:.2f}x", f"<= {RATIO_BAR}x", ratio <= RATIO_BAR)
        else:
            result.add(measure, f"{ratio:.2f}x", f"(<= {RATIO_BAR}x)", INFO)


@dataclass(frozen=True)
class _Stats:
    n: int
    p50: float
    p99: float
    max: float
    late: int
    failed: int


def _stats(samples: list[Sample]) -> _Stats:
    latencies = [s.latency for s in samples]
    return _Stats(
        n=len(samples),
        p50=percentile(latencies, 50),
        p99=percentile(latencies, 99),
        max=max(latencies, default=math.nan),
        late=sum(1 for s in samples if s.latency >= ACK_DEADLINE),
        failed=sum(1 for s in samples if s.status != 200),
    )
