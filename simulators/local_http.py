"""The HTTP server under the stand-ins for Slack and Jira (the demo's and the tests' fakes).

A ThreadingHTTPServer on 127.0.0.1 serving in a daemon thread. Clients keep connections open
(HTTP/1.1: the Jira client's requests session, the Slack client's aiohttp session), and a
stopped ThreadingHTTPServer only stops accepting: the handler threads of open connections go
on answering. `stop()` also shuts those connections, so a stand-in that is stopped is down
for every client, as a site that went away would be.

`LocalStandIn` is the lifecycle the stand-ins share (start/stop, `with`, port, url);
`LocalHTTPStandIn` serves one over a LocalHTTPServer.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from abc import ABC, abstractmethod
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, ClassVar, Protocol, Self

POLL_INTERVAL = 0.05  # how soon stop() is noticed


class LocalHTTPServer(ThreadingHTTPServer):
    daemon_threads = True  # a handler still sleeping (a slow fake) must not block stop()

    def __init__(self, handler: type[BaseHTTPRequestHandler], *, port: int = 0) -> None:
        super().__init__(("127.0.0.1", port), handler)
        self._open: set[Any] = set()
        self._open_lock = threading.Lock()

    @property
    def port(self) -> int:
        return int(self.server_address[1])

    def serve_in_thread(self, name: str) -> LocalHTTPServer:
        threading.Thread(
            target=lambda: self.serve_forever(poll_interval=POLL_INTERVAL), name=name, daemon=True
        ).start()
        return self

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._open_lock:
            self._open.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._open_lock:
            self._open.discard(request)
        super().shutdown_request(request)

    def stop(self) -> None:
        """Stop accepting, close the port, and shut every connection still open."""
        self.shutdown()
        self.server_close()
        with self._open_lock:
            still_open, self._open = set(self._open), set()
        for connection in still_open:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)


class Served(Protocol):
    """A server that is up: the port it answers on, and how to take it down."""

    @property
    def port(self) -> int: ...

    def stop(self) -> None: ...


class LocalStandIn(ABC):
    """The lifecycle every stand-in shares: `start()` (or `with`), `stop()`, `port`, `url`.

    A subclass says how it serves (`_serve`); one that has more to do when it goes up or down
    overrides `start`/`stop` and calls these.
    """

    scheme: ClassVar[str] = "http"
    _served: Served | None = None

    @abstractmethod
    def _serve(self) -> Served:
        """Bind a port on 127.0.0.1 and answer on it in a daemon thread."""

    def start(self) -> Self:
        self._served = self._serve()
        return self

    def stop(self) -> None:
        """Down for every client: the port closed and the connections still open shut."""
        served, self._served = self._served, None
        if served is not None:
            served.stop()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._served is None:
            raise RuntimeError(f"{type(self).__name__} is not running")
        return self._served.port

    @property
    def url(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.port}"


class LocalHTTPStandIn(LocalStandIn):
    """A stand-in answered by a LocalHTTPServer; its request handler reads it as `self.fake`."""

    thread_name: ClassVar[str] = "local-http"
    # True: a restart binds the port of the first start, so the stand-in keeps its URL.
    same_port_on_restart: ClassVar[bool] = False
    _last_port = 0

    @abstractmethod
    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        """The request handler; a subclass of it bound to this stand-in answers requests."""

    def _serve(self) -> LocalHTTPServer:
        handler = type("_BoundHandler", (self._handler_class(),), {"fake": self})
        port = self._last_port if self.same_port_on_restart else 0
        httpd = LocalHTTPServer(handler, port=port)
        self._last_port = httpd.port
        return httpd.serve_in_thread(self.thread_name)

    @property
    def httpd(self) -> LocalHTTPServer:
        """The running server (the benchmarks widen its listen backlog)."""
        if not isinstance(self._served, LocalHTTPServer):
            raise RuntimeError(f"{type(self).__name__} is not running")
        return self._served
