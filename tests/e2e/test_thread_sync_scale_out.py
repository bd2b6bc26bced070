"""Two `serve` processes on one PostgreSQL database, each Slack event of a synced thread
delivered to both (and once more as a retry), one process killed midway: every reply is one
Jira comment (SPEC §13, §8)."""

from __future__ import annotations

import contextlib
import json
import signal
import subprocess
import sys
import threading
from pathlib import Path

import requests

from bot.database import create_db_engine, upgrade
from simulators.jira_site.server import FakeJiraServer
from simulators.slack_workspace.server import FakeSlackServer
from tests.e2e.conftest import SIGNING_SECRET, unfinished_work, uow_of
from tests.e2e.slack_events import event_callback, message_event
from tests.e2e.test_cli import bot_env, clean_env, free_port, wait_until_healthy
from tests.fakes.slack_requests import signed_headers, slash_command_body
from tests.waiting import wait_until

REPLIES = 12
CHANNEL = "C0GENERAL"


def post_event(url: str, body: bytes, retry: int | None = None) -> None:
    headers = signed_headers(SIGNING_SECRET, body, content_type="application/json")
    if retry is not None:
        headers |= {"X-Slack-Retry-Num": str(retry), "X-Slack-Retry-Reason": "http_timeout"}
    with contextlib.suppress(requests.RequestException):  # killed under it: the other has it
        requests.post(f"{url}/slack/events", data=body, headers=headers, timeout=10)


def test_every_reply_is_one_comment_across_processes(postgres_url: str, tmp_path: Path) -> None:
    engine = create_db_engine(postgres_url)
    upgrade(engine)
    with FakeSlackServer() as slack, FakeJiraServer() as jira:
        slack.slack.add_user("U0ALICE", "alice", real_name="Alice Adams")
        slack.slack.add_user("U0BOB", "bob", real_name="Bob Baker")
        slack.slack.add_channel(CHANNEL, "general", members=["U0ALICE", "U0BOB"])
        base = clean_env(
            tmp_path,
            **bot_env(slack, jira),
            DATABASE_URL=postgres_url,
            CONNECT_POLL_INTERVAL="0",
            # A killed process's claims are taken up once their lease has run out: 10 s, not
            # 60, so the test does not wait a minute (a claim that outlives it is looked up
            # before it is sent again, so nothing is doubled).
            CONNECT_CLAIM_LEASE_SECONDS="10",
            CONNECT_HOST="127.0.0.1",
        )
        processes: list[subprocess.Popen[str]] = []

        def start(port: int) -> subprocess.Popen[str]:
            process = subprocess.Popen(
                [sys.executable, "-m", "bot", "serve"],
                env={**base, "CONNECT_PORT": str(port)},
                cwd=tmp_path,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                text=True,
            )
            processes.append(process)
            return process

        port_a, port_b = free_port(), free_port()
        url_a, url_b = f"http://127.0.0.1:{port_a}", f"http://127.0.0.1:{port_b}"
        serve_a, serve_b = start(port_a), start(port_b)
        try:
            wait_until_healthy(url_a, serve_a)
            wait_until_healthy(url_b, serve_b)
            body = slash_command_body("link OPS-1 --sync", response_url=slack.response_url())
            requests.post(
                f"{url_b}/slack/events",
                data=body,
                timeout=10,
                headers=signed_headers(
                    SIGNING_SECRET, body, content_type="application/x-www-form-urlencoded"
                ),
            )
            # The answer comes once the link is recorded (after the card is posted).
            wait_until(lambda: "synced thread" in str(slack.responses()), what="the link")
            thread = slack.slack.top_level(CHANNEL)[0].ts

            stamps = []
            for number in range(REPLIES):
                text = f"reply-{number:02d}"
                reply = slack.slack.add_message(CHANNEL, text, user="U0BOB", thread_ts=thread)
                stamps.append(reply.ts)
                event = message_event(text, user="U0BOB", ts=reply.ts, thread_ts=thread)
                payload = json.dumps(event_callback(event, event_id=f"EvSCALE{number:04d}"))
                sends = [
                    threading.Thread(target=post_event, args=(url, payload.encode()))
                    for url in (url_a, url_b)
                ]
                sends.append(threading.Thread(target=post_event, args=(url_b, payload.encode(), 1)))
                for send in sends:
                    send.start()
                for send in sends:
                    send.join()
                if number == REPLIES // 2:
                    serve_a.send_signal(signal.SIGKILL)  # mid-stream, possibly mid-write

            # A killed process's claims expire after their lease: then the survivor takes them up.
            wait_until(
                lambda: unfinished_work(uow_of(engine)) == 0,
                timeout=120,
                what="every synced reply to be processed",
            )
            bodies = [c.body for c in jira.jira.comments("OPS-1")]
            for number, stamp in enumerate(stamps):
                mine = [b for b in bodies if f"/p{stamp.replace('.', '')}" in b]
                assert len(mine) == 1, (number, mine)
                assert mine[0].startswith(f"reply-{number:02d}")
        finally:
            for process in processes:
                if process.poll() is None:
                    process.send_signal(signal.SIGTERM)
            for process in processes:
                try:
                    process.wait(20)
                except subprocess.TimeoutExpired:
                    process.kill()
            engine.dispose()
