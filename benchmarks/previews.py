"""3. Preview cache: a key named again within the cache TTL costs no Jira call (bar: 0).

Connect (its own process, no worker) gets: a message naming OPS-2 (a preview, fetched from Jira);
the same key in a new thread (a preview, from the cache); the key again in the first thread (no
preview: once per key per thread per hour); Slack redelivering the second event (dropped); and
a link_shared of OPS-2's Jira URL (an unfurl, from the cache).
"""

from __future__ import annotations

import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from benchmarks import load
from benchmarks.load import SlackRequest
from benchmarks.report import INFO, Result
from benchmarks.sites import Sites
from benchmarks.target import Target

NAME = "previews"
TITLE = "preview cache: Jira calls for a key repeated within the TTL"
KEY = "OPS-2"


@dataclass(frozen=True)
class Size:
    repeats: int = 20  # further new threads naming the key


FULL = Size()
TINY = Size(repeats=2)


def run(size: Size = FULL) -> Result:
    result = Result(NAME, TITLE)
    with tempfile.TemporaryDirectory(prefix="connect-bench-previews-") as tmp, Sites() as sites:
        env = sites.env(Path(tmp) / "connect.db", CONNECT_POLL_INTERVAL="0")
        with Target.of("connect", env, "--no-worker") as connect:
            probe = Probe(sites, connect)
            if probe.send(load.message_event("warming up, no keys here")).status == 404:
                return result.skip("Connect has no `message` listener yet (Bolt answers 404).")
            first_ts = "1700000000.000100"
            first = probe.send(load.message_event(f"{KEY} is failing again", ts=first_ts))
            again = [
                probe.send(
                    load.message_event(
                        f"{KEY} again", ts=f"{1_700_000_001 + n}.000100", event_id=f"EvRepeat{n}"
                    )
                )
                for n in range(size.repeats)
            ]
            same_thread = probe.send(
                load.message_event(f"{KEY} still?", ts="1700009999.000100", thread_ts=first_ts)
            )
            retried = probe.send(
                load.message_event(
                    f"{KEY} again", ts="1700000001.000100", event_id="EvRepeat0", retry=1
                )
            )
            jira_url = sites.jira_server.url
            unfurl = probe.send(
                load.link_shared_event(f"{jira_url}/browse/{KEY}"), method="chat.unfurl"
            )
            errors = connect.error_lines()

    repeat_calls = sum(step.jira for step in again)
    result.add(f"Jira calls, first preview of {KEY}", str(first.jira), "", INFO)
    result.check(
        f"Jira calls, {KEY} previewed again in {len(again)} new threads",
        f"{repeat_calls} ({sum(step.posts for step in again)} previews posted)",
        "0",
        repeat_calls == 0 and all(step.posts == 1 for step in again),
    )
    result.check(
        f"Jira calls, {KEY} unfurled from its URL",
        f"{unfurl.jira} ({unfurl.posts} unfurls)",
        "0",
        unfurl.jira == 0,
    )
    result.check(
        "same key again in the first thread: previews / Jira calls",
        f"{same_thread.posts} / {same_thread.jira}",
        "0 / 0 (SPEC 4: once per key per thread per hour)",
        same_thread.posts == 0 and same_thread.jira == 0,
    )
    result.check(
        "redelivered event (X-Slack-Retry-Num): previews / Jira calls",
        f"{retried.posts} / {retried.jira}",
        "0 / 0 (SPEC 4: never a second post)",
        retried.posts == 0 and retried.jira == 0,
    )
    result.counts.update(
        {
            "first previews": first.posts,
            "first jira calls": first.jira,
            "repeat previews": sum(step.posts for step in again),
            "repeat jira calls": repeat_calls,
            "unfurl jira calls": unfurl.jira,
            "same thread previews": same_thread.posts,
            "retried previews": retried.posts,
        }
    )
    if errors:
        result.notes.append(f"Connect logged {len(errors)} errors, e.g. {errors[0][:200]}")
    return result


@dataclass(frozen=True)
class Step:
    status: int
    jira: int
    posts: int


class Probe:
    """Sends one event and waits until Connect's work after the ack has settled."""

    def __init__(self, sites: Sites, target: Target) -> None:
        self.sites = sites
        self.target = target

    def send(
        self,
        request: SlackRequest,
        *,
        method: str = "chat.postMessage",
        wait: float = 1.0,
    ) -> Step:
        jira_before = self.sites.jira_request_count()
        posts_before = len(self.sites.slack_calls(method))
        status = load.post_slack(self.target.url, request).status_code
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:  # a preview posts in a few ms; give it a second
            if len(self.sites.slack_calls(method)) > posts_before:
                time.sleep(0.1)  # let anything else the same work does land too
                break
            time.sleep(0.02)
        return Step(
            status,
            self.sites.jira_request_count() - jira_before,
            len(self.sites.slack_calls(method)) - posts_before,
        )
