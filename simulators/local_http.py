"""The HTTP server under the stand-ins for Slack and Jira (the demo's and the tests' fakes).

A ThreadingHTTPServer on 127.0.0.1 serving in a daemon thread. Clients keep connections open
(HTTP/1.1: the Jira client's requests session, the Slack client's aiohttp session), and a
stopped ThreadingHTTPServer only stops accepting: the handler threads of open connections go
on answering. `stop()` also shuts those connections, so a stand-in that is stopped is down
for every client, as a site that went away would be.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

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
