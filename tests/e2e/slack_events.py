"""Events API bodies and card interactions, shaped the way Slack sends them."""

from __future__ import annotations

import itertools
import json
import time
from typing import Any

from sqlalchemy import func, select

from models import Base
from tests.e2e.conftest import RunningConnect, wait_quiet

TEAM_ID = "T0TEAM"
APP_ID = "A0CONNECT"
BOT_USER = "UCONNECTBOT"  # the fake Slack's bot user (auth.test)
JSON = "application/json"
_ids = itertools.count(1)
_ts = itertools.count(1)


def next_ts() -> str:
    return f"1700000{next(_ts):03d}.000100"


def event_callback(event: dict[str, Any], *, event_id: str | None = None) -> dict[str, Any]:
    return {
        "token": "deprecated-verification-token",
        "team_id": TEAM_ID,
        "context_team_id": TEAM_ID,
        "api_app_id": APP_ID,
        "event": event,
        "type": "event_callback",
        "event_id": event_id or f"Ev{next(_ids):08d}TEST",
        "event_time": int(time.time()),
        "authorizations": [
            {
                "enterprise_id": None,
                "team_id": TEAM_ID,
                "user_id": BOT_USER,
                "is_bot": True,
                "is_enterprise_install": False,
            }
        ],
        "is_ext_shared_channel": False,
        "event_context": "4-eyJldCI6Im1lc3NhZ2UifQ",
    }


def message_event(
    text: str,
    *,
    user: str = "U0ALICE",
    channel: str = "C0GENERAL",
    ts: str | None = None,
    thread_ts: str | None = None,
    channel_type: str = "channel",
    **extra: Any,
) -> dict[str, Any]:
    stamp = ts or next_ts()
    event: dict[str, Any] = {
        "type": "message",
        "channel": channel,
        "user": user,
        "text": text,
        "ts": stamp,
        "event_ts": stamp,
        "channel_type": channel_type,
        "client_msg_id": f"c0ffee00-{next(_ids):04d}",
        "team": TEAM_ID,
        "blocks": [],
    }
    if thread_ts:
        event["thread_ts"] = thread_ts
        event["parent_user_id"] = "U0BOB"
    event.update(extra)
    return event


def send_event(
    connect: RunningConnect,
    event: dict[str, Any],
    *,
    event_id: str | None = None,
    retry: int | None = None,
) -> None:
    body = json.dumps(event_callback(event, event_id=event_id)).encode()
    headers = {}
    if retry is not None:
        headers = {"X-Slack-Retry-Num": str(retry), "X-Slack-Retry-Reason": "http_timeout"}
    response = connect.post_slack(body, content_type=JSON, headers=headers)
    assert response.status_code == 200, response.text


def settle(connect: RunningConnect) -> None:
    """The work the requests sent so far handed over after their acks is done (used to show
    that nothing happens)."""
    wait_quiet(connect)


def row_counts(connect: RunningConnect) -> dict[str, int]:
    """Rows in every table: unchanged counts mean nothing was written."""
    with connect.runtime.services.uow() as work:
        return {
            table.name: int(work.session.scalar(select(func.count()).select_from(table)) or 0)
            for table in Base.metadata.sorted_tables
        }


def posts(connect: RunningConnect, channel: str = "C0GENERAL") -> list[dict[str, Any]]:
    return [
        call.params
        for call in connect.slack.calls_to("chat.postMessage")
        if call.params.get("channel") == channel
    ]


def block_action(
    action: dict[str, Any],
    *,
    user: str = "U0ALICE",
    channel: str = "C0GENERAL",
    message: dict[str, Any] | None = None,
    response_url: str,
    trigger_id: str | None = None,
    ephemeral: bool = False,
) -> dict[str, Any]:
    container: dict[str, Any] = {
        "type": "message",
        "channel_id": channel,
        "is_ephemeral": ephemeral,
    }
    payload: dict[str, Any] = {
        "type": "block_actions",
        "team": {"id": TEAM_ID, "domain": "acme"},
        "user": {"id": user, "username": user.lower(), "team_id": TEAM_ID},
        "api_app_id": APP_ID,
        "token": "deprecated",
        "container": container,
        "trigger_id": trigger_id or f"{next(_ids)}.42.trigger",
        "channel": {"id": channel, "name": "general"},
        "response_url": response_url,
        "actions": [{"action_ts": "1700000000.1", **action}],
    }
    if message is not None:
        container["message_ts"] = message["ts"]
        if message.get("thread_ts"):
            container["thread_ts"] = message["thread_ts"]
        payload["message"] = {"type": "message", "user": BOT_USER, **message}
    else:
        container["message_ts"] = next_ts()
    return payload


def card_button(blocks: list[dict[str, Any]], action_id: str) -> dict[str, Any]:
    """The element with `action_id` in the cards' action blocks, with its block_id."""
    for block in blocks:
        for element in block.get("elements", []) if block.get("type") == "actions" else []:
            if element.get("action_id") == action_id:
                return {**element, "block_id": block["block_id"]}
    raise AssertionError(f"no {action_id} on the card")
