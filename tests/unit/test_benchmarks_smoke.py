"""The benchmarks still run: each at its tiny size, checked for what it counted, never for time.

Benchmarks are not tests (figures on a shared machine are evidence, not a gate); this only keeps
them from rotting as the product changes under them.
"""

from __future__ import annotations

import math

import pytest

from benchmarks import (
    BENCHMARKS,
    ack,
    benchmark,
    events,
    markup,
    memory,
    poller,
    previews,
    webhooks,
)
from benchmarks.report import SKIP, Result


def run_tiny(name: str) -> Result:
    module = benchmark(name)
    result: Result = module.run(module.TINY)
    assert result.rows, f"{name} reported nothing"
    assert result.skipped is None, result.skipped
    assert all(row.verdict != SKIP for row in result.rows), result.rows
    return result


def test_every_benchmark_is_listed() -> None:
    assert {benchmark(name).NAME for name in BENCHMARKS} == {
        "ack",
        "events",
        "previews",
        "poller",
        "webhooks",
        "memory",
        "markup",
    }


def test_markup() -> None:
    counts = run_tiny("markup").counts
    assert counts["Jira -> mrkdwn conversions"] == len(markup.JIRA_UNITS) + 1
    assert counts["Slack -> Jira conversions"] == len(markup.SLACK_UNITS) + 1
    assert counts["JQL reads"] % len(markup.JQL_TEXTS) == 0 and counts["JQL reads"] > 0
    scans = len(markup.SCAN_UNITS) + len(markup.SLACK_UNITS) + 1
    assert counts["ack: a message's keys and links (preview) conversions"] == scans


def test_ack() -> None:
    counts = run_tiny("ack").counts
    for target in ack.TARGETS:
        for kind in ack.KINDS:
            # Sustained for TINY.sustain seconds: more than the warm-up's few, all answered.
            assert counts[f"{target} {kind} sent"] > ack.TINY.warmup
            assert counts[f"{target} {kind} answered"] == counts[f"{target} {kind} sent"]
    # Connect did the shortcut's work, not only its ack: modals were opened, never more than
    # one per shortcut. Not one for every shortcut: on a loaded machine a views.open still
    # waiting when its trigger's 3 s are up is dropped unsent, as it must be (Slack would
    # refuse it), so how many are opened depends on the machine, not on Connect.
    shortcuts = counts["connect shortcuts sent"]
    assert shortcuts > ack.TINY.warmup + counts[f"connect {ack.KINDS[1]} sent"] - 1
    assert 0 < counts["connect modals opened"] <= shortcuts


def test_events() -> None:
    counts = run_tiny("events").counts
    assert counts["keyless acked"] == counts["keyless sent"] == events.TINY.keyless
    assert counts["keyless jira calls"] == 0
    assert counts["keyless db writes"] == 0
    assert counts["keyed acked"] == events.TINY.keyed
    assert counts["keyed previews"] == events.TINY.keyed  # each message starts its own thread
    assert 1 <= counts["keyed jira calls"] <= events.TINY.keyed


def test_previews() -> None:
    counts = run_tiny("previews").counts
    assert counts["first previews"] == 1
    assert counts["first jira calls"] >= 1
    assert counts["repeat previews"] == previews.TINY.repeats
    assert counts["repeat jira calls"] == 0
    assert counts["unfurl jira calls"] == 0
    assert counts["same thread previews"] == 0
    assert counts["retried previews"] == 0


def test_poller() -> None:
    counts = run_tiny("poller").counts
    for n in poller.TINY.linked:
        bar = math.ceil(n / 100) + 1
        assert counts[f"{n} searches first"] == bar
        assert counts[f"{n} searches steady"] == bar
        assert counts[f"{n} queued steady"] >= poller.CHANGED


def test_webhooks() -> None:
    size = webhooks.TINY
    counts = run_tiny("webhooks").counts
    assert counts["webhooks posted"] == size.changes
    assert counts["burst changes shown"] == size.burst_issues * size.burst_changes
    assert counts["burst posts"] == size.burst_issues  # each burst one message, then edits
    assert counts["spread sent"] == size.channels * size.per_channel
    assert counts["hot cold-posted"] == size.cold_channels
    assert counts["watcher calls"] == size.watched_issues  # one per issue, not per comment
    # Every comment is a DM to the watcher; a burst on one issue joins one DM row.
    assert 1 <= counts["watcher DM rows"] <= size.watched_issues * size.comments_each


def test_memory() -> None:
    counts = run_tiny("memory").counts
    assert counts["events sent"] == memory.TINY.events
    assert counts["rss mb"] > 0


@pytest.mark.parametrize("name", sorted(BENCHMARKS))
def test_sizes_are_declared(name: str) -> None:
    module = benchmark(name)
    assert name == module.NAME
    assert module.TINY != module.FULL
