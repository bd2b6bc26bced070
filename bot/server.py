"""The production WSGI server: waitress, threaded, inside this one process."""

from __future__ import annotations

from typing import Any

from waitress.server import create_server

WSGI_THREADS = 16


class WebServer:
    def __init__(self, wsgi_app: Any, *, host: str, port: int, threads: int = WSGI_THREADS):
        self._server: Any = create_server(
            wsgi_app,
            host=host,
            port=port,
            threads=threads,
            ident="connect",
            clear_untrusted_proxy_headers=True,
        )

    @property
    def port(self) -> int:
        return int(self._server.effective_port)

    @property
    def url(self) -> str:
        return f"http://{self._server.effective_host}:{self.port}"

    def run(self) -> None:
        """Serve until close() is called from another thread or a signal handler."""
        self._server.run()

    def close(self) -> None:
        self._server.close()
