"""Slack's Socket Mode side over a real WebSocket on 127.0.0.1, port 0, for tests.

    with FakeSlackServer() as slack, FakeSocketModeServer(slack) as sockets:
        # the app calls apps.connections.open with sockets.app_token on slack.api_url,
        # gets a ws:// URL of this server and connects to it
        link = sockets.wait_for_connection()
        envelope_id = sockets.send("slash_commands", {...}, accepts_response_payload=True)
        ack = sockets.wait_for_ack(envelope_id)     # {"envelope_id": ..., "payload": ...}
        sockets.drop_connection()                    # the app should reconnect
        sockets.request_refresh()                    # so should it on Slack's `disconnect`

Like Slack, every connection first gets a `hello`; an app acks an envelope by sending
`{"envelope_id": ..., "payload"?: ...}` back on the socket. Each apps.connections.open hands
out a new URL (`/link/?ticket=N`), so reconnects are visible as new tickets.
"""

from __future__ import annotations

import itertools
import json
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Self, TypeVar

from websockets.exceptions import ConnectionClosed
from websockets.sync.server import Server, ServerConnection, serve

from simulators.local_http import LocalStandIn
from simulators.slack_workspace.server import FakeSlackServer

DEFAULT_APP_TOKEN = "xapp-1-A0CONNECT-1-fake-app-level-token"
T = TypeVar("T")


@dataclass
class SocketLink:
    """One WebSocket connection from the app."""

    number: int
    path: str
    connection: ServerConnection
    received: list[dict[str, Any]] = field(default_factory=list)
    closed: bool = False


class _WebSocketServer:
    """websockets' sync server, served in a daemon thread until stopped."""

    def __init__(self, server: Server) -> None:
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, name="fake-socket-mode", daemon=True
        )
        self._thread.start()

    @property
    def port(self) -> int:
        return int(self._server.socket.getsockname()[1])

    def stop(self) -> None:
        self._server.shutdown()
        self._thread.join(10)


class FakeSocketModeServer(LocalStandIn):
    scheme = "ws"

    def __init__(self, slack: FakeSlackServer, *, app_token: str = DEFAULT_APP_TOKEN) -> None:
        self.slack = slack
        self.app_token = app_token
        self._links: list[SocketLink] = []
        self._acks: dict[str, dict[str, Any]] = {}
        self._tickets = itertools.count(1)
        self._changed = threading.Condition()

    # -- lifecycle ----------------------------------------------------------------------------

    def _serve(self) -> _WebSocketServer:
        # No compression: Slack's own servers do not negotiate it with slack_sdk's client either.
        return _WebSocketServer(
            serve(self._handle, "127.0.0.1", 0, compression=None, ping_interval=None)
        )

    def start(self) -> Self:
        super().start()
        self.slack.api.app_tokens.add(self.app_token)
        self.slack.api.socket_mode_url = self.new_url
        return self

    def stop(self) -> None:
        self.slack.api.socket_mode_url = None
        super().stop()

    def new_url(self) -> str:
        """What apps.connections.open answers: a URL with a fresh ticket."""
        return f"{self.url}/link/?ticket={next(self._tickets)}"

    # -- driving the app ------------------------------------------------------------------------

    def send(
        self,
        envelope_type: str,
        payload: dict[str, Any],
        *,
        accepts_response_payload: bool | None = None,
        link: SocketLink | None = None,
    ) -> str:
        """Sends one envelope on `link` (default: the newest open one); returns its id."""
        target = link or self.wait_for_connection()
        envelope_id = str(uuid.uuid4())
        envelope: dict[str, Any] = {
            "envelope_id": envelope_id,
            "type": envelope_type,
            "payload": payload,
            "accepts_response_payload": bool(accepts_response_payload),
        }
        if envelope_type == "events_api":
            envelope.update(retry_attempt=0, retry_reason="")
        target.connection.send(json.dumps(envelope))
        return envelope_id

    def drop_connection(self, link: SocketLink | None = None) -> SocketLink:
        """Closes a connection from Slack's side (a close frame), as Slack does now and then."""
        target = link or self.wait_for_connection()
        target.connection.close(1001, "going away")
        self.wait_for_closed(target)
        return target

    def request_refresh(self, link: SocketLink | None = None) -> SocketLink:
        """Slack's warning before it retires a connection: the app should open a new one."""
        target = link or self.wait_for_connection()
        target.connection.send(
            json.dumps(
                {
                    "type": "disconnect",
                    "reason": "refresh_requested",
                    "debug_info": {"host": "fake-socket-mode"},
                }
            )
        )
        return target

    # -- reading back ---------------------------------------------------------------------------

    @property
    def links(self) -> list[SocketLink]:
        with self._changed:
            return list(self._links)

    def wait_for_connection(self, number: int | None = None, timeout: float = 30) -> SocketLink:
        """Connection `number` (1 = the first ever) once open; default: the newest open one."""

        def find() -> SocketLink | None:
            if number is not None:
                return next((link for link in self._links if link.number == number), None)
            return next((link for link in reversed(self._links) if not link.closed), None)

        return self._wait(find, timeout, f"connection {number or '(any open)'}")

    def wait_for_ack(self, envelope_id: str, timeout: float = 15) -> dict[str, Any]:
        return self._wait(lambda: self._acks.get(envelope_id), timeout, f"ack of {envelope_id}")

    def wait_for_closed(self, link: SocketLink, timeout: float = 15) -> None:
        self._wait(lambda: True if link.closed else None, timeout, f"link {link.number} to close")

    def wait_until_all_closed(self, timeout: float = 20) -> None:
        self._wait(
            lambda: True if all(link.closed for link in self._links) else None,
            timeout,
            "every connection to close",
        )

    def _wait(self, find: Callable[[], T | None], timeout: float, what: str) -> T:
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                found = find()
                if found is not None:
                    return found
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(f"no {what} within {timeout} s")
                self._changed.wait(remaining)

    # -- serving (one thread per connection) ----------------------------------------------------

    def _handle(self, connection: ServerConnection) -> None:
        with self._changed:
            path = connection.request.path if connection.request else ""
            link = SocketLink(len(self._links) + 1, path, connection)
            self._links.append(link)
            self._changed.notify_all()
        try:
            connection.send(
                json.dumps(
                    {
                        "type": "hello",
                        "num_connections": 1,
                        "debug_info": {"host": "fake-socket-mode"},
                        "connection_info": {"app_id": "A0CONNECT"},
                    }
                )
            )
            for raw in connection:
                message = json.loads(raw)
                with self._changed:
                    link.received.append(message)
                    if "envelope_id" in message:
                        self._acks.setdefault(message["envelope_id"], message)
                    self._changed.notify_all()
        except ConnectionClosed:
            pass
        finally:
            with self._changed:
                link.closed = True
                self._changed.notify_all()
