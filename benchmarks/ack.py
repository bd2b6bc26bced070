"""1. Ack latency: slash command, global shortcut and view submission with Jira answering every
call after 2.5 s and 20 requests in flight; Connect against bare Bolt apps that only ack, each
in its own process on the same WSGI server (waitress), measured in the same run.

Each server is started fresh per round, rounds alternate the order, and the first requests of
each batch (a fresh process's imports and caches, the load threads' connections) are sent as
a warm-up and not counted.
"""

from __future__ import annotations

import math
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from slack_sdk import WebClient

from benchmarks import load
from benchmarks.load import Sample, SlackRequest
from benchmarks.report import INFO, MISS, PASS, Result, ms, percentile
from benchmarks.sites import Sites
from benchmarks.slack_process import SlackProcess
from benchmarks.target import Target

NAME = "ack"
TITLE = "ack latency, Jira at 2.5 s a call, 20 requests in flight"
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


@dataclass(frozen=True)
class Size:
    in_flight: int = 20
    per_kind: int = 300  # requests of each kind, per server, per round
    rounds: int = 3
    warmup: int = 40  # two per load thread
    jira_delay: float = 2.5


FULL = Size()
TINY = Size(in_flight=4, per_kind=8, rounds=1, warmup=4, jira_delay=0.2)


def run(size: Size = FULL) -> Result:
    result = Result(NAME, TITLE)
    samples: dict[tuple[str, str], list[Sample]] = {(t, k): [] for t in TARGETS for k in KINDS}
    errors: list[str] = []
    with (
        tempfile.TemporaryDirectory(prefix="connect-bench-ack-") as tmp,
        Sites(jira_delay=size.jira_delay) as sites,
        SlackProcess() as slack,
    ):
        for round_no in range(size.rounds):
            order = TARGETS[round_no % 3 :] + TARGETS[: round_no % 3]
            for target_kind in order:
                database = Path(tmp) / f"{target_kind}-{round_no}.db"
                env = sites.env(database) | slack.env()
                with Target.of(target_kind, env) as target:
                    for kind in KINDS:
                        build = builders(slack)[kind]
                        samples[(target_kind, kind)].extend(_measure(target.url, build, size))
                    if target_kind == "connect":
                        errors.extend(target.error_lines())
        opened = slack.counts()["views.open"]
        with SlackProcess(delay=SLOW_SLACK) as slow:
            slow_slack = _shortcut_with_slow_slack(sites, slow, Path(tmp), size)
    for kind in KINDS:
        report_kind(result, kind, samples)
    s = _stats(slow_slack)
    result.add(
        f"{KINDS[1]}: Connect, Slack answering in {SLOW_SLACK * 1000:.0f} ms",
        f"p50 {ms(s.p50)}, p99 {ms(s.p99)}, max {ms(s.max)} (n={s.n})",
        "every ack < 3 s",
        PASS if s.n and s.late == 0 and s.failed == 0 else MISS,
    )
    # The fake Slack's own views.open calls build the submissions' modals, one per request.
    submitted = (size.warmup + size.per_kind) * size.rounds * len(TARGETS)
    result.counts["connect modals opened"] = opened - submitted
    result.notes.append(
        f"{size.rounds} rounds x {size.per_kind} requests per kind and server, "
        f"{size.in_flight} in flight; Jira delay {size.jira_delay} s. The ratio bar is judged "
        "against bare Bolt with its defaults (SPEC: 'a bare Bolt app'); the ratio to the "
        "process_before_response variant is shown beside it. The fake Slack answers from a "
        "process of its own, as Slack does from elsewhere."
    )
    if errors:
        result.notes.append(f"Connect logged {len(errors)} errors, e.g. {errors[0][:200]}")
    return result


def _shortcut_with_slow_slack(
    sites: Sites, slack: SlackProcess, tmp: Path, size: Size
) -> list[Sample]:
    """The shortcut's modal with Slack's real latency: views.open must not hold the ack."""
    env = sites.env(tmp / "connect-slow-slack.db") | slack.env()
    with Target.of("connect", env) as target:
        return _measure(target.url, builders(slack)[KINDS[1]], size)


def _measure(url: str, build: Callable[[int], list[SlackRequest]], size: Size) -> list[Sample]:
    """`size.per_kind` timed requests after `size.warmup` untimed ones, in one closed loop: the
    warm-up goes first on the same load threads and kept-alive connections, so no timed
    request waits for a connection to be opened (a batch of its own opened twenty at once)."""
    sent = load.run_load(url, build(size.warmup + size.per_kind), in_flight=size.in_flight)
    return sorted(sent, key=lambda sample: sample.sent)[size.warmup :]


def builders(slack: SlackProcess) -> dict[str, Callable[[int], list[SlackRequest]]]:
    def slash(n: int) -> list[SlackRequest]:
        return [
            load.slash_command("show OPS-1", response_url=slack.response_url()) for _ in range(n)
        ]

    def shortcut(n: int) -> list[SlackRequest]:
        return [load.global_shortcut() for _ in range(n)]

    def submission(n: int) -> list[SlackRequest]:
        # Real modals in the fake Slack, so Connect's views.update after the ack finds them.
        client = WebClient(token=slack.token, base_url=slack.api_url)
        batch = []
        for _ in range(n):
            view = client.views_open(
                trigger_id=load.unique("7.7.trigger"),
                view={
                    "type": "modal",
                    "callback_id": "create_issue_modal",
                    "title": {"type": "plain_text", "text": "Create Jira issue"},
                    "blocks": [],
                },
            )["view"]
            batch.append(load.create_submission(view["id"], view["hash"]))
        return batch

    return dict(zip(KINDS, (slash, shortcut, submission), strict=True))


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
