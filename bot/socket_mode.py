"""`python -m bot socket`: the same Bolt app over Slack's Socket Mode WebSocket.

Slack's requests (events, slash commands, interactivity, options) arrive as envelopes on a
WebSocket that the app opens itself (apps.connections.open with the app-level token, through
the app's WebClient and so SLACK_API_URL), and are acked on it. Bolt's built-in Socket Mode
adapter (slack_sdk's own client: no extra dependency) does the protocol, pings and reconnects;
Bolt skips signature checks for socket requests, which are authenticated by the app token.
Everything else is `serve`: waitress still answers /jira/webhook, /health, /ready, /metrics
(and a signed /slack/events) on CONNECT_HOST:CONNECT_PORT, and the worker runs in-process.
"""

from __future__ import annotations

import contextvars
import logging
import sys
import threading
import time
from collections.abc import Callable

from prometheus_client import Histogram
from slack_bolt import App
from slack_bolt.adapter.socket_mode import SocketModeHandler
from slack_sdk.errors import SlackApiError
from slack_sdk.socket_mode.builtin import SocketModeClient
from slack_sdk.socket_mode.request import SocketModeRequest

from bot.metrics import OTHER, Metrics
from bot.settings import Settings, SettingsError
from services.log_context import log_context

log = logging.getLogger("connect")

APP_TOKEN_PREFIX = "xapp-"  # noqa: S105 - a prefix, not a secret
# Envelopes handled at once; like waitress's threads in `serve`, acks run in these threads and
# Jira work goes on to the runtime's work after acks (handlers.after_ack).
SOCKET_THREADS = 16
# How long a reconnect after Slack's close frame waits for the old socket to be shut.
RECONNECT_WAIT = 5.0
# The envelope types Slack sends (the metric's label set is closed: anything else is "other").
ENVELOPE_TYPES = frozenset({"events_api", "slash_commands", "interactive", "hello", "disconnect"})
# Slack's answers to apps.connections.open that no retry can fix: the token is wrong.
TOKEN_ERRORS = frozenset(
    {"not_authed", "invalid_auth", "not_allowed_token_type", "token_revoked", "account_inactive"}
)


def require_app_token(settings: Settings) -> str:
    """SLACK_APP_TOKEN (with what else production needs), or one line saying what is missing."""
    missing = settings.missing_for_production()
    token = settings.slack_app_token.get_secret_value() if settings.slack_app_token else ""
    if not token:
        missing.insert(0, "SLACK_APP_TOKEN (an app-level token, xapp-…, with connections:write)")
    if missing:
        raise SettingsError("missing settings: " + "; ".join(missing))
    if not token.startswith(APP_TOKEN_PREFIX):
        raise SettingsError(
            "invalid setting: SLACK_APP_TOKEN: must be an app-level token (xapp-…), "
            "not a bot or user token"
        )
    return token


class SocketModeLink:
    """Bolt's Socket Mode handler for `app`, with metrics and a draining close."""

    def __init__(self, app: App, app_token: str, *, metrics: Metrics) -> None:
        envelopes = Histogram(
            "connect_socket_mode_envelope_seconds",
            "Time from a Socket Mode envelope's arrival to its ack, by envelope type",
            ["type"],
            registry=metrics.registry,
        )
        self._handler = _ObservedHandler(
            app,
            app_token,
            observe=lambda kind, seconds: envelopes.labels(envelope_label(kind)).observe(seconds),
            concurrency=SOCKET_THREADS,
        )
        self._handler.client.on_close_listeners.append(self._reconnect_after_close)

    @property
    def client(self) -> SocketModeClient:
        return self._handler.client

    def connect(self) -> None:
        """Opens the first connection; slack_sdk's client reconnects by itself afterwards."""
        self._handler.connect()  # type: ignore[no-untyped-call]

    def _reconnect_after_close(self, code: int, reason: str | None) -> None:
        # On a close frame slack_sdk tries to reconnect while its socket is still open, so it
        # skips, and its monitor would only notice ping_interval later; envelopes sent
        # meanwhile would wait. Reconnect as soon as the old socket is shut.
        log.info("Slack closed the Socket Mode connection (%s %s); reconnecting", code, reason)
        threading.Thread(
            target=self._reconnect_when_shut, name="socket-mode-reconnect", daemon=True
        ).start()

    def _reconnect_when_shut(self) -> None:
        client = self._handler.client
        deadline = time.monotonic() + RECONNECT_WAIT
        while client.is_connected() and time.monotonic() < deadline:
            time.sleep(0.02)
        if client.closed or not client.auto_reconnect_enabled:
            return
        try:
            client.connect_to_new_endpoint()  # a no-op when the monitor has already reconnected
        except Exception as exc:  # the client's monitor tries again every ping interval
            log.warning("Socket Mode reconnect failed (%s); retrying", type(exc).__name__)

    def close(self) -> None:
        """Takes no new envelope, lets those in hand finish and ack, then disconnects."""
        # slack_sdk (3.48) has no public call for this: SocketModeClient.close() (and Bolt's
        # SocketModeHandler.close(), which calls it) disconnects first and only then shuts its
        # workers down, so an envelope in hand loses its ack and Slack sends it again. The
        # steps below use only attributes that slack_sdk declares, without underscore, on
        # SocketModeClient / BaseSocketModeClient (they are in its API reference), in the
        # order close() would need: `default_auto_reconnect_enabled` and
        # `auto_reconnect_enabled` (a reconnect under way would restore the second from the
        # first), `closed` (ends BaseSocketModeClient.process_messages' loop),
        # `message_queue` (a None wakes its 1 s wait; process_message skips None),
        # `message_processor` (an IntervalRunner: its public shutdown() joins that loop, which
        # first hands the envelope it holds to the workers) and `message_workers` (a stdlib
        # ThreadPoolExecutor: shutdown(wait=True) lets the envelopes in hand run and ack).
        # Then the public close() disconnects; what it repeats is a no-op by then.
        client = self._handler.client
        client.default_auto_reconnect_enabled = client.auto_reconnect_enabled = False
        client.closed = True
        client.message_queue.put(None)
        client.message_processor.shutdown()  # type: ignore[no-untyped-call]
        client.message_workers.shutdown(wait=True)
        self._handler.close()  # type: ignore[no-untyped-call]


class _ObservedHandler(SocketModeHandler):
    def __init__(
        self,
        app: App,
        app_token: str,
        *,
        observe: Callable[[str, float], None],
        concurrency: int,
    ) -> None:
        super().__init__(app, app_token, concurrency=concurrency)
        self._observe = observe

    def handle(self, client: SocketModeClient, req: SocketModeRequest) -> None:  # type: ignore[override]
        started = time.perf_counter()
        # The envelope id plays the request id: on every line logged for this envelope,
        # the work after its ack included (that pool copies the context).
        try:
            with log_context(request_id=req.envelope_id):
                # As over HTTP: what listeners set (the workspace) ends with the envelope.
                contextvars.copy_context().run(super().handle, client, req)
        finally:
            self._observe(req.type, time.perf_counter() - started)


def run_socket_mode(
    settings: Settings, *, host: str | None, port: int | None, with_worker: bool
) -> int:
    from bot.container import (
        build_bolt_app,
        build_runtime,
        build_web_app,
        build_worker,
        run_until_stopped,
    )
    from bot.server import WebServer

    app_token = require_app_token(settings)
    runtime = build_runtime(settings)
    try:
        bolt_app = build_bolt_app(runtime)
        server = WebServer(
            build_web_app(runtime, bolt_app),
            host=host or settings.connect_host,
            port=port if port is not None else settings.connect_port,
        )
        link = SocketModeLink(bolt_app, app_token, metrics=runtime.metrics)
    except BaseException:
        runtime.close()
        raise
    try:
        link.connect()
    except Exception as exc:
        link.close()
        runtime.close()
        return _refused(exc)
    worker = build_worker(runtime) if with_worker else None
    return run_until_stopped(
        runtime,
        server,
        worker,
        started="Connect in Socket Mode; Jira webhooks and health on %s",
        closing=link.close,
    )


def _refused(exc: Exception) -> int:
    """One line on stderr (no token, no traceback): 2 for a wrong token, 1 for anything else."""
    if isinstance(exc, SlackApiError):
        error = str(exc.response.get("error") or "unknown_error")
        if error in TOKEN_ERRORS:
            print(
                f"connect: Slack refused SLACK_APP_TOKEN for Socket Mode (apps.connections.open: "
                f"{error}); use an app-level token with connections:write",
                file=sys.stderr,
            )
            return 2
        reason = f"apps.connections.open: {error}"
    else:
        reason = type(exc).__name__
    print(f"connect: could not open a Socket Mode connection ({reason})", file=sys.stderr)
    return 1


def envelope_label(kind: str) -> str:
    return kind if kind in ENVELOPE_TYPES else OTHER
