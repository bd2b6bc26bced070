"""bot/listener_matching: Bolt's built-in matchers called with the body, through Bolt's own
dispatch: every kind of listener Connect registers is still found, and only it."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlencode

import pytest
from slack_bolt import Ack, App, BoltRequest
from slack_bolt.authorization import AuthorizeResult
from slack_bolt.listener_matcher.builtins import BuiltinListenerMatcher
from slack_sdk import WebClient

from bot.listener_matching import BodyMatcher, use_direct_matchers

TEAM = {"id": "T1", "domain": "acme"}
USER = {"id": "U1", "team_id": "T1"}


def build_app(ran: list[str]) -> App:
    app = App(
        signing_secret="secret",
        client=WebClient(base_url="http://127.0.0.1:9/api/"),
        authorize=lambda **_: AuthorizeResult(
            enterprise_id=None, team_id="T1", bot_token="xoxb-test", bot_user_id="UBOT"
        ),
        process_before_response=True,
        token_verification_enabled=False,
        request_verification_enabled=False,
    )

    def listener(name: str) -> Any:
        def run(ack: Ack) -> None:
            ran.append(name)
            ack()

        return run

    app.command("/jira")(listener("command"))
    app.shortcut("create_issue")(listener("shortcut"))
    app.action("pick_project")(listener("action"))
    app.view("create_issue_modal")(listener("view"))
    app.view_closed("create_issue_modal")(listener("view closed"))
    app.event("app_mention")(listener("mention"))
    app.message("OPS-")(listener("message"))  # a matcher of Bolt's own with a regex
    return app


def form(body: dict[str, Any]) -> str:
    return urlencode({"payload": json.dumps(body)})


REQUESTS = {
    "command": urlencode({"command": "/jira", "text": "help", "team_id": "T1", "user_id": "U1"}),
    "shortcut": form(
        {"type": "shortcut", "callback_id": "create_issue", "team": TEAM, "user": USER}
    ),
    "action": form(
        {
            "type": "block_actions",
            "team": TEAM,
            "user": USER,
            "actions": [{"action_id": "pick_project", "block_id": "b", "type": "static_select"}],
        }
    ),
    "view": form(
        {
            "type": "view_submission",
            "team": TEAM,
            "user": USER,
            "view": {"id": "V1", "type": "modal", "callback_id": "create_issue_modal"},
        }
    ),
    "view closed": form(
        {
            "type": "view_closed",
            "team": TEAM,
            "user": USER,
            "view": {"id": "V1", "type": "modal", "callback_id": "create_issue_modal"},
        }
    ),
    "mention": json.dumps(
        {
            "type": "event_callback",
            "team_id": "T1",
            "event": {"type": "app_mention", "user": "U1", "text": "<@UBOT> hi", "channel": "C1"},
        }
    ),
    "message": json.dumps(
        {
            "type": "event_callback",
            "team_id": "T1",
            "event": {"type": "message", "user": "U1", "text": "see OPS-1", "channel": "C1"},
        }
    ),
}


def dispatch(app: App, body: str) -> int:
    content_type = (
        "application/json" if body.startswith("{") else "application/x-www-form-urlencoded"
    )
    response = app.dispatch(BoltRequest(body=body, headers={"content-type": content_type}))
    return response.status


def test_the_built_in_matchers_are_swapped_and_others_kept() -> None:
    app = build_app([])
    swapped = use_direct_matchers(app)
    matchers = [m for listener in app._listeners for m in listener.matchers]
    assert swapped == sum(isinstance(m, BodyMatcher) for m in matchers) > 0
    assert not any(type(m) is BuiltinListenerMatcher and m.arg_names == ["body"] for m in matchers)


@pytest.mark.parametrize("kind", sorted(REQUESTS))
def test_each_request_still_finds_its_listener_and_only_it(kind: str) -> None:
    ran: list[str] = []
    app = build_app(ran)
    pass
    assert dispatch(app, REQUESTS[kind]) == 200
    assert ran == [kind]


def test_a_request_no_listener_wants_is_still_unhandled() -> None:
    ran: list[str] = []
    app = build_app(ran)
    pass
    other = form({"type": "shortcut", "callback_id": "something_else", "team": TEAM, "user": USER})
    assert dispatch(app, other) == 404
    assert ran == []
