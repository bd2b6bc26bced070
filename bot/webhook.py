"""`POST /jira/webhook`: authenticate, bound, parse, store, answer (SPEC §6)."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from collections.abc import Callable

from flask import Flask, Response, request
from sqlalchemy.exc import OperationalError, SQLAlchemyError

from bot.web import error_response, header_bytes
from services.jira_changes.intake import WebhookIntake
from services.log_context import log_context

log = logging.getLogger("connect.webhook")


def register_jira_webhook(
    web: Flask, *, secret: str | None, intake: WebhookIntake, wake: Callable[[], None]
) -> None:
    @web.post("/jira/webhook")
    def jira_webhook() -> Response:
        raw = request.get_data(cache=False)
        if not secret or not _authentic(secret, raw):
            return error_response(401, "INVALID_SIGNATURE", "missing or wrong webhook signature")
        try:
            body = json.loads(raw)
        except (ValueError, UnicodeDecodeError):
            return error_response(400, "INVALID_JSON", "the body is not valid JSON")
        if not isinstance(body, dict):
            return error_response(400, "INVALID_JSON", "the body is not a JSON object")
        identifier = request.headers.get("X-Atlassian-Webhook-Identifier")
        try:
            with log_context(delivery_id=identifier):
                result = intake.accept(body, raw_body=raw, identifier=identifier)
        except OperationalError as exc:
            # The database is away (restart, failover): expected, and Jira redelivers. One
            # line per refused delivery, not a traceback each, through a long outage.
            log.warning(
                "could not store a Jira webhook delivery: database unavailable (%s)",
                type(exc.orig).__name__ if exc.orig is not None else type(exc).__name__,
            )
            return error_response(503, "NOT_READY", "the delivery could not be stored; retry")
        except SQLAlchemyError:
            log.exception("could not store a Jira webhook delivery")
            return error_response(503, "NOT_READY", "the delivery could not be stored; retry")
        with log_context(delivery_id=result.key):
            log.info("jira webhook %s (%s)", result.status, result.key)
        if result.status == "accepted":
            wake()
        return Response(json.dumps({"status": result.status}), mimetype="application/json")


def _authentic(secret: str, raw: bytes) -> bool:
    """Jira Cloud signs the body (X-Hub-Signature: sha256=…); Data Center passes ?secret=.

    Compared as bytes: a header or query of any bytes is a mismatch, never an error."""
    signature = header_bytes(request.headers.get("X-Hub-Signature", ""))
    if signature.startswith(b"sha256="):
        expected = hmac.new(secret.encode(), raw, hashlib.sha256).hexdigest().encode()
        return hmac.compare_digest(signature.removeprefix(b"sha256="), expected)
    given = request.args.get("secret")
    return given is not None and hmac.compare_digest(
        given.encode("utf-8", "replace"), secret.encode()
    )
