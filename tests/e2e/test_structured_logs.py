"""`serve` with CONNECT_LOG_FORMAT=json: every line is a JSON object, Slack work carries the
request's request_id (also after the ack, on another thread), a Jira webhook its delivery_id,
and no secret is in any line."""

from __future__ import annotations

import hashlib
import hmac
import json
import signal
from pathlib import Path
from typing import Any

import requests

from simulators.jira_site.server import DEFAULT_API_TOKEN, FakeJiraServer
from simulators.slack_workspace.server import FakeSlackServer
from tests.e2e.conftest import SIGNING_SECRET, WEBHOOK_SECRET
from tests.e2e.test_cli import bot_env, clean_env, free_port, start_bot, wait_until_healthy
from tests.fakes.slack_requests import signed_headers


def test_serve_logs_json_lines_with_request_and_delivery_ids(tmp_path: Path) -> None:
    with FakeSlackServer() as slack, FakeJiraServer() as jira:
        port = free_port()
        env = clean_env(
            tmp_path,
            **bot_env(slack, jira),
            JIRA_WEBHOOK_SECRET=WEBHOOK_SECRET,
            CONNECT_HOST="127.0.0.1",
            CONNECT_PORT=str(port),
            CONNECT_POLL_INTERVAL="0",
            CONNECT_LOG_FORMAT="json",
        )
        process = start_bot("serve", env=env, cwd=tmp_path)
        url = f"http://127.0.0.1:{port}"
        try:
            wait_until_healthy(url, process)
            # A message event the ack accepts but the preview (after the ack) cannot read:
            # it logs a warning from the work pool's thread.
            event = {
                "type": "event_callback",
                "team_id": "T0TEAM",
                "api_app_id": "A0CONNECT",
                "event_id": "Ev0LOGS0001",
                "event": {"type": "message", "team": "T0TEAM"},
            }
            body = json.dumps(event).encode()
            slack_answer = requests.post(
                f"{url}/slack/events",
                data=body,
                headers={
                    **signed_headers(SIGNING_SECRET, body, content_type="application/json"),
                    "X-Request-Id": "e2e-slack-request-1",
                },
                timeout=10,
            )
            assert slack_answer.status_code == 200, slack_answer.text
            assert slack_answer.headers["X-Request-Id"] == "e2e-slack-request-1"

            webhook = json.dumps(
                {
                    "webhookEvent": "jira:issue_updated",
                    "timestamp": 1700000000000,
                    "issue": {"id": "10001", "key": "OPS-1", "fields": {}},
                }
            ).encode()
            digest = hmac.new(WEBHOOK_SECRET.encode(), webhook, hashlib.sha256).hexdigest()
            jira_answer = requests.post(
                f"{url}/jira/webhook",
                data=webhook,
                headers={
                    "Content-Type": "application/json",
                    "X-Hub-Signature": f"sha256={digest}",
                    "X-Atlassian-Webhook-Identifier": "e2e-delivery-77",
                },
                timeout=10,
            )
            assert jira_answer.status_code == 200, jira_answer.text
            generated = jira_answer.headers["X-Request-Id"]
            assert generated
        finally:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
            output, _ = process.communicate(timeout=30)

    records: list[dict[str, Any]] = [json.loads(line) for line in output.splitlines() if line]
    assert all(
        isinstance(r, dict) and {"timestamp", "level", "logger", "message"} <= r.keys()
        for r in records
    )
    after_ack = [r for r in records if r.get("request_id") == "e2e-slack-request-1"]
    assert any(r["logger"] == "connect.slack" and r["level"] == "WARNING" for r in after_ack), (
        output
    )
    # The delivery's dedupe key, made of Jira's X-Atlassian-Webhook-Identifier.
    stored = [r for r in records if r.get("delivery_id", "").endswith(":e2e-delivery-77")]
    assert any("jira webhook accepted" in r["message"] for r in stored), output
    assert all(r.get("request_id") == generated for r in stored)
    for secret in (SIGNING_SECRET, WEBHOOK_SECRET, DEFAULT_API_TOKEN, slack.token or "xoxb-"):
        assert secret not in output
