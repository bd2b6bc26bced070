"""`python -m bot socket` as an operator runs it: a real process speaking Slack's Socket Mode to
a fake Socket Mode server (a real WebSocket), Jira's webhooks and health still over HTTP."""

from __future__ import annotations

import hashlib
import hmac
import json
import signal
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import parse_qsl

import pytest
import requests

from bot import cli
from simulators.jira_site.server import FakeJiraServer
from simulators.jira_site.webhooks import issue_json, user_json
from simulators.slack_workspace.server import FakeSlackServer
from simulators.slack_workspace.transcript import SlackMessage
from tests.e2e.conftest import WEBHOOK_SECRET
from tests.e2e.test_cli import (
    bot_env,
    clean_env,
    free_port,
    run_bot,
    start_bot,
    stop_bot,
    wait_until_healthy,
)
from tests.e2e.test_message_shortcuts import message_action, picked, suggestion
from tests.e2e.test_oauth_install import CLIENT_ID, CLIENT_SECRET, INSTALLED_TOKEN, KEY, install
from tests.fakes.slack_requests import slash_command_body
from tests.fakes.socket_mode_server import FakeSocketModeServer
from tests.waiting import wait_until

T = TypeVar("T")


@dataclass
class SocketConnect:
    process: subprocess.Popen[str]
    url: str
    slack: FakeSlackServer
    jira: FakeJiraServer
    sockets: FakeSocketModeServer

    def slash(self, text: str, **fields: Any) -> tuple[dict[str, Any], str]:
        """A /jira command as a slash_commands envelope; its ack and its response_url."""
        response_url = self.slack.response_url()
        body = slash_command_body(text, response_url=response_url, **fields).decode()
        envelope_id = self.sockets.send(
            "slash_commands", dict(parse_qsl(body)), accepts_response_payload=True
        )
        return self.sockets.wait_for_ack(envelope_id), response_url

    def interact(self, payload: dict[str, Any]) -> dict[str, Any]:
        """An interactive envelope (shortcut, action, view submission, options); its ack."""
        envelope_id = self.sockets.send("interactive", payload, accepts_response_payload=True)
        return self.sockets.wait_for_ack(envelope_id)


def start_socket(env: dict[str, str], cwd: Path, *args: str) -> subprocess.Popen[str]:
    return start_bot("socket", *args, env=env, cwd=cwd)


@pytest.fixture
def socket_connect(tmp_path: Path) -> Iterator[SocketConnect]:
    with (
        FakeSlackServer() as slack,
        FakeJiraServer() as jira,
        FakeSocketModeServer(slack) as sockets,
    ):
        slack.slack.add_user("U0ALICE", "alice", real_name="Alice Adams", email="alice@example.com")
        slack.slack.add_user("U0BOB", "bob", real_name="Bob Baker", email="bob@example.com")
        slack.slack.add_channel("C0GENERAL", "general", members=["U0ALICE", "U0BOB"])
        port = free_port()
        env = clean_env(
            tmp_path,
            **bot_env(slack, jira),
            SLACK_APP_TOKEN=sockets.app_token,
            JIRA_WEBHOOK_SECRET=WEBHOOK_SECRET,
            CONNECT_POLL_INTERVAL="0",
            CONNECT_HOST="127.0.0.1",
            CONNECT_PORT=str(port),
        )
        process = start_socket(env, tmp_path)
        try:
            wait_until_healthy(f"http://127.0.0.1:{port}", process)
            sockets.wait_for_connection(1)
            yield SocketConnect(process, f"http://127.0.0.1:{port}", slack, jira, sockets)
        finally:
            stop_bot(process)


def status_change_webhook(jira: FakeJiraServer, changelog_id: str) -> tuple[bytes, str]:
    payload = json.dumps(
        {
            "timestamp": 1795670000000,
            "webhookEvent": "jira:issue_updated",
            "user": user_json(jira.jira.user("bob@example.com"), cloud=True),
            "issue": issue_json(jira.jira.get_issue("OPS-1"), cloud=True),
            "changelog": {
                "id": changelog_id,
                "items": [{"field": "status", "fromString": "In Progress", "toString": "Done"}],
            },
        }
    ).encode()
    digest = hmac.new(WEBHOOK_SECRET.encode(), payload, hashlib.sha256).hexdigest()
    return payload, f"sha256={digest}"


def test_slack_over_the_socket_jira_over_http_then_sigterm(socket_connect: SocketConnect) -> None:
    bot = socket_connect
    (connections_open,) = bot.slack.calls_to("apps.connections.open")
    assert connections_open.token == bot.sockets.app_token  # the app token, on SLACK_API_URL

    # A slash command: acked on the socket with its envelope id, the answer in the ack.
    ack, _ = bot.slash("help")
    assert set(ack) == {"envelope_id", "payload"}
    assert "/jira help" in ack["payload"]["text"]

    # A message shortcut (interactive): acked empty, the modal opened with its trigger.
    posted = bot.slack.slack.add_message("C0GENERAL", "Backups failing again", user="U0BOB")
    shortcut = message_action(
        "link_message_to_issue",
        "trig-socket",
        channel={"id": "C0GENERAL", "name": "general"},
        message={"type": "message", "user": "U0BOB", "ts": posted.ts, "text": posted.text},
        response_url=bot.slack.response_url(),
    )
    assert "payload" not in bot.interact(shortcut)
    opened = bot.slack.wait_for("views.open", lambda c: c.params["trigger_id"] == "trig-socket")
    view = {**opened.params["view"], "id": "V0SOCKET"}

    # Options for the picker come back in the ack's payload.
    options = bot.interact(suggestion("OPS-1", view))["payload"]["options"]
    assert [option["value"] for option in options] == ["OPS-1"]

    # Submitting links the thread: the ack clears the modal, the card lands in the thread.
    assert bot.interact(picked(view, "OPS-1"))["payload"] == {"response_action": "clear"}

    def replies() -> list[SlackMessage]:
        return bot.slack.slack.thread("C0GENERAL", posted.ts)[1:]

    (card,) = wait_until(replies)
    assert "Nightly database backup" in str(card.blocks)

    # Jira's webhook still arrives over HTTP; the in-process worker posts into the thread.
    body, signature = status_change_webhook(bot.jira, "99001")
    accepted = requests.post(
        f"{bot.url}/jira/webhook",
        data=body,
        timeout=10,
        headers={"Content-Type": "application/json", "X-Hub-Signature": signature},
    )
    assert accepted.json() == {"status": "accepted"}
    notified = wait_until(lambda: [m for m in replies() if "In Progress → Done" in m.text])
    assert len(notified) == 1 and "OPS-1" in notified[0].text
    assert requests.get(f"{bot.url}/health", timeout=5).json() == {
        "status": "healthy",
        "service": "connect",
    }
    metrics = requests.get(f"{bot.url}/metrics", timeout=5).text
    assert 'connect_socket_mode_envelope_seconds_count{type="interactive"} 3.0' in metrics

    # SIGTERM: the process stops cleanly and lets go of its socket.
    bot.process.send_signal(signal.SIGTERM)
    assert bot.process.wait(30) == 0
    bot.sockets.wait_until_all_closed()


def test_reconnects_when_slack_drops_or_retires_the_connection(
    socket_connect: SocketConnect,
) -> None:
    bot = socket_connect
    first = bot.sockets.wait_for_connection(1)
    ack, _ = bot.slash("help")
    assert "/jira help" in ack["payload"]["text"]

    # Slack closes the connection (a close frame): the app asks for a new URL and reconnects.
    bot.sockets.drop_connection(first)
    second = bot.sockets.wait_for_connection(2)
    assert len(bot.slack.calls_to("apps.connections.open")) == 2
    assert first.path.endswith("ticket=1") and second.path.endswith("ticket=2")
    ack, response_url = bot.slash("show OPS-1")
    assert second.received[-1] == ack  # acked on the new connection
    (shown,) = wait_until(lambda: bot.slack.responses(response_url))
    assert "OPS-1" in json.dumps(shown)

    # Slack's `disconnect` warning (refresh_requested): a new connection, the old one let go.
    bot.sockets.request_refresh(second)
    third = bot.sockets.wait_for_connection(3)
    assert third.path.endswith("ticket=3")
    bot.sockets.wait_for_closed(second)
    ack, _ = bot.slash("help")
    assert third.received[-1] == ack and "/jira help" in ack["payload"]["text"]


def test_sigterm_lets_an_envelope_in_hand_finish_and_ack(socket_connect: SocketConnect) -> None:
    bot = socket_connect
    view = {"id": "V0SLOW", "type": "modal", "callback_id": "link_message_modal"}
    # Jira answers slower than the picker waits (2 s): the envelope is still in hand, its
    # Jira call under way, when SIGTERM comes.
    bot.jira.delay_seconds = 3
    asked_before = len(bot.jira.requests)
    envelope_id = bot.sockets.send("interactive", suggestion("backup", view))
    wait_until(lambda: len(bot.jira.requests) > asked_before)
    bot.process.send_signal(signal.SIGTERM)
    ack = bot.sockets.wait_for_ack(envelope_id)
    assert "options" in ack["payload"]  # answered on the socket before it was let go
    assert bot.process.wait(30) == 0
    bot.sockets.wait_until_all_closed()


def test_no_worker_still_answers_slack_over_the_socket(tmp_path: Path) -> None:
    with (
        FakeSlackServer() as slack,
        FakeJiraServer() as jira,
        FakeSocketModeServer(slack) as sockets,
    ):
        port = free_port()
        env = clean_env(
            tmp_path,
            **bot_env(slack, jira),
            SLACK_APP_TOKEN=sockets.app_token,
            CONNECT_HOST="127.0.0.1",
        )
        process = start_socket(env, tmp_path, "--no-worker", "--port", str(port))
        try:
            wait_until_healthy(f"http://127.0.0.1:{port}", process)
            envelope_id = sockets.send(
                "slash_commands",
                dict(
                    parse_qsl(
                        slash_command_body("help", response_url=slack.response_url()).decode()
                    )
                ),
                accepts_response_payload=True,
            )
            assert "/jira help" in sockets.wait_for_ack(envelope_id)["payload"]["text"]
            process.send_signal(signal.SIGTERM)
            assert process.wait(30) == 0
        finally:
            stop_bot(process)


def test_oauth_mode_serves_each_workspace_with_its_installed_token(tmp_path: Path) -> None:
    with (
        FakeSlackServer() as slack,
        FakeJiraServer() as jira,
        FakeSocketModeServer(slack) as sockets,
    ):
        slack.api.client_id, slack.api.client_secret = CLIENT_ID, CLIENT_SECRET
        slack.slack.add_user("U0ALICE", "alice", real_name="Alice Adams", email="alice@example.com")
        slack.slack.add_channel("C0GENERAL", "general", members=["U0ALICE"])
        port = free_port()
        single = bot_env(slack, jira)
        del single["SLACK_BOT_TOKEN"]
        env = clean_env(
            tmp_path,
            **single,
            SLACK_CLIENT_ID=CLIENT_ID,
            SLACK_CLIENT_SECRET=CLIENT_SECRET,
            CONNECT_ENCRYPTION_KEY=KEY,
            SLACK_APP_TOKEN=sockets.app_token,
            CONNECT_HOST="127.0.0.1",
            CONNECT_PORT=str(port),
        )
        process = start_socket(env, tmp_path)
        try:
            url = f"http://127.0.0.1:{port}"
            wait_until_healthy(url, process)
            bot = SocketConnect(process, url, slack, jira, sockets)
            # The install pages are still served over HTTP; the token lands in the store.
            assert install(bot).status_code == 200  # type: ignore[arg-type]
            ack, response_url = bot.slash("connect", team=slack.slack.team_id)
            assert ack["envelope_id"]
            (answer,) = wait_until(lambda: slack.responses(response_url))
            assert "You are *Alice Adams* in Jira" in answer["text"]
            lookups = slack.calls_to("users.info")
            assert lookups and {call.token for call in lookups} == {INSTALLED_TOKEN}
            process.send_signal(signal.SIGTERM)
            assert process.wait(30) == 0
        finally:
            stop_bot(process)


def test_socket_has_help_and_is_listed(capsys: pytest.CaptureFixture[str]) -> None:
    # In this process: argparse answers before any setting is read (the real entry point's
    # --help is run by tests/e2e/test_cli.py).
    assert cli.main([]) == 0
    assert "socket" in capsys.readouterr().out
    with pytest.raises(SystemExit) as exited:
        cli.main(["socket", "--help"])
    assert exited.value.code == 0
    printed = capsys.readouterr().out
    assert printed.startswith("usage: python -m bot socket")
    assert "SLACK_APP_TOKEN" in printed and "--no-worker" in printed


def test_socket_without_an_app_token_names_it_in_one_line(tmp_path: Path) -> None:
    with FakeSlackServer() as slack, FakeJiraServer() as jira:
        result = run_bot("socket", env=clean_env(tmp_path, **bot_env(slack, jira)), cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1, result.stderr
    assert result.stderr.startswith("connect: missing settings: SLACK_APP_TOKEN")
    assert "Traceback" not in result.stderr


def test_socket_with_a_bot_token_as_app_token_says_so(tmp_path: Path) -> None:
    with FakeSlackServer() as slack, FakeJiraServer() as jira:
        env = clean_env(tmp_path, **bot_env(slack, jira), SLACK_APP_TOKEN=slack.token)
        result = run_bot("socket", env=env, cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1, result.stderr
    assert "SLACK_APP_TOKEN" in result.stderr and "xapp-" in result.stderr
    assert slack.token not in result.stderr


def test_socket_with_a_token_slack_refuses_exits_2(tmp_path: Path) -> None:
    with FakeSlackServer() as slack, FakeJiraServer() as jira:
        env = clean_env(tmp_path, **bot_env(slack, jira), SLACK_APP_TOKEN="xapp-1-unknown")
        result = run_bot("socket", env=env, cwd=tmp_path)
    assert result.returncode == 2
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("connect: Slack refused SLACK_APP_TOKEN") and "invalid_auth" in last
    assert "xapp-1-unknown" not in result.stderr
    assert "Traceback" not in result.stderr


def test_envelope_id_is_the_request_id_on_every_line_logged_for_it(tmp_path: Path) -> None:
    with (
        FakeSlackServer() as slack,
        FakeJiraServer() as jira,
        FakeSocketModeServer(slack) as sockets,
    ):
        port = free_port()
        env = clean_env(
            tmp_path,
            **bot_env(slack, jira),
            SLACK_APP_TOKEN=sockets.app_token,
            CONNECT_HOST="127.0.0.1",
            CONNECT_LOG_FORMAT="json",
        )
        process = start_socket(env, tmp_path, "--no-worker", "--port", str(port))
        try:
            wait_until_healthy(f"http://127.0.0.1:{port}", process)
            # A message event the ack accepts but the preview (after the ack, on the work
            # pool's thread) cannot read: it logs a warning.
            envelope_id = sockets.send(
                "events_api",
                {
                    "type": "event_callback",
                    "team_id": "T0TEAM",
                    "api_app_id": "A0CONNECT",
                    "event_id": "Ev0SOCKETLOG1",
                    "event": {"type": "message", "team": "T0TEAM"},
                },
            )
            sockets.wait_for_ack(envelope_id)
        finally:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
            output, _ = process.communicate(timeout=30)
    records = [json.loads(line) for line in output.splitlines() if line.startswith("{")]
    mine = [r for r in records if r.get("request_id") == envelope_id]
    assert any(r["logger"] == "connect.slack" and r["level"] == "WARNING" for r in mine), output
