"""The HTTP surface: Slack's entry (guarded), health, readiness and metrics."""

from __future__ import annotations

import contextvars
import hashlib
import hmac
import json
import logging
import random
import re
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs

from flask import Flask, Response, g, request
from pydantic import BaseModel, ValidationError
from slack_bolt import App, BoltContext, BoltRequest
from slack_bolt.adapter.flask import SlackRequestHandler
from slack_bolt.adapter.flask.handler import to_flask_response
from slack_bolt.request.internals import build_context
from sqlalchemy import Engine, text
from werkzeug.exceptions import HTTPException

from bot.metrics import CONTENT_TYPE, Metrics
from handlers.payloads import EventsEnvelope, InteractionEnvelope
from services.log_context import bind, unbind

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 1024 * 1024
REQUEST_ID_HEADER = "X-Request-Id"
# A caller's id is kept when it looks like one (a proxy's UUID, a trace id), else replaced.
_SANE_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")
_ids = random.Random()  # seeded from os.urandom once
SIGNATURE_MAX_AGE = 5 * 60


def error_response(status: int, code: str, message: str) -> Response:
    body = json.dumps({"error": message, "code": code})
    return Response(body, status=status, mimetype="application/json")


def create_web_app(
    *,
    bolt_app: App,
    signing_secret: str,
    engine: Engine,
    metrics: Metrics,
    extra_routes: Callable[[Flask], None] | None = None,
) -> Flask:
    web = Flask("connect")
    web.config["MAX_CONTENT_LENGTH"] = MAX_BODY_BYTES
    slack_handler = SlackRequestHandler(bolt_app)

    @web.before_request
    def _start_timer() -> None:
        g.started = time.perf_counter()
        g.request_id = request_id_for(request.headers.get(REQUEST_ID_HEADER))
        g.log_token = bind(request_id=g.request_id)

    @web.teardown_request
    def _forget_request_id(_exc: BaseException | None) -> None:
        token = g.pop("log_token", None)
        if token is not None:
            unbind(token)

    @web.after_request
    def _observe(response: Response) -> Response:
        if "request_id" in g:
            response.headers[REQUEST_ID_HEADER] = g.request_id
        route = request.url_rule.rule if request.url_rule else "unmatched"
        metrics.observe_request(
            request.method, route, response.status_code, time.perf_counter() - g.started
        )
        return response

    @web.post("/slack/events")
    def slack_events() -> Response | Any:
        body = request.get_data(cache=True)
        timestamp = request.headers.get("X-Slack-Request-Timestamp", "")
        signature = request.headers.get("X-Slack-Signature", "")
        if not slack_signature_valid(signing_secret, body, timestamp, signature):
            return error_response(401, "INVALID_SIGNATURE", "invalid or stale Slack signature")
        read = read_slack_body(body, request.headers.get("Content-Type", ""))
        if isinstance(read, str):
            return error_response(400, "INVALID_PAYLOAD", read)
        incoming = bolt_request(
            body.decode("utf-8"), read, request.query_string.decode("utf-8"), request.headers
        )
        # In a context of its own: what listeners set there (the workspace being served)
        # ends with the request, and lazy listeners take a copy of it with them.
        return contextvars.copy_context().run(dispatch, incoming)

    def dispatch(incoming: BoltRequest) -> Response:
        return to_flask_response(bolt_app.dispatch(incoming))

    oauth_flow = bolt_app.oauth_flow
    if oauth_flow is not None:  # multi-workspace mode: Bolt's OAuth flow, stores of our own

        @web.get(oauth_flow.install_path)
        @web.get(oauth_flow.redirect_uri_path)
        def slack_oauth() -> Response | Any:
            return slack_handler.handle(request)

    @web.get("/health")
    def health() -> Response:
        return Response(
            json.dumps({"status": "healthy", "service": "connect"}),
            mimetype="application/json",
        )

    @web.get("/ready")
    def ready() -> Response:
        try:
            with engine.connect() as connection:
                connection.execute(text("SELECT 1"))
        except Exception as exc:
            log.warning("readiness check failed: %s", type(exc).__name__)
            return error_response(503, "NOT_READY", "the database is not reachable")
        return Response(json.dumps({"status": "ready"}), mimetype="application/json")

    @web.get("/metrics")
    def prometheus_metrics() -> Response:
        return Response(metrics.render(), mimetype=CONTENT_TYPE)

    if extra_routes is not None:
        extra_routes(web)

    @web.errorhandler(HTTPException)
    def _http_error(exc: HTTPException) -> Response:
        status = exc.code or 500
        code = {413: "PAYLOAD_TOO_LARGE", 404: "NOT_FOUND", 405: "METHOD_NOT_ALLOWED"}.get(
            status, "BAD_REQUEST" if status < 500 else "INTERNAL_ERROR"
        )
        return error_response(status, code, exc.description or exc.name)

    @web.errorhandler(Exception)
    def _unexpected(exc: Exception) -> Response:
        log.exception("unexpected error answering %s %s", request.method, request.path)
        return error_response(500, "INTERNAL_ERROR", "internal error")

    return web


def request_id_for(incoming: str | None) -> str:
    """The caller's X-Request-Id when sane (short, no spaces or markup), else a new one."""
    if incoming and _SANE_REQUEST_ID.fullmatch(incoming):
        return incoming
    # 128 random bits from the process's own generator, shaped as uuid4().hex was. Not uuid4:
    # its os.urandom releases the GIL for a getrandom() call, and under load every ack then
    # waited for another thread to hand the GIL back (up to the 5 ms switch interval).
    # A request id needs to be unique, not unguessable.
    return f"{_ids.getrandbits(128):032x}"


def slack_signature_valid(
    secret: str, body: bytes, timestamp: str, signature: str, *, now: float | None = None
) -> bool:
    """Slack's v0 signature over the raw bytes (slack_sdk's verifier raises on non-UTF-8)."""
    if not timestamp.isdigit():
        return False
    if abs((time.time() if now is None else now) - int(timestamp)) > SIGNATURE_MAX_AGE:
        return False
    base = b"v0:" + timestamp.encode() + b":" + body
    expected = "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, signature)


def read_slack_body(body: bytes, content_type: str) -> dict[str, Any] | str:
    """The body of a Slack request read as Bolt wants it (an Events API envelope, an
    interaction's `payload`, or a slash command's form fields), or why it can't be: a string,
    where Bolt's Flask adapter would answer 500.

    Bolt's own parser reads any form body that merely contains the text "payload" (a slash
    command saying `/jira search payload`) as an interaction, finds none and leaves the request
    unhandled; and reading the body here and again in Bolt (and again for each lazy listener)
    cost an ack three parses of it. Connect reads it once, here, and hands Bolt the result
    (`bolt_request`)."""
    try:
        decoded = body.decode("utf-8")
    except UnicodeDecodeError:
        return "the body is not UTF-8 text"
    media_type = content_type.split(";", 1)[0].strip().lower()
    if media_type == "application/json" or decoded.lstrip().startswith("{"):
        return _json_object(decoded, "body", EventsEnvelope)
    form = parse_qs(decoded, keep_blank_values=True)
    if not form:
        return "the body is empty or not form-encoded"
    if "payload" in form:
        return _json_object(form["payload"][0], "payload", InteractionEnvelope)
    return {name: values[0] for name, values in form.items()}


def bolt_request(raw_body: str, body: dict[str, Any], query: str, headers: Any) -> BoltRequest:
    """Bolt's request for a body already read (BoltRequest parses a text body itself: it is
    given none, then the text and what was read from it)."""
    request = BoltRequest(body="", query=query, headers=headers)
    request.raw_body = raw_body  # what Bolt's signature check reads
    request.body = body
    request.context = build_context(BoltContext({}), body)
    return request


def _json_object(raw: str, what: str, shape: type[BaseModel]) -> dict[str, Any] | str:
    try:
        parsed = json.loads(raw)
    except ValueError:
        return f"the {what} is not valid JSON"
    if not isinstance(parsed, dict):
        return f"the {what} is not a JSON object"
    try:
        shape.model_validate(parsed)
    except ValidationError as exc:
        fields = sorted({".".join(str(p) for p in error["loc"]) for error in exc.errors()})
        return f"the {what} is not a Slack request: bad {', '.join(fields)}"
    return parsed
