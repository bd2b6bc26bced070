"""SIGTERM drains: work handed over after an ack still finishes before `serve` exits."""

from __future__ import annotations

import signal
from pathlib import Path

import requests

from simulators.jira_site.server import FakeJiraServer
from simulators.slack_workspace.server import FakeSlackServer
from tests.e2e.conftest import SIGNING_SECRET
from tests.e2e.test_cli import (
    bot_env,
    clean_env,
    free_port,
    start_bot,
    stop_bot,
    wait_until_healthy,
)
from tests.fakes.slack_requests import signed_headers, slash_command_body

JIRA_DELAY = 3.0


def test_sigterm_lets_an_answer_in_flight_reach_slack_then_exits_cleanly(tmp_path: Path) -> None:
    with FakeSlackServer() as slack, FakeJiraServer() as jira:
        port = free_port()
        env = clean_env(
            tmp_path,
            **bot_env(slack, jira),
            CONNECT_HOST="127.0.0.1",
            CONNECT_PORT=str(port),
            CONNECT_POLL_INTERVAL="0",
        )
        process = start_bot("serve", env=env, cwd=tmp_path)
        url = f"http://127.0.0.1:{port}"
        try:
            wait_until_healthy(url, process)
            jira.delay_seconds = JIRA_DELAY
            response_url = slack.response_url()
            body = slash_command_body("show OPS-1", response_url=response_url)
            ack = requests.post(
                f"{url}/slack/events",
                data=body,
                timeout=5,
                headers=signed_headers(
                    SIGNING_SECRET, body, content_type="application/x-www-form-urlencoded"
                ),
            )
            assert ack.status_code == 200
            # The card is still waiting on Jira when the process is told to stop...
            assert slack.responses(response_url) == []
            process.send_signal(signal.SIGTERM)
            assert process.wait(30) == 0
            # ...and it reached Slack before the process went.
            (card,) = slack.responses(response_url)
            assert "OPS-1" in str(card)
        finally:
            stop_bot(process)
