"""bot/web.SlackEventsEntry: `/slack/events` answered in front of Flask, keeping what Flask's
routes do: the request id, the request metrics, JSON errors, and a logged 500 for our faults."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
from typing import Any
from unittest.mock import MagicMock
from urllib.parse import urlencode

import pytest
from flask.testing import FlaskClient
from slack_bolt import BoltResponse

from bot.metrics import Metrics
from bot.web import MAX_BODY_BYTES, REQUEST_ID_HEADER, create_web_app

SECRET = "entry-secret"
BODY = urlencode(
    {"command": "/jira", "text": "help", "team_id": "T1", "user_id": "U1", "channel_id": "C1"}
).encode()


def signed(body: bytes, secret: str = SECRET) -> dict[str, str]:
    stamp = str(int(time.time()))
    digest = hmac.new(secret.encode(), b"v0:" + stamp.encode() + b":" + body, hashlib.sha256)
    return {
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Slack-Request-Timestamp": stamp,
        "X-Slack-Signature": "v0=" + digest.hexdigest(),
    }


class Bolt:
    """What the entry needs of Bolt's App: dispatch, recorded."""

    oauth_flow = None

    def __init__(self, answer: BoltResponse | Exception) -> None:
        self.answer = answer
        self.seen: list[Any] = []

    def dispatch(self, request: Any) -> BoltResponse:
        self.seen.append(request)
        if isinstance(self.answer, Exception):
            raise self.answer
        return self.answer


def client_for(bolt: Bolt, metrics: Metrics | None = None) -> FlaskClient:
    web = create_web_app(
        bolt_app=bolt,  # type: ignore[arg-type]
        signing_secret=SECRET,
        engine=MagicMock(),
        metrics=metrics or Metrics(),
    )
    return web.test_client()


def test_a_signed_request_reaches_bolt_read_once_and_its_answer_goes_back() -> None:
    bolt = Bolt(BoltResponse(status=200, body={"text": "hi"}, headers={"x-extra": "1"}))
    answer = client_for(bolt).post(
        "/slack/events?ssl_check=0", data=BODY, headers=signed(BODY) | {"X-Slack-Retry-Num": "1"}
    )
    assert answer.status_code == 200
    assert answer.get_json() == {"text": "hi"}
    assert answer.headers["Content-Type"] == "application/json;charset=utf-8"
    assert answer.headers["x-extra"] == "1"
    request = bolt.seen[0]
    assert request.body["text"] == "help"
    assert request.query == {"ssl_check": ["0"]}
    assert request.headers["x-slack-retry-num"] == ["1"]
    assert request.headers["content-type"] == ["application/x-www-form-urlencoded"]


def test_the_request_id_is_echoed_or_made_and_the_request_counted() -> None:
    metrics = Metrics()
    client = client_for(Bolt(BoltResponse(status=200, body="")), metrics)
    given = client.post(
        "/slack/events", data=BODY, headers=signed(BODY) | {REQUEST_ID_HEADER: "proxy-7"}
    )
    made = client.post("/slack/events", data=BODY, headers=signed(BODY))
    assert given.headers[REQUEST_ID_HEADER] == "proxy-7"
    assert len(made.headers[REQUEST_ID_HEADER]) == 32
    rendered = metrics.render().decode()
    counted = 'connect_http_requests_total{method="POST",route="/slack/events",status="200"} 2.0'
    assert counted in rendered


@pytest.mark.parametrize(
    ("method", "body", "secret", "status", "code"),
    [
        ("GET", b"", None, 405, "METHOD_NOT_ALLOWED"),
        ("POST", BODY, "wrong", 401, "INVALID_SIGNATURE"),
        ("POST", b"\xff\xfe", SECRET, 400, "INVALID_PAYLOAD"),
        ("POST", b"a" * (MAX_BODY_BYTES + 1), None, 413, "PAYLOAD_TOO_LARGE"),
    ],
)
def test_refusals_are_json_and_never_reach_bolt(
    method: str, body: bytes, secret: str | None, status: int, code: str
) -> None:
    bolt = Bolt(BoltResponse(status=200))
    headers = signed(body, secret) if secret else {}  # signed now: a signature goes stale
    answer = client_for(bolt).open("/slack/events", method=method, data=body, headers=headers)
    assert answer.status_code == status
    assert answer.get_json()["code"] == code
    assert REQUEST_ID_HEADER in answer.headers
    assert bolt.seen == []


FORGED_URLS = ["0", "javascript:alert(1)", "file:///etc/passwd", "https://", "//no-scheme"]


@pytest.mark.parametrize("url", FORGED_URLS)
def test_a_forged_response_url_is_refused_before_the_ack(url: str) -> None:
    # slack_sdk would only fail on it after the ack, where nobody can be told (SPEC §11).
    form = urlencode({"command": "/jira", "text": "help", "response_url": url}).encode()
    action = json.dumps({"type": "block_actions", "response_url": url, "actions": [{}]})
    submission = json.dumps(
        {
            "type": "view_submission",
            "view": {"type": "modal"},
            "response_urls": [{"response_url": url}],
        }
    )
    bolt = Bolt(BoltResponse(status=200))
    client = client_for(bolt)
    for body in (
        form,
        urlencode({"payload": action}).encode(),
        urlencode({"payload": submission}).encode(),
    ):
        answer = client.post("/slack/events", data=body, headers=signed(body))
        assert answer.status_code == 400, body
        assert answer.get_json()["code"] == "INVALID_PAYLOAD"
        assert "response_url" in answer.get_json()["error"]
    assert bolt.seen == []


def test_a_real_response_url_passes() -> None:
    bolt = Bolt(BoltResponse(status=200))
    body = urlencode(
        {
            "command": "/jira",
            "text": "help",
            "response_url": "https://hooks.slack.com/commands/T1/1/x",
        }
    ).encode()
    assert (
        client_for(bolt).post("/slack/events", data=body, headers=signed(body)).status_code == 200
    )
    assert len(bolt.seen) == 1


def test_a_fault_of_ours_is_a_logged_500(caplog: pytest.LogCaptureFixture) -> None:
    client = client_for(Bolt(RuntimeError("boom")))
    with caplog.at_level(logging.ERROR):
        answer = client.post("/slack/events", data=BODY, headers=signed(BODY))
    assert answer.status_code == 500
    assert answer.get_json() == {"error": "internal error", "code": "INTERNAL_ERROR"}
    assert "unexpected error answering POST /slack/events" in caplog.text


def test_every_other_path_is_flasks() -> None:
    client = client_for(Bolt(BoltResponse(status=200)))
    assert client.get("/health").get_json()["status"] == "healthy"
    assert client.get("/slack/events/extra").status_code == 404
