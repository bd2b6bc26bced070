"""Two `serve` processes and a `worker` on one PostgreSQL database: every change posted once,
even when each webhook reaches both servers and one of them is killed midway (SPEC §8); and
DMed once to the person each change mentions (SPEC §7)."""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import signal
import subprocess
import sys
import threading
from datetime import UTC, datetime
from pathlib import Path

import requests
from sqlalchemy.orm import Session

from bot.database import create_db_engine, upgrade
from clients.jira_client import JiraComment
from models import UserLink
from simulators.jira_site.server import FakeJiraServer
from simulators.jira_site.webhooks import comment_json, issue_json, user_json
from simulators.slack_workspace.server import FakeSlackServer
from tests.e2e.conftest import SIGNING_SECRET, WEBHOOK_SECRET, unfinished_work, uow_of
from tests.e2e.test_cli import bot_env, clean_env, free_port, wait_until_healthy
from tests.fakes.slack_requests import signed_headers, slash_command_body
from tests.waiting import wait_until

CHANGES = 24


def comment_payload(jira: FakeJiraServer, number: int) -> bytes:
    issue = jira.jira.get_issue("OPS-1")
    bob = jira.jira.user("bob@example.com")
    moment = datetime.now(UTC)  # after the link: comments from before it are old news
    text = f"note-{number:02d} for [~accountid:acc-carol]"  # Carol is DMed each one
    comment = JiraComment(str(90_000 + number), text, bob, moment, moment)
    return json.dumps(
        {
            "timestamp": 1795670000000 + number,
            "webhookEvent": "comment_created",
            "user": user_json(bob, cloud=True),
            "issue": issue_json(issue, cloud=True),
            "comment": comment_json(comment, cloud=True),
        }
    ).encode()


def deliver(url: str, body: bytes) -> None:
    signature = "sha256=" + hmac.new(WEBHOOK_SECRET.encode(), body, hashlib.sha256).hexdigest()
    with contextlib.suppress(requests.RequestException):  # killed under it: the other has it
        requests.post(
            f"{url}/jira/webhook",
            data=body,
            timeout=10,
            headers={"Content-Type": "application/json", "X-Hub-Signature": signature},
        )


def test_every_change_is_posted_once_across_processes(postgres_url: str, tmp_path: Path) -> None:
    engine = create_db_engine(postgres_url)
    upgrade(engine)
    with FakeSlackServer() as slack, FakeJiraServer() as jira:
        slack.slack.add_channel("C0OPS", "ops", members=["U0ALICE"])
        slack.slack.add_user("U0CAROL", "carol", real_name="Carol Chen", email="carol@example.com")
        with Session(engine) as session:  # Carol, mapped to her Jira account
            session.add(
                UserLink(
                    team_id="T0TEAM",
                    slack_user_id="U0CAROL",
                    jira_account_id="acc-carol",
                    jira_display_name="Carol Chen",
                    email="carol@example.com",
                )
            )
            session.commit()
        base = clean_env(
            tmp_path,
            **bot_env(slack, jira),
            DATABASE_URL=postgres_url,
            JIRA_WEBHOOK_SECRET=WEBHOOK_SECRET,
            CONNECT_POLL_INTERVAL="0",
            # A killed process's claims are taken up once their lease has run out: 10 s, not
            # 60, so the test does not wait a minute (a claim that outlives it is looked up
            # before it is sent again, so nothing is doubled).
            CONNECT_CLAIM_LEASE_SECONDS="10",
            CONNECT_HOST="127.0.0.1",
        )
        processes: list[subprocess.Popen[str]] = []

        def start(*args: str, port: int | None = None) -> subprocess.Popen[str]:
            env = {**base, "CONNECT_PORT": str(port or free_port())}
            process = subprocess.Popen(
                [sys.executable, "-m", "bot", *args],
                env=env,
                cwd=tmp_path,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                text=True,
            )
            processes.append(process)
            return process

        port_a, port_b = free_port(), free_port()
        url_a, url_b = f"http://127.0.0.1:{port_a}", f"http://127.0.0.1:{port_b}"
        serve_a, serve_b = start("serve", port=port_a), start("serve", port=port_b)
        start("worker")
        try:
            wait_until_healthy(url_a, serve_a)
            wait_until_healthy(url_b, serve_b)
            body = slash_command_body(
                "link OPS-1", response_url=slack.response_url(), channel="C0OPS"
            )
            requests.post(
                f"{url_b}/slack/events",
                data=body,
                timeout=10,
                headers=signed_headers(
                    SIGNING_SECRET, body, content_type="application/x-www-form-urlencoded"
                ),
            )
            wait_until(
                lambda: "Linked this channel" in str(slack.responses()),
                timeout=15,
                what="the channel link to be confirmed",
            )

            for number in range(CHANGES):
                payload = comment_payload(jira, number)
                both = [
                    threading.Thread(target=deliver, args=(url, payload)) for url in (url_a, url_b)
                ]
                for thread in both:
                    thread.start()
                for thread in both:
                    thread.join()
                if number == CHANGES // 2:
                    serve_a.send_signal(signal.SIGKILL)  # mid-stream, possibly mid-send

            # A killed sender's claims expire after their lease: then the survivor sends them.
            wait_until(
                lambda: unfinished_work(uow_of(engine)) == 0,
                timeout=120,
                what="both processes' deliveries and notifications to be done",
            )

            def posted() -> str:
                return " ".join(m.text for m in slack.slack.messages.get("C0OPS", []))

            wait_until(
                lambda: all(f"note-{n:02d}" in posted() for n in range(CHANGES)),
                what="every change to be posted",
            )
            dmed = " ".join(m.text for m in slack.slack.messages.get("D0CAROL", []))
            for number in range(CHANGES):
                assert posted().count(f"note-{number:02d}") == 1, (number, posted())
                assert dmed.count(f"note-{number:02d}") == 1, (number, dmed)
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
