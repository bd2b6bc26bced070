"""Raw HTTP from someone without the secrets, into the running app (SPEC §11).

Header values of any bytes or length are refused with 401/400 and change nothing; the
metrics a stranger's requests feed keep to closed label sets, so `/metrics` cannot be grown.
"""

from __future__ import annotations

import hashlib
import hmac
import http.client
import json
import logging
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlparse

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from models import ProcessedDelivery
from simulators.jira_site.server import FakeJiraServer
from simulators.slack_workspace.server import FakeSlackServer
from tests.e2e.conftest import (
    SIGNING_SECRET,
    WEBHOOK_SECRET,
    RunningConnect,
    connect_settings,
    running_connect,
)
from tests.fakes.slack_requests import slash_command_body

FUZZ = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
# Any bytes a header line can carry (no CR/LF, which would end it).
header_bytes = st.binary(max_size=300).map(lambda b: b.replace(b"\r", b"").replace(b"\n", b""))
long_digits = st.integers(min_value=13, max_value=5000).map(lambda n: b"1" * n)


class Errors(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningConnect]:
    """One Connect for the module: hypothesis sends many requests to the same process."""
    database: Path = tmp_path_factory.mktemp("hostile") / "connect.db"
    with (
        FakeSlackServer() as slack,
        FakeJiraServer() as jira,
        running_connect(connect_settings(slack, jira, database), slack, jira) as running,
    ):
        yield running


@pytest.fixture
def errors() -> Iterator[Errors]:
    handler = Errors()
    logging.getLogger().addHandler(handler)
    try:
        yield handler
    finally:
        logging.getLogger().removeHandler(handler)


def raw(
    app: RunningConnect,
    method: str,
    path: str,
    headers: list[tuple[str, bytes]],
    body: bytes = b"",
) -> tuple[int, bytes]:
    """One request sent byte for byte (requests and urllib refuse non-ASCII header values)."""
    url = urlparse(app.url)
    connection = http.client.HTTPConnection(url.hostname or "", url.port, timeout=10)
    try:
        connection.putrequest(method, path, skip_accept_encoding=True)
        for name, value in headers:
            connection.putheader(name, value)
        connection.putheader("Content-Length", str(len(body)))
        connection.endheaders(body)
        answer = connection.getresponse()
        return answer.status, answer.read()
    finally:
        connection.close()


def slack_headers(timestamp: bytes, signature: bytes) -> list[tuple[str, bytes]]:
    return [
        ("Content-Type", b"application/x-www-form-urlencoded"),
        ("X-Slack-Request-Timestamp", timestamp),
        ("X-Slack-Signature", signature),
    ]


def slack_body(app: RunningConnect) -> bytes:
    return slash_command_body("help", response_url=app.slack.response_url())


def deliveries(app: RunningConnect) -> int:
    with app.runtime.services.uow() as work:
        return int(work.session.scalar(select(func.count()).select_from(ProcessedDelivery)) or 0)


def now_stamp() -> bytes:
    return str(int(time.time())).encode()


def sign(body: bytes, stamp: bytes) -> bytes:
    digest = hmac.new(SIGNING_SECRET.encode(), b"v0:" + stamp + b":" + body, hashlib.sha256)
    return b"v0=" + digest.hexdigest().encode()


# -- Slack's signature ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "signature",
    ["v0=é".encode(), "v0=é".encode("latin-1"), b"v0=\xff\xfe", "v0=\uff41\uff42".encode()],
)
def test_a_non_ascii_slack_signature_is_401(
    app: RunningConnect, errors: Errors, signature: bytes
) -> None:
    status, body = raw(
        app, "POST", "/slack/events", slack_headers(now_stamp(), signature), slack_body(app)
    )
    assert status == 401, body
    assert json.loads(body)["code"] == "INVALID_SIGNATURE"
    assert errors.records == []


@pytest.mark.parametrize("digits", [13, 4300, 20000])
def test_a_timestamp_of_thousands_of_digits_is_401(
    app: RunningConnect, errors: Errors, digits: int
) -> None:
    stamp = b"1" * digits
    body = slack_body(app)
    status, answer = raw(
        app, "POST", "/slack/events", slack_headers(stamp, sign(body, stamp)), body
    )
    assert status == 401, answer
    assert errors.records == []


# Full-width and Arabic-Indic digits: str.isdigit() says yes, and int() reads them.
@pytest.mark.parametrize(
    "stamp", ["\uff11\uff17\uff10".encode(), "\u0661\u0667\u0660".encode(), b"+1700000000"]
)
def test_only_ascii_digits_make_a_timestamp(app: RunningConnect, stamp: bytes) -> None:
    body = slack_body(app)
    status, _ = raw(app, "POST", "/slack/events", slack_headers(stamp, sign(body, stamp)), body)
    assert status == 401


def test_a_correct_signature_over_raw_headers_is_still_accepted(app: RunningConnect) -> None:
    body, stamp = slack_body(app), now_stamp()
    status, _ = raw(app, "POST", "/slack/events", slack_headers(stamp, sign(body, stamp)), body)
    assert status == 200


@FUZZ
@given(stamp=st.one_of(header_bytes, long_digits), signature=header_bytes)
@example(stamp=b"1700000000", signature="v0=é".encode())
@example(stamp=b"1" * 4300, signature=b"v0=00")
def test_fuzzed_slack_headers_are_refused_without_side_effect(
    app: RunningConnect, errors: Errors, stamp: bytes, signature: bytes
) -> None:
    before, calls = deliveries(app), len(app.slack.calls)
    status, _ = raw(app, "POST", "/slack/events", slack_headers(stamp, signature), slack_body(app))
    assert status in (400, 401)
    assert errors.records == []
    assert deliveries(app) == before
    assert len(app.slack.calls) == calls


# -- Jira's signature ----------------------------------------------------------------------


def webhook_body() -> bytes:
    return json.dumps({"webhookEvent": "jira:issue_updated", "timestamp": 1}).encode()


@pytest.mark.parametrize(
    "signature", ["sha256=é".encode(), b"sha256=\xff", "sha256=\uff41".encode(), b"sha256="]
)
def test_a_non_ascii_hub_signature_is_401(
    app: RunningConnect, errors: Errors, signature: bytes
) -> None:
    headers = [("Content-Type", b"application/json"), ("X-Hub-Signature", signature)]
    status, body = raw(app, "POST", "/jira/webhook", headers, webhook_body())
    assert status == 401, body
    assert errors.records == []


@FUZZ
@given(signature=header_bytes, secret=header_bytes)
@example(signature="sha256=é".encode(), secret=b"")
def test_fuzzed_webhook_signatures_are_refused_without_side_effect(
    app: RunningConnect, errors: Errors, signature: bytes, secret: bytes
) -> None:
    from urllib.parse import quote_from_bytes

    before = deliveries(app)
    headers = [("Content-Type", b"application/json"), ("X-Hub-Signature", signature)]
    path = "/jira/webhook?secret=" + quote_from_bytes(secret)
    status, _ = raw(app, "POST", path, headers, webhook_body())
    assert status in (400, 401)
    assert errors.records == []
    assert deliveries(app) == before


def test_a_signed_webhook_over_raw_http_is_still_stored(app: RunningConnect) -> None:
    body = webhook_body()
    digest = hmac.new(WEBHOOK_SECRET.encode(), body, hashlib.sha256).hexdigest()
    headers = [
        ("Content-Type", b"application/json"),
        ("X-Hub-Signature", f"sha256={digest}".encode()),
    ]
    status, _ = raw(app, "POST", "/jira/webhook", headers, body)
    assert status == 200


# -- /metrics ------------------------------------------------------------------------------


def test_made_up_methods_and_paths_do_not_grow_the_metrics(app: RunningConnect) -> None:
    def series() -> set[bytes]:
        status, body = raw(app, "GET", "/metrics", [])
        assert status == 200
        lines = body.splitlines()
        return {line.rsplit(b" ", 1)[0] for line in lines if line and not line.startswith(b"#")}

    def stranger(method: str, n: int) -> None:
        raw(app, method, "/health", [])
        raw(app, method, "/slack/events", [])
        raw(app, method, f"/no/such/path/{n}", [])
        raw(app, method, "/jira/webhook", [])

    stranger("GET", 0)
    stranger("BREW", 0)  # every label set the loop below can make
    series()  # ...and /metrics' own
    before = series()
    for n in range(300):
        stranger(f"M{n:04d}", n)
    after = series()
    assert after == before
    assert any(b'method="other"' in line for line in after)
    assert not any(b"M0001" in line or b"/no/such" in line for line in after)
