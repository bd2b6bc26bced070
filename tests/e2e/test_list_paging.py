"""`/jira links` and `/jira subscriptions` in a busy channel: paged, every section within
Slack's limits (the fake Slack refuses a response past them, as Slack does), Previous/Next."""

from __future__ import annotations

import json
from typing import Any

from clients.slack_limits import MAX_BLOCKS, MAX_SECTION_TEXT, message_violation
from handlers.blocks import LIST_PAGE_ACTION, LIST_PAGE_SIZE
from models import ChannelSubscription, JiraSlackLink
from tests.e2e.conftest import RunningConnect
from tests.e2e.slack_events import TEAM_ID, block_action, card_button
from tests.e2e.test_commands import wait_for_response

CHANNEL = "C0GENERAL"
LINKS = 120
SUBSCRIPTIONS = 45


def _fill_channel(connect: RunningConnect) -> None:
    with connect.runtime.services.uow() as work:
        for number in range(LINKS):
            ts = f"1700000000.{number:06d}"
            work.session.add(
                JiraSlackLink(
                    team_id=TEAM_ID,
                    issue_id=str(20_000 + number),
                    issue_key=f"OPS-{1000 + number}",
                    channel_id=CHANNEL,
                    message_ts=ts,
                    thread_ts=ts,
                    permalink=f"https://acme.slack.com/archives/{CHANNEL}/p{ts.replace('.', '')}"
                    + "?thread_ts="
                    + ts
                    + "&cid="
                    + CHANNEL,
                    created_by="U0ALICE",
                )
            )
        for number in range(1, SUBSCRIPTIONS + 1):
            work.session.add(
                ChannelSubscription(
                    team_id=TEAM_ID,
                    channel_id=CHANNEL,
                    number=number,
                    project_key="OPS",
                    jql=f"labels = l{number} AND " + " OR ".join(["priority = High"] * 20),
                    created_by="U0ALICE",
                )
            )
        work.commit()


def _within_limits(message: dict[str, Any]) -> None:
    blocks = message["blocks"]
    assert message_violation(message["text"], blocks) is None
    assert len(blocks) <= MAX_BLOCKS
    assert all(len(b.get("text", {}).get("text", "")) <= MAX_SECTION_TEXT for b in blocks)


def _page(connect: RunningConnect, text: str) -> dict[str, Any]:
    _, response_url = connect.slash(text, channel=CHANNEL)
    message = wait_for_response(connect, response_url)
    _within_limits(message)
    return message


def _keys(message: dict[str, Any]) -> list[str]:
    shown = json.dumps(message["blocks"])
    return [f"OPS-{1000 + n}" for n in range(LINKS) if f"*OPS-{1000 + n}*" in shown]


def test_links_are_paged_within_slacks_limits(connect: RunningConnect) -> None:
    _fill_channel(connect)
    first = _page(connect, "links")
    assert "page 1 of 6" in first["text"]
    assert _keys(first) == [f"OPS-{1000 + n}" for n in range(LIST_PAGE_SIZE)]

    second = _page(connect, "links 2")
    assert _keys(second) == [f"OPS-{1000 + n}" for n in range(LIST_PAGE_SIZE, 2 * LIST_PAGE_SIZE)]
    last = _page(connect, "links 99")  # past the end: the last page
    assert "page 6 of 6" in last["text"] and _keys(last)[-1] == f"OPS-{1000 + LINKS - 1}"

    # Next page, through a signed button click: the answer replaces the list in place.
    button = card_button(first["blocks"], LIST_PAGE_ACTION)
    response_url = connect.slack.response_url()
    payload = block_action(
        {
            "action_id": LIST_PAGE_ACTION,
            "block_id": button["block_id"],
            "value": button["value"],
            "type": "button",
        },
        channel=CHANNEL,
        response_url=response_url,
        ephemeral=True,
    )
    assert connect.interact(payload).status_code == 200
    turned = wait_for_response(connect, response_url)
    _within_limits(turned)
    assert turned.get("replace_original") is True
    assert _keys(turned) == _keys(second)
    labels = [
        e["text"]["text"] for b in turned["blocks"] if b["type"] == "actions" for e in b["elements"]
    ]
    assert labels == ["Previous page", "Next page"]


def test_subscriptions_are_paged_within_slacks_limits(connect: RunningConnect) -> None:
    _fill_channel(connect)
    first = _page(connect, "subscriptions")
    assert "page 1 of 3" in first["text"]
    assert "*#1*" in json.dumps(first["blocks"]) and "*#21*" not in json.dumps(first["blocks"])
    third = _page(connect, "subscriptions 3")
    assert f"*#{SUBSCRIPTIONS}*" in json.dumps(third["blocks"])
    assert "unsubscribe ID" in json.dumps(third["blocks"])
