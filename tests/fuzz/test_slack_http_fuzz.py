"""Signed Slack requests with fuzzed contents, through the real Flask + Bolt app.

Whatever Slack (or someone holding the signing secret) sends, Connect answers 2xx or 4xx,
logs no ERROR, and no work it does after the ack dies with an unhandled exception (SPEC §11).
"""

from __future__ import annotations

import itertools
import json
from typing import Any
from urllib.parse import parse_qs, urlencode

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from tests.fakes.slack_requests import slash_command_body
from tests.fuzz.harness import FuzzedConnect
from tests.fuzz.payloads import (
    EVENTS,
    INTERACTIONS,
    command_text,
    junk,
    mutated,
)

FUZZ = settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
_fresh = itertools.count(1)

# A Share click with no response_url (found by test_interactivity_payloads: Bolt's
# `respond(delete_original=True)` raised after the ack, logged as an ERROR).
SHARE_WITHOUT_RESPONSE_URL: dict[str, Any] = {
    "type": "block_actions",
    "team": {},
    "user": {"name": "alice", "team_id": "T0TEAM"},
    "channel": {"id": "C0GENERAL", "name": "general"},
    "message": {"text": "OPS-1"},
    "actions": [
        {
            "block_id": "card:OPS-1:actions",
            "action_ts": "1700000002.1",
            "type": "button",
            "action_id": "share_issue",
            "value": "OPS-1",
        }
    ],
}


def freshen(payload: Any) -> Any:
    """New event and view ids each time: Connect drops repeats, and repeats test nothing."""
    n = next(_fresh)
    text = json.dumps(payload)
    text = text.replace("Ev0FUZZ0001", f"Ev0FUZZ{n:07d}").replace("V0FUZZ", f"V0FUZZ{n}")
    return json.loads(text)


@FUZZ
@given(text=command_text)
@example(text="create")  # an expired trigger_id: views.open fails after the ack
def test_slash_command_text(app: FuzzedConnect, text: str) -> None:
    outcome = app.slash(text)
    outcome.assert_handled()
    assert outcome.status in (200, 413)  # 413: a body over 1 MiB


@FUZZ
@given(
    fields=st.fixed_dictionaries(
        {},
        optional={
            name: st.one_of(st.text(max_size=20), command_text)
            for name in (
                "team_id",
                "channel_id",
                "channel_name",
                "user_id",
                "command",
                "text",
                "response_url",
                "trigger_id",
                "api_app_id",
                "enterprise_id",
                "is_enterprise_install",
            )
        },
    )
)
@example(fields={"response_url": "0"})  # once failed only after the ack, inside slack_sdk
def test_slash_command_form_fields(app: FuzzedConnect, fields: dict[str, str]) -> None:
    body = slash_command_body("help", response_url=app.response_url)
    form = {name: values[0] for name, values in parse_qs(body.decode()).items()}
    app.post_slack(urlencode({**form, **fields}).encode()).assert_handled()


@FUZZ
@given(payload=st.sampled_from(INTERACTIONS).flatmap(mutated))
# Found by this test once (each was a 500): kept as fixed examples.
@example(payload={"type": "block_actions", "actions": None})
@example(payload={"type": "block_actions", "actions": []})
@example(payload={"type": "view_submission", "view": None})
@example(payload={"type": "view_submission", "response_urls": None})
@example(payload={"type": "shortcut", "message": {"user": 5}})
@example(payload=SHARE_WITHOUT_RESPONSE_URL)
def test_interactivity_payloads(app: FuzzedConnect, payload: Any) -> None:
    app.interact(freshen(payload)).assert_handled()


def test_a_share_click_without_response_url_still_shares(app: FuzzedConnect) -> None:
    """Nothing to answer to: the card is still shared in the channel, the answer that would
    have removed the ephemeral card is skipped, and nothing fails."""
    app.slack.reset_calls()
    outcome = app.interact(SHARE_WITHOUT_RESPONSE_URL)
    outcome.assert_handled()
    assert outcome.status == 200
    (posted,) = app.slack.calls_to("chat.postMessage")
    assert posted.params["channel"] == "C0GENERAL"
    assert "OPS-1" in posted.params["text"]
    assert app.slack.calls_to("response_url") == []


def test_a_page_click_without_response_url_does_nothing(app: FuzzedConnect) -> None:
    """The next page replaces the answer clicked, through its response_url: with none there is
    nothing to do, and nothing is done."""
    click = {**SHARE_WITHOUT_RESPONSE_URL, "team": {"id": "T0TEAM"}, "user": {"id": "U0ALICE"}}
    click["actions"] = [{"type": "button", "action_id": "list_page", "value": "links:2"}]
    app.slack.reset_calls()
    outcome = app.interact(click)
    outcome.assert_handled()
    assert outcome.status == 200
    # Bolt may check the bot token (auth.test) for the first request a workspace sends.
    assert [call.method for call in app.slack.calls if call.method != "auth.test"] == []


def test_a_command_without_response_url_runs_and_answers_no_one(app: FuzzedConnect) -> None:
    form = parse_qs(slash_command_body("links", response_url=app.response_url).decode())
    del form["response_url"]
    app.slack.reset_calls()
    outcome = app.post_slack(urlencode({name: values[0] for name, values in form.items()}).encode())
    outcome.assert_handled()
    assert outcome.status == 200
    assert app.slack.calls_to("response_url") == []


@FUZZ
@given(payload=junk)
def test_interactivity_payload_of_any_shape(app: FuzzedConnect, payload: Any) -> None:
    app.interact(payload).assert_handled()


@FUZZ
@given(envelope=st.sampled_from(EVENTS).flatmap(mutated))
@example(envelope={"type": "event_callback", "event": None})
@example(envelope={"type": "event_callback", "event": {"type": "message", "user": False}})
@example(envelope={"type": "event_callback", "authorizations": [{"enterprise": 1}]})
@example(envelope={"type": "event_callback", "event": {"type": "message", "team": "T0TEAM"}})
def test_events_api_envelopes(app: FuzzedConnect, envelope: Any) -> None:
    app.event(freshen(envelope)).assert_handled()


def test_the_templates_themselves_are_handled(app: FuzzedConnect) -> None:
    """Unmutated, each template is a request Connect handles (so mutations start from real)."""
    for payload in INTERACTIONS:
        outcome = app.interact(freshen(payload))
        outcome.assert_handled()
        assert outcome.status == 200, (payload["type"], outcome.body)
    for envelope in EVENTS:
        outcome = app.event(freshen(envelope))
        outcome.assert_handled()
        if envelope["event"]["type"] != "reaction_added":  # not subscribed: Bolt's 404
            assert outcome.status == 200, outcome.body
