"""/jira/webhook when the database is away: 503 for Jira to redeliver, one quiet line each."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from typing import Any

import pytest
from flask import Flask
from sqlalchemy.exc import OperationalError, ProgrammingError

from bot.webhook import register_jira_webhook

SECRET = "webhook-secret"


class FailingIntake:
    def __init__(self, error: Exception) -> None:
        self.error = error

    def accept(self, body: dict[str, Any], **_: Any) -> Any:
        raise self.error


def post(error: Exception) -> Any:
    web = Flask("test")
    register_jira_webhook(
        web,
        secret=SECRET,
        intake=FailingIntake(error),  # type: ignore[arg-type]
        wake=lambda: None,
    )
    body = json.dumps({"webhookEvent": "jira:issue_updated"}).encode()
    digest = hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    return web.test_client().post(
        "/jira/webhook",
        data=body,
        headers={"Content-Type": "application/json", "X-Hub-Signature": f"sha256={digest}"},
    )


def test_a_database_outage_answers_503_with_one_warning_line(
    caplog: pytest.LogCaptureFixture,
) -> None:
    outage = OperationalError("INSERT ...", {}, ConnectionRefusedError("connection refused"))
    with caplog.at_level(logging.WARNING, logger="connect.webhook"):
        response = post(outage)
    assert response.status_code == 503
    assert response.get_json()["code"] == "NOT_READY"
    (record,) = [r for r in caplog.records if r.name == "connect.webhook"]
    assert record.levelno == logging.WARNING and record.exc_info is None
    assert "database unavailable (ConnectionRefusedError)" in record.getMessage()


def test_another_database_error_is_still_503_but_logged_with_its_traceback(
    caplog: pytest.LogCaptureFixture,
) -> None:
    bug = ProgrammingError("INSERT ...", {}, Exception("no such column"))
    with caplog.at_level(logging.WARNING, logger="connect.webhook"):
        response = post(bug)
    assert response.status_code == 503
    (record,) = [r for r in caplog.records if r.name == "connect.webhook"]
    assert record.levelno == logging.ERROR and record.exc_info is not None
