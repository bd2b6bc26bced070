"""6. Memory: resident set size of one `python -m bot serve` process (a real subprocess, worker
and poller included, against the fake Slack and Jira) after 10,000 events (bar: < 200 MB).

The events are a day's mix: messages without keys (most of the traffic), messages naming
issues (previews), `/jira show` commands and Jira webhooks. RSS is read from /proc at the
start and after each quarter, so growth (a leak) shows apart from the size.
"""

from __future__ import annotations

import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from benchmarks import load
from benchmarks.load import SlackRequest
from benchmarks.report import INFO, Result
from benchmarks.sites import Sites
from benchmarks.target import Target, free_port

NAME = "memory"
TITLE = "memory: RSS of one `serve` process after 10,000 events"
RSS_BAR = 200 * 1024 * 1024
MB = 1024 * 1024


@dataclass(frozen=True)
class Size:
    events: int = 10_000
    in_flight: int = 10
    checkpoints: int = 4


FULL = Size()
TINY = Size(events=40, in_flight=2, checkpoints=2)


def slack_mix(sites: Sites, n: int, start: int) -> list[SlackRequest]:
    """Of every 10: six plain messages, two naming an issue, one /jira show (the tenth is a
    Jira webhook, sent apart)."""
    batch = []
    for i in range(start, start + n):
        slot = i % 10
        if slot < 6:
            batch.append(load.message_event(f"chatter number {i}, nothing to see"))
        elif slot < 8:
            key = f"OPS-{i % 3 + 1}"
            batch.append(load.message_event(f"{key} is on fire again ({i})"))
        elif slot == 8:
            url = sites.slack_server.response_url()
            batch.append(load.slash_command(f"show OPS-{i % 3 + 1}", response_url=url))
    return batch


def run(size: Size = FULL) -> Result:
    result = Result(NAME, TITLE)
    with tempfile.TemporaryDirectory(prefix="connect-bench-memory-") as tmp, Sites() as sites:
        port = free_port()
        argv = [sys.executable, "-m", "bot", "serve", "--host", "127.0.0.1", "--port", str(port)]
        env = sites.env(Path(tmp) / "connect.db")
        with Target(argv, env, url=f"http://127.0.0.1:{port}", name="serve") as serve:
            load.run_load(serve.url, slack_mix(sites, 20, 0), in_flight=2)
            time.sleep(1.0)
            start_rss, _ = serve.rss_bytes()
            readings = []
            step = size.events // size.checkpoints
            sent = 0
            for _ in range(size.checkpoints):
                slack = slack_mix(sites, step, sent)
                load.run_load(serve.url, slack, in_flight=size.in_flight)
                _send_webhooks(sites, serve, step - len(slack))
                sent += step
                readings.append((sent, *serve.rss_bytes()))
            time.sleep(2.0)  # the work after the acks finishes
            end_rss, peak = serve.rss_bytes()
            errors = serve.error_lines()
    result.add("RSS after start-up and warm-up", f"{start_rss / MB:.0f} MB", "", INFO)
    for count, rss, _peak in readings:
        result.add(f"RSS after {count:,} events", f"{rss / MB:.0f} MB", "", INFO)
    result.check(
        f"RSS after {sent:,} events (settled) / peak",
        f"{end_rss / MB:.0f} MB / {peak / MB:.0f} MB",
        f"< {RSS_BAR / MB:.0f} MB",
        end_rss < RSS_BAR and peak < RSS_BAR,
    )
    result.counts["events sent"] = sent
    result.counts["rss mb"] = end_rss / MB
    if errors:
        result.notes.append(f"serve logged {len(errors)} errors, e.g. {errors[0][:200]}")
    return result


def _send_webhooks(sites: Sites, serve: Target, n: int) -> None:
    jira = sites.jira
    carol = jira.user("carol@example.com")
    statuses = ("In Progress", "To Do")
    for i in range(n):
        key = f"OPS-{i % 3 + 1}"
        with jira.act_as(carol):
            before = jira.get_issue(key).status
            new = statuses[0] if before != statuses[0] else statuses[1]
            changed = jira.update_issue(key, status=new)
        payload = load.issue_updated_webhook(
            changed, actor=carol, field="status", old=before, new=new
        )
        load.post_webhook(serve.url, payload)
