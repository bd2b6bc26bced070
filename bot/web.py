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
from collections.abc import Callable, Iterable
from http import HTTPStatus
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

import orjson
from flask import Flask, Response, g, request
from pydantic import BaseModel, ValidationError
from slack_bolt import App, BoltRequest
from slack_bolt.adapter.flask import SlackRequestHandler
from sqlalchemy import Engine, text
from werkzeug.exceptions import HTTPException

from bot.metrics import CONTENT_TYPE, Metrics
from handlers.payloads import CommandForm, EventsEnvelope, InteractionEnvelope
from services.log_context import bind, unbind

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 1024 * 1024
REQUEST_ID_HEADER = "X-Request-Id"
SLACK_EVENTS = "/slack/events"
# A caller's id is kept when it looks like one (a proxy's UUID, a trace id), else replaced.
_SANE_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")
_ids = random.Random()  # seeded from os.urandom once
SIGNATURE_MAX_AGE = 5 * 60
_TIMESTAMP = re.compile(rb"[0-9]{1,12}")


def error_body(code: str, message: str) -> bytes:
    """Every error Connect's HTTP surface answers: {"error": message, "code": code}."""
    return json.dumps({"error": message, "code": code}).encode()


def error_response(status: int, code: str, message: str) -> Response:
    return Response(error_body(code, message), status=status, mimetype="application/json")


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

    # Slack's requests skip Flask (SlackEventsEntry); everything else is routed by it.
    web.wsgi_app = SlackEventsEntry(  # type: ignore[method-assign]
        web.wsgi_app, bolt_app=bolt_app, signing_secret=signing_secret, metrics=metrics
    )

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


class SlackEventsEntry:
    """WSGI middleware answering `/slack/events` itself, every other path going to `app`.

    Every Slack request (command, interaction, event) is acked here, and the ack is what Slack
    times (3 s) and what the benchmarks compare with a bare Bolt app. Through Flask an ack paid
    about as much CPU again as Bolt's own dispatch: a request context, URL routing, werkzeug's
    request and header objects (which Bolt then copies into dicts), a Response built and
    rebuilt. Here the environ is read directly, with the same checks and answers as Connect's
    other routes: the request id (X-Request-Id) bound for the logs and echoed, the request
    metrics, JSON errors (405, 413, 401, 400, and 500 for a fault of ours, logged).
    """

    def __init__(
        self, app: WSGIApplication, *, bolt_app: App, signing_secret: str, metrics: Metrics
    ) -> None:
        self.app = app
        self.bolt_app = bolt_app
        self.signing_secret = signing_secret
        self.metrics = metrics

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        if environ.get("PATH_INFO") != SLACK_EVENTS:
            return self.app(environ, start_response)
        started = time.perf_counter()
        method = environ.get("REQUEST_METHOD", "")
        request_id = request_id_for(environ.get("HTTP_X_REQUEST_ID"))
        token = bind(request_id=request_id)
        try:
            status, headers, body = self._answer(method, environ)
        except Exception:
            log.exception("unexpected error answering %s %s", method, SLACK_EVENTS)
            status, headers, body = _json_error(500, "INTERNAL_ERROR", "internal error")
        finally:
            unbind(token)
        headers.append(("Content-Length", str(len(body))))
        headers.append((REQUEST_ID_HEADER, request_id))
        self.metrics.observe_request(method, SLACK_EVENTS, status, time.perf_counter() - started)
        start_response(f"{status} {_phrase(status)}", headers)
        return [body]

    def _answer(self, method: str, environ: WSGIEnvironment) -> _Answer:
        if method != "POST":
            answer = _json_error(405, "METHOD_NOT_ALLOWED", "Slack's requests are POSTed.")
            answer[1].append(("Allow", "POST"))
            return answer
        body = _read_body(environ)
        if isinstance(body, int):
            if body == 413:
                return _json_error(413, "PAYLOAD_TOO_LARGE", "the body is larger than 1 MiB")
            return _json_error(400, "BAD_REQUEST", "the Content-Length is not a number")
        timestamp = environ.get("HTTP_X_SLACK_REQUEST_TIMESTAMP", "")
        signature = environ.get("HTTP_X_SLACK_SIGNATURE", "")
        if not slack_signature_valid(self.signing_secret, body, timestamp, signature):
            return _json_error(401, "INVALID_SIGNATURE", "invalid or stale Slack signature")
        content_type = environ.get("CONTENT_TYPE", "")
        read = read_slack_body(body, content_type)
        if isinstance(read, str):
            return _json_error(400, "INVALID_PAYLOAD", read)
        # As werkzeug's request.query_string.decode() (WSGI hands it over as latin-1).
        query = environ.get("QUERY_STRING", "").encode("latin-1").decode("utf-8", "replace")
        incoming = bolt_request(read, query, _headers(environ))
        # In a context of its own: what listeners set there (the workspace being served)
        # ends with the request, and the work after the ack takes a copy of it with it.
        acked = contextvars.copy_context().run(self.bolt_app.dispatch, incoming)
        headers = [(name, value) for name, values in acked.headers.items() for value in values]
        return acked.status, headers, acked.body.encode("utf-8")


_Answer = tuple[int, list[tuple[str, str]], bytes]


def _json_error(status: int, code: str, message: str) -> _Answer:
    return status, [("Content-Type", "application/json")], error_body(code, message)


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Unknown"


def _read_body(environ: WSGIEnvironment) -> bytes | int:
    """The request body, or the status that refuses it: 413 past MAX_BODY_BYTES, 400 for a
    Content-Length that is not a number. Without a Content-Length, the input is read to its
    end (waitress ends it; werkzeug and Flask read an unterminated one as empty)."""
    stream = environ["wsgi.input"]
    declared = environ.get("CONTENT_LENGTH") or ""
    if declared:
        try:
            length = int(declared)
        except ValueError:
            return 400
        if length < 0:
            return 400
        if length > MAX_BODY_BYTES:
            return 413
        return bytes(stream.read(length))
    if not environ.get("wsgi.input_terminated"):
        return b""
    body = bytes(stream.read(MAX_BODY_BYTES + 1))
    return 413 if len(body) > MAX_BODY_BYTES else body


def _headers(environ: WSGIEnvironment) -> dict[str, str]:
    """The request's header fields, named as Bolt names them (lower case)."""
    headers = {
        name[5:].replace("_", "-").lower(): value
        for name, value in environ.items()
        if name.startswith("HTTP_")
    }
    for name in ("CONTENT_TYPE", "CONTENT_LENGTH"):
        if environ.get(name):
            headers[name.replace("_", "-").lower()] = environ[name]
    return headers


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
    secret: str,
    body: bytes,
    timestamp: str | bytes,
    signature: str | bytes,
    *,
    now: float | None = None,
) -> bool:
    """Slack's v0 signature over the raw bytes (slack_sdk's verifier raises on non-UTF-8).

    Headers of any bytes or length are compared as bytes (compare_digest raises on non-ASCII
    text), and a timestamp is 1-12 ASCII digits (int() refuses 4,301 digits, and `isdigit`
    takes "\u00b2" or full-width digits)."""
    stamp, given = header_bytes(timestamp), header_bytes(signature)
    if not _TIMESTAMP.fullmatch(stamp):
        return False
    if abs((time.time() if now is None else now) - int(stamp)) > SIGNATURE_MAX_AGE:
        return False
    base = b"v0:" + stamp + b":" + body
    expected = b"v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest().encode()
    return hmac.compare_digest(expected, given)


def header_bytes(value: str | bytes) -> bytes:
    """A header's bytes: WSGI hands them over as latin-1 text (other text cannot match)."""
    if isinstance(value, bytes):
        return value
    return value.encode("latin-1", "replace")


def read_slack_body(body: bytes, content_type: str) -> dict[str, Any] | str:
    """The body of a Slack request read as Bolt wants it (an Events API envelope, an
    interaction's `payload`, or a slash command's form fields), or why it can't be: a string,
    where Bolt's Flask adapter would answer 500.

    Bolt's own parser reads any form body that merely contains the text "payload" (a slash
    command saying `/jira search payload`) as an interaction, finds none and leaves the request
    unhandled; and reading the body here and again in Bolt cost an ack two parses of it.
    Connect reads it once, here, and hands Bolt the result (`bolt_request`)."""
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
    return _valid({name: values[0] for name, values in form.items()}, "form", CommandForm)


def bolt_request(body: dict[str, Any], query: str, headers: Any) -> BoltRequest:
    """Bolt's request for a body already read and its signature already checked.

    BoltRequest parses a text body itself and takes a dict as it is only in its
    "socket_mode" mode, which changes nothing else once Bolt's own signature check is off
    (bot.app: `request_verification_enabled=False`; Connect checked the bytes above)."""
    return BoltRequest(body=body, query=query, headers=headers, mode="socket_mode")


def _json_object(raw: str, what: str, shape: type[BaseModel]) -> dict[str, Any] | str:
    try:
        parsed = orjson.loads(raw)  # as json.loads, at a fifth of the cost
    except ValueError:
        return f"the {what} is not valid JSON"
    if not isinstance(parsed, dict):
        return f"the {what} is not a JSON object"
    return _valid(parsed, what, shape)


def _valid(parsed: dict[str, Any], what: str, shape: type[BaseModel]) -> dict[str, Any] | str:
    try:
        shape.model_validate(parsed)
    except ValidationError as exc:
        fields = sorted({".".join(str(p) for p in error["loc"]) for error in exc.errors()})
        return f"the {what} is not a Slack request: bad {', '.join(fields)}"
    return parsed
