"""The pipeline end to end: signed Slack requests into the running app, and its endpoints."""

from __future__ import annotations

import time

import requests

from tests.e2e.conftest import RunningConnect
from tests.fakes.slack_requests import slash_command_body


def test_health_ready_and_metrics(connect: RunningConnect) -> None:
    health = requests.get(f"{connect.url}/health", timeout=5)
    assert health.status_code == 200
    assert health.json() == {"status": "healthy", "service": "connect"}
    assert requests.get(f"{connect.url}/ready", timeout=5).json() == {"status": "ready"}
    metrics = requests.get(f"{connect.url}/metrics", timeout=5)
    assert metrics.status_code == 200
    assert (
        'connect_http_requests_total{method="GET",route="/health",status="200"} 1.0' in metrics.text
    )


def test_jira_help_is_answered_in_the_ack(connect: RunningConnect) -> None:
    response, _ = connect.slash("help")
    assert response.status_code == 200
    answer = response.json()
    assert answer["response_type"] == "ephemeral"
    assert "/jira help" in answer["text"]
    assert connect.jira.requests == []  # help needs no Jira


def test_empty_command_is_help(connect: RunningConnect) -> None:
    response, _ = connect.slash("")
    assert "/jira help" in response.json()["text"]


def test_unknown_subcommand_says_so_and_shows_usage(connect: RunningConnect) -> None:
    response, _ = connect.slash("frobnicate OPS-1")
    answer = response.json()
    assert "`/jira frobnicate` is not a command I know" in answer["text"]
    assert "/jira help" in answer["text"]


def test_unsigned_wrongly_signed_and_stale_requests_are_refused(connect: RunningConnect) -> None:
    body = slash_command_body("help", response_url=connect.slack.response_url())
    unsigned = requests.post(
        f"{connect.url}/slack/events",
        data=body,
        timeout=5,
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    wrong = connect.post_slack(body, secret="not-the-secret")
    stale = connect.post_slack(body, timestamp=int(time.time()) - 6 * 60)
    for response in (unsigned, wrong, stale):
        assert response.status_code == 401
        assert response.json()["code"] == "INVALID_SIGNATURE"
    assert connect.slack.calls == []


def test_malformed_bodies_get_4xx_and_the_process_stays_healthy(connect: RunningConnect) -> None:
    cases = [
        (b"\x00\xff\xfe binary", "application/x-www-form-urlencoded"),
        (b'{"type": "event_callback", ', "application/json"),
        (b"payload=%7Bnot-json", "application/x-www-form-urlencoded"),
        (b"payload=%5B1%5D", "application/x-www-form-urlencoded"),
        (b"command=%2Fjira&text=help", "application/x-www-form-urlencoded"),  # no team, user...
        (b'{"type": "event_callback", "event": "not-an-object"}', "application/json"),
        (b"payload=%7B%22type%22%3A%20%22shortcut%22%7D", "application/x-www-form-urlencoded"),
    ]
    for body, content_type in cases:
        response = connect.post_slack(body, content_type=content_type)
        assert 400 <= response.status_code < 500, (body, response.status_code, response.text)
    oversized = connect.post_slack(b"text=" + b"a" * (1024 * 1024 + 10))
    assert oversized.status_code == 413
    assert oversized.json()["code"] == "PAYLOAD_TOO_LARGE"
    assert requests.get(f"{connect.url}/health", timeout=5).status_code == 200


def test_unknown_routes_answer_json(connect: RunningConnect) -> None:
    missing = requests.get(f"{connect.url}/nope", timeout=5)
    assert missing.status_code == 404
    assert missing.json()["code"] == "NOT_FOUND"
    wrong_method = requests.get(f"{connect.url}/slack/events", timeout=5)
    assert wrong_method.status_code == 405


def test_shapes_bolts_own_middleware_would_trip_on_are_400(connect: RunningConnect) -> None:
    import json
    from urllib.parse import urlencode

    bodies = [
        (json.dumps({"type": "event_callback", "event": "x"}).encode(), "application/json"),
        (json.dumps({"type": 5}).encode(), "application/json"),
        (json.dumps({"event": {}}).encode(), "application/json"),
        (
            urlencode({"payload": json.dumps({"type": "block_actions", "user": "U1"})}).encode(),
            "application/x-www-form-urlencoded",
        ),
        (
            urlencode(
                {"payload": json.dumps({"type": "view_submission", "view": {"id": "V1"}})}
            ).encode(),
            "application/x-www-form-urlencoded",
        ),
        (
            urlencode({"payload": json.dumps({"type": "view_submission", "view": []})}).encode(),
            "application/x-www-form-urlencoded",
        ),
    ]
    for body, content_type in bodies:
        response = connect.post_slack(body, content_type=content_type)
        assert response.status_code == 400, (body, response.text)
        assert response.json()["code"] == "INVALID_PAYLOAD"
