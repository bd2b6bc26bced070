from __future__ import annotations

import pytest

from bot.web import read_slack_body

FORM = "application/x-www-form-urlencoded"


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (b"command=%2Fjira&text=help&team_id=T1", FORM),
        (b"payload=%7B%22type%22%3A%22shortcut%22%7D", FORM),
        (b'{"type": "event_callback", "event": {}}', "application/json"),
    ],
)
def test_bodies_bolt_can_parse_pass(body: bytes, content_type: str) -> None:
    assert isinstance(read_slack_body(body, content_type), dict)


@pytest.mark.parametrize(
    ("body", "content_type", "problem"),
    [
        (b"\xff\xfe\x00binary", FORM, "UTF-8"),
        (b'{"type": "event_callback"', "application/json", "not valid JSON"),
        (b"[1, 2]", "application/json", "not a JSON object"),
        (b"payload=%7Bbroken", FORM, "payload is not valid JSON"),
        (b"payload=%5B%5D", FORM, "payload is not a JSON object"),
        (b"", FORM, "empty"),
        (b'{"a":1', "text/plain", "not valid JSON"),
    ],
)
def test_bodies_bolt_would_choke_on_are_named(body: bytes, content_type: str, problem: str) -> None:
    found = read_slack_body(body, content_type)
    assert isinstance(found, str) and problem in found


def test_signature_matches_slack_sdks_for_text_and_handles_bytes() -> None:
    from slack_sdk.signature import SignatureVerifier

    from bot.web import slack_signature_valid

    body, stamp = b"command=%2Fjira&text=help", "1700000000"
    signature = SignatureVerifier("s3cret").generate_signature(timestamp=stamp, body=body)
    assert signature is not None
    assert slack_signature_valid("s3cret", body, stamp, signature, now=1700000100)
    assert not slack_signature_valid("other", body, stamp, signature, now=1700000100)
    assert not slack_signature_valid("s3cret", body, stamp, signature, now=1700000000 + 301)
    assert not slack_signature_valid("s3cret", body, "", signature)
    assert not slack_signature_valid("s3cret", body, "-1", signature)
    assert not slack_signature_valid("s3cret", b"\xff\xfe", stamp, signature, now=1700000000)


def test_the_body_is_read_once_as_bolt_wants_it() -> None:
    command = read_slack_body(b"command=%2Fjira&text=search+payload&team_id=T1", FORM)
    assert command == {"command": "/jira", "text": "search payload", "team_id": "T1"}
    interaction = read_slack_body(b"payload=%7B%22type%22%3A%22shortcut%22%7D", FORM)
    assert interaction == {"type": "shortcut"}
    event = read_slack_body(b'{"type": "url_verification"}', "application/json; charset=utf-8")
    assert event == {"type": "url_verification"}


def test_bolt_gets_the_body_read_through_its_public_request() -> None:
    from bot.web import bolt_request

    request = bolt_request(
        {
            "command": "/jira",
            "text": "search payload",
            "team_id": "T1",
            "user_id": "U1",
            "channel_id": "C1",
        },
        "",
        {"content-type": FORM, "x-slack-signature": "v0=abc"},
    )

    assert request.body["text"] == "search payload"
    assert (request.context.team_id, request.context.user_id) == ("T1", "U1")
    assert request.context.channel_id == "C1"
    assert request.headers["x-slack-signature"] == ["v0=abc"]
    assert request.lazy_only is False
