"""SIGTERM drains: work handed over after an ack still finishes before `serve` exits."""

from __future__ import annotations

import signal
import threading
from pathlib import Path

import requests

from simulators.jira_site.server import FakeJiraServer
from simulators.slack_workspace.server import FakeSlackServer
from tests.e2e.conftest import SIGNING_SECRET, connect_settings, running_connect
from tests.e2e.test_cli import (
    bot_env,
    clean_env,
    free_port,
    start_bot,
    stop_bot,
    wait_until_healthy,
)
from tests.e2e.test_commands import wait_for_response
from tests.e2e.test_message_shortcuts import options
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


def test_every_pool_the_app_used_is_shut_down_with_it(
    fake_slack: FakeSlackServer, fake_jira: FakeJiraServer, tmp_path: Path
) -> None:
    """The work after acks, the issue picker's and the Transition select's threads are built
    by the composition root and stopped with the runtime (none left behind by a handler)."""
    settings = connect_settings(fake_slack, fake_jira, tmp_path / "connect.db")
    with running_connect(settings, fake_slack, fake_jira) as connect:
        _response, response_url = connect.slash("show OPS-1")
        assert "OPS-1" in wait_for_response(connect, response_url)["text"]  # a work thread
        assert options(connect, "OPS-1")  # the picker's threads
        transitions = {
            "type": "block_suggestion",
            "user": {"id": "U0ALICE"},
            "team": {"id": "T0TEAM"},
            "action_id": "card_transition",
            "block_id": "card:OPS-1:actions",
            "value": "",
        }
        assert connect.interact(transitions).json()["options"]  # the Transition select's
        used = {thread.name.rsplit("_", 1)[0] for thread in threading.enumerate()}
        assert {"connect-work", "connect-picker", "connect-transitions"} <= used
    left = [
        thread.name
        for thread in threading.enumerate()
        if thread.name.startswith(("connect-work", "connect-picker", "connect-transitions"))
    ]
    assert left == []
