"""2. Event throughput: `message` events acked per second, with and without issue keys, and what
a key-less message costs Connect (Jira calls, database writes, Slack calls; bar: 0 Jira calls and
0 writes). Connect runs in its own process without the worker (the worker's own polling is not
a message's cost); bare Bolt apps that only ack the same events are the reference.
"""

from __future__ import annotations

import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from benchmarks import load
from benchmarks.load import Sample, SlackRequest
from benchmarks.report import INFO, SKIP, Result, ms, percentile
from benchmarks.sites import GENERAL, Sites
from benchmarks.target import WRITE_VERBS, Target

NAME = "events"
TITLE = "message events: throughput, and the cost of a message without an issue key"
CHATTER = (
    "deploy went fine, thanks all",
    "can someone look at the dashboard? numbers look off since 10:00",
    "lunch?",
    "see https://example.com/docs/runbook for the steps",
)


@dataclass(frozen=True)
class Size:
    keyless: int = 3000
    keyed: int = 600
    in_flight: int = 10
    warmup: int = 50


FULL = Size()
TINY = Size(keyless=20, keyed=6, in_flight=2, warmup=2)


def keyless_batch(n: int) -> list[SlackRequest]:
    return [load.message_event(CHATTER[i % len(CHATTER)]) for i in range(n)]


def keyed_batch(n: int) -> list[SlackRequest]:
    # Each a new message (a new thread) naming a sample issue: each is due a preview.
    return [
        load.message_event(f"is OPS-{i % 3 + 1} still happening?", ts=f"{1_700_000_000 + i}.000100")
        for i in range(n)
    ]


def run(size: Size = FULL) -> Result:
    result = Result(NAME, TITLE)
    with tempfile.TemporaryDirectory(prefix="connect-bench-events-") as tmp, Sites() as sites:
        sites.add_channels([GENERAL])
        env = sites.env(Path(tmp) / "connect.db", CONNECT_POLL_INTERVAL="0")
        with Target.of("connect", env, "--no-worker") as connect:
            probe = load.post_slack(connect.url, load.message_event("hello")).status_code
            if probe == 404:
                result.notes.append(
                    "Connect has no `message` listener yet: Bolt answers 404 (unhandled request)."
                )
            load.run_load(connect.url, keyless_batch(size.warmup), in_flight=size.in_flight)
            time.sleep(0.5)
            keyless = _measure(sites, connect, keyless_batch(size.keyless), size.in_flight)
            keyed = _measure(sites, connect, keyed_batch(size.keyed), size.in_flight)
            errors = connect.error_lines()
        bare = {}
        for kind in ("bolt-default", "bolt-pbr"):
            with Target.of(kind, sites.env(Path(tmp) / f"{kind}.db")) as target:
                load.run_load(target.url, keyless_batch(size.warmup), in_flight=size.in_flight)
                bare[kind] = _measure(sites, target, keyless_batch(size.keyless), size.in_flight)

    _report(result, keyless, keyed, bare, listener=probe != 404)
    if errors:
        result.notes.append(f"Connect logged {len(errors)} errors, e.g. {errors[0][:200]}")
    return result


@dataclass
class _Run:
    samples: list[Sample]
    elapsed: float
    jira: int
    slack: Counter[str]
    statements: Counter[str]

    @property
    def n(self) -> int:
        return len(self.samples)

    @property
    def rate(self) -> float:
        return self.n / self.elapsed if self.elapsed else 0.0

    @property
    def acked(self) -> int:
        return sum(1 for s in self.samples if s.status == 200)

    @property
    def writes(self) -> int:
        return sum(count for verb, count in self.statements.items() if verb in WRITE_VERBS)

    @property
    def transactions(self) -> int:
        return sum(count for verb, count in self.statements.items() if verb.startswith("BEGIN"))


def _measure(sites: Sites, target: Target, batch: list[SlackRequest], in_flight: int) -> _Run:
    counting = target.name == "connect"
    before = target.counters() if counting else Counter()
    jira_before, slack_before = sites.jira_request_count(), len(sites.slack_calls())
    started = time.perf_counter()
    samples = load.run_load(target.url, batch, in_flight=in_flight)
    elapsed = time.perf_counter() - started
    _settle(sites, slack_before)
    after = target.counters() if counting else Counter()
    slack = Counter(call.method for _, call in sites.slack_calls()[slack_before:])
    return _Run(samples, elapsed, sites.jira_request_count() - jira_before, slack, after - before)


def _settle(sites: Sites, slack_before: int, quiet: float = 0.7, limit: float = 30.0) -> None:
    """Until the work after the acks (previews) has stopped calling Slack and Jira."""
    deadline = time.monotonic() + limit
    seen = (-1, -1)
    while time.monotonic() < deadline:
        now = (sites.jira_request_count(), len(sites.slack_calls()))
        if now == seen:
            return
        seen = now
        time.sleep(quiet)


def _report(
    result: Result, keyless: _Run, keyed: _Run, bare: dict[str, _Run], *, listener: bool
) -> None:
    lat = [s.latency for s in keyless.samples]
    result.add(
        "key-less messages acked/s (Connect)",
        f"{keyless.rate:.0f}/s ({keyless.acked}/{keyless.n} acked; "
        f"p50 {ms(percentile(lat, 50))}, p99 {ms(percentile(lat, 99))})",
    )
    for kind, run in bare.items():
        label = "default" if kind == "bolt-default" else "process_before_response"
        result.add(f"key-less messages acked/s (bare Bolt, {label})", f"{run.rate:.0f}/s")
    lat = [s.latency for s in keyed.samples]
    result.add(
        "messages with a key acked/s (Connect)",
        f"{keyed.rate:.0f}/s ({keyed.acked}/{keyed.n} acked; "
        f"p50 {ms(percentile(lat, 50))}, p99 {ms(percentile(lat, 99))})",
    )
    verdict_ok = listener and keyless.acked == keyless.n
    per = keyless.n or 1
    jira_value = f"{keyless.jira / per:.3f} ({keyless.jira} for {keyless.n})"
    write_value = f"{keyless.writes / per:.3f} ({keyless.writes} for {keyless.n})"
    if listener:
        result.check("Jira calls per key-less message", jira_value, "0", keyless.jira == 0)
        result.check("DB writes per key-less message", write_value, "0", keyless.writes == 0)
    else:
        result.add("Jira calls per key-less message", jira_value, "0", SKIP)
        result.add("DB writes per key-less message", write_value, "0", SKIP)
    result.add(
        "DB transactions per key-less message",
        f"{keyless.transactions / per:.3f}",
        "",
        INFO,
    )
    result.add(
        "Slack calls per key-less message",
        f"{sum(keyless.slack.values()) / per:.3f}",
        "",
        INFO,
    )
    posts = keyed.slack.get("chat.postMessage", 0)
    result.add(
        "with a key: Jira calls / previews posted / DB writes",
        f"{keyed.jira} / {posts} / {keyed.writes} for {keyed.n} messages",
    )
    result.counts.update(
        {
            "keyless sent": keyless.n,
            "keyless acked": keyless.acked,
            "keyless jira calls": keyless.jira,
            "keyless db writes": keyless.writes,
            "keyed acked": keyed.acked,
            "keyed previews": posts,
            "keyed jira calls": keyed.jira,
        }
    )
    if not verdict_ok and listener:
        result.notes.append(f"{keyless.n - keyless.acked} key-less messages were not acked 200.")
