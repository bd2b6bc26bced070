"""PostgreSQL restarting under load: `python -m bot serve` on a PostgreSQL server of the test's
own, Jira webhooks arriving all along, the server stopped (fast) midway and started again.

Webhooks that arrive while the database is away are answered 503 (Jira delivers them again),
never 200 for a delivery that was not stored, never 500; /ready says 503 then 200; the same
process recovers by itself, and every change is posted to Slack exactly once.
"""

from __future__ import annotations

import hashlib
import hmac
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from sqlalchemy import Engine, create_engine, func, select
from sqlalchemy.pool import NullPool

from models import NotificationOutbox, ProcessedDelivery
from models.delivery import PENDING, SENDING
from simulators.jira_site.server import FakeJiraServer
from simulators.slack_workspace.server import FakeSlackServer
from tests.e2e.conftest import SIGNING_SECRET, WEBHOOK_SECRET
from tests.e2e.test_cli import bot_env, clean_env, free_port, run_bot, wait_until_healthy
from tests.fakes.slack_requests import signed_headers, slash_command_body
from tests.faults.helpers import CHANNEL, comment_webhook, note, posted_texts
from tests.faults.postgres import TempPostgres, missing_reason
from tests.waiting import wait_until

pytestmark = pytest.mark.skipif(
    missing_reason() is not None, reason=f"no test-owned PostgreSQL: {missing_reason()}"
)

CHANGES = 30
STOP_AFTER = 8  # accepted deliveries before the database goes away
OUTAGE_503S = 3  # refused deliveries seen before it comes back


@pytest.fixture
def postgres() -> Iterator[TempPostgres]:
    with TempPostgres() as server:
        yield server


class JiraSender:
    """Delivers comment webhooks 0..CHANGES-1 in order, and again those not answered 200, the
    way Jira retries a delivery that failed; records every answer."""

    def __init__(self, url: str, jira: FakeJiraServer) -> None:
        self.url = url
        self.bodies = {n: comment_webhook(jira, n) for n in range(CHANGES)}
        self.answers: list[tuple[int, int, str]] = []  # (number, HTTP status, body status)
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, name="jira-sender", daemon=True)

    def _deliver(self, number: int) -> bool:
        body = self.bodies[number]
        signature = hmac.new(WEBHOOK_SECRET.encode(), body, hashlib.sha256).hexdigest()
        try:
            response = requests.post(
                f"{self.url}/jira/webhook",
                data=body,
                timeout=30,
                headers={
                    "Content-Type": "application/json",
                    "X-Hub-Signature": f"sha256={signature}",
                },
            )
        except requests.RequestException as exc:  # recorded as status 0: not a 200 either
            answer: tuple[int, int, str] = (number, 0, type(exc).__name__)
        else:
            try:
                said = str(response.json().get("status") or response.json().get("code"))
            except ValueError:
                said = response.text[:80]
            answer = (number, response.status_code, said)
        with self.lock:
            self.answers.append(answer)
        return answer[1] == 200

    def _run(self) -> None:
        waiting: list[int] = []
        for number in range(CHANGES):
            if not self._deliver(number):
                waiting.append(number)
            self.stop.wait(0.03)  # paced like a Jira site sending webhooks
        while waiting and not self.stop.is_set():
            waiting = [n for n in waiting if not self._deliver(n)]
            self.stop.wait(0.1)  # a sender retrying refused deliveries

    def accepted(self) -> int:
        with self.lock:
            return sum(1 for _, status, _ in self.answers if status == 200)

    def refused(self) -> int:
        with self.lock:
            return sum(1 for _, status, _ in self.answers if status != 200)

    def done(self) -> set[int]:
        with self.lock:
            return {n for n, status, _ in self.answers if status == 200}


def ready_status(url: str) -> int:
    return requests.get(f"{url}/ready", timeout=10).status_code


def unfinished(engine: Engine) -> int:
    with engine.connect() as connection:
        rows = connection.scalar(
            select(func.count())
            .select_from(NotificationOutbox)
            .where(NotificationOutbox.status.in_((PENDING, SENDING)))
        )
        deliveries = connection.scalar(
            select(func.count())
            .select_from(ProcessedDelivery)
            .where(ProcessedDelivery.status == PENDING)
        )
    return int(rows or 0) + int(deliveries or 0)


def test_serve_rides_out_a_database_restart_and_posts_every_change_once(
    postgres: TempPostgres, tmp_path: Path
) -> None:
    with FakeSlackServer() as slack, FakeJiraServer() as jira:
        slack.slack.add_channel(CHANNEL, "ops", members=["U0ALICE"])
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        env = clean_env(
            tmp_path,
            **bot_env(slack, jira),
            DATABASE_URL=postgres.url,
            JIRA_WEBHOOK_SECRET=WEBHOOK_SECRET,
            CONNECT_POLL_INTERVAL="0",
            CONNECT_HOST="127.0.0.1",
            CONNECT_PORT=str(port),
        )
        upgraded = run_bot("db", "upgrade", env=env, cwd=tmp_path)
        assert upgraded.returncode == 0, upgraded.stderr

        log = (tmp_path / "serve.log").open("w")
        serve = subprocess.Popen(
            [sys.executable, "-m", "bot", "serve"],
            env=env,
            cwd=tmp_path,
            stdout=log,
            stderr=subprocess.STDOUT,
            text=True,
        )
        engine = create_engine(postgres.url, poolclass=NullPool)
        sender = JiraSender(url, jira)
        try:
            wait_until_healthy(url, serve)
            assert ready_status(url) == 200
            body = slash_command_body(
                "link OPS-1", response_url=slack.response_url(), channel=CHANNEL
            )
            headers = signed_headers(
                SIGNING_SECRET, body, content_type="application/x-www-form-urlencoded"
            )
            assert requests.post(f"{url}/slack/events", data=body, headers=headers, timeout=10).ok
            wait_until(lambda: "Linked this channel" in str(slack.responses()), what="the link")

            sender.thread.start()
            wait_until(lambda: sender.accepted() >= STOP_AFTER, what="deliveries before the stop")
            postgres.stop()  # fast: open transactions rolled back, connections cut

            wait_until(lambda: ready_status(url) == 503, what="/ready saying 503")
            wait_until(lambda: sender.refused() >= OUTAGE_503S, what="deliveries refused")
            assert ready_status(url) == 503
            postgres.start()

            wait_until(lambda: ready_status(url) == 200, what="/ready saying 200 again")
            wait_until(
                lambda: sender.done() == set(range(CHANGES)),
                timeout=60,
                what="every delivery accepted",
            )
            wait_until(lambda: unfinished(engine) == 0, timeout=60, what="every change posted")

            assert serve.poll() is None, "serve had to be restarted"
            statuses = {status for _, status, _ in sender.answers}
            assert 500 not in statuses and 0 not in statuses, sender.answers
            assert statuses == {200, 503}, sender.answers
            refused = [said for _, status, said in sender.answers if status == 503]
            assert set(refused) == {"NOT_READY"}
            posted = posted_texts(slack)
            for number in range(CHANGES):
                assert posted.count(note(number)) == 1, (number, posted)
        finally:
            sender.stop.set()
            if serve.poll() is None:
                serve.send_signal(signal.SIGTERM)
            try:
                serve.wait(20)
            except subprocess.TimeoutExpired:
                serve.kill()
                serve.wait(10)
            log.close()
            engine.dispose()
