"""Answering a command or a button through its response_url, after the ack, with
services.slack: the one Slack client of the work after the ack (issue #19)."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from services.connect_services import ConnectServices

log = logging.getLogger(__name__)


def answer(
    services: ConnectServices, response_url: str | None, message: Mapping[str, Any], *, what: str
) -> None:
    """Post `message` to `response_url` as Bolt's `respond(**message)` would (text always
    there; empty blocks and None fields left out).

    Slack sends every command and message button a response_url, but a signed payload without
    one is still handled: there is no one to answer, so the answer is skipped (INFO), and
    whatever else the work does still happens."""
    if response_url is None:
        log.info("%s: no response_url in the payload, nothing to answer", what)
        return
    services.slack.respond(response_url, as_response(message))


def as_response(message: Mapping[str, Any]) -> dict[str, Any]:
    """The body Bolt's `respond` sends for these keyword arguments."""
    body: dict[str, Any] = {"text": message.get("text", "")}
    for name, value in message.items():
        if name == "text" or value is None:
            continue
        if name in ("blocks", "attachments") and not value:
            continue
        body[name] = value
    return body
