"""The production WSGI server: waitress, threaded, inside this one process."""

from __future__ import annotations

import contextlib
import signal
from types import FrameType
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
        """Serve until close(), or until SIGTERM/SIGINT when run in the main thread."""
        self._server.run()

    def stop_on_signals(self) -> None:
        """SIGTERM/SIGINT end run() in the main thread; waitress then drains its requests."""

        def stop(_signum: int, _frame: FrameType | None) -> None:
            for name in (signal.SIGTERM, signal.SIGINT):
                signal.signal(name, signal.SIG_IGN)  # a second signal must not cut the drain
            raise SystemExit(0)  # waitress's run() catches it and shuts its threads down

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)

    def close(self) -> None:
        """Stop from another thread: the sockets are closed inside the loop's own thread."""
        try:
            self._server.trigger.pull_trigger(self._close_in_loop)
        except OSError:  # the loop has already closed its wake-up pipe: nothing runs it now
            self._close_in_loop()

    def _close_in_loop(self) -> None:
        for dispatcher in list(self._server._map.values()):
            with contextlib.suppress(OSError):
                dispatcher.close()
        self._server.task_dispatcher.shutdown()
