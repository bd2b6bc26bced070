"""The fake Slack in a process of its own, for the ack benchmark:

    python -m benchmarks.slack_process [--delay SECONDS]

prints `READY <url>` once it listens on 127.0.0.1 (port 0) and serves until SIGTERM.

In production Slack answers from elsewhere. When the stand-in answered in the load generator's
process, every views.open and views.update Connect sent (the bare Bolt apps send none) cost that
process a Python HTTP exchange, on the threads and the GIL that time the acks: the harness's own
work was counted as Connect's latency. Here it costs neither the server under test nor the load.

Besides the Slack methods, `bench.counts` answers how many calls each method has had, so the
benchmark can check the work was done (e.g. one views.open per shortcut), and `bench.open_views`
opens many create modals at once (not counted as calls): the view submissions' modals, which
Connect updates after its ack, made before a load that sends thousands.
"""

from __future__ import annotations

import argparse
import itertools
import os
import signal
import sys
import threading
import time
from collections import Counter
from collections.abc import Sequence
from types import FrameType, TracebackType
from typing import Any

import requests

from benchmarks.sites import listen_widely, seeded_workspace
from benchmarks.target import Target
from simulators.slack_workspace.server import DEFAULT_TOKEN, FakeSlackServer, _ResponseUrl

COUNTS = "bench.counts"
OPEN_VIEWS = "bench.open_views"
CREATE_MODAL = {
    "type": "modal",
    "callback_id": "create_issue_modal",
    "title": {"type": "plain_text", "text": "Create Jira issue"},
    "blocks": [],
}


class OpenResponseUrls(FakeSlackServer):
    """Every `/response/<id>` is live: the load generator, in another process, makes up its
    own ids instead of asking for them."""

    def _post_response(self, response_id: str, body: dict[str, Any]) -> bool:
        with self._changed:
            self._responses.setdefault(response_id, _ResponseUrl(response_id))
        return super()._post_response(response_id, body)


def serve(delay: float) -> FakeSlackServer:
    server = OpenResponseUrls(slack=seeded_workspace())
    call = server.api.call
    triggers = itertools.count(1)

    def answer(method: str, params: dict[str, Any], *, token: str | None) -> dict[str, Any]:
        if method == COUNTS:
            return {"ok": True, "counts": dict(Counter(c.method for c in server.calls))}
        if method == OPEN_VIEWS:
            views = [
                call(
                    "views.open",
                    {"trigger_id": f"bench.{next(triggers)}", "view": CREATE_MODAL},
                    token=token,
                )["view"]
                for _ in range(int(params["count"]))
            ]
            return {"ok": True, "views": [[view["id"], view["hash"]] for view in views]}
        if delay:
            time.sleep(delay)  # Slack's Web API takes 100-300 ms in real life
        return call(method, params, token=token)

    server.api.call = answer  # type: ignore[method-assign]
    server.start()
    listen_widely(server)
    return server


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.slack_process")
    parser.add_argument("--delay", type=float, default=0.0, help="seconds before each answer")
    parser.add_argument(
        "--nice", type=int, default=0, help="niceness: CPU to the server under test first"
    )
    args = parser.parse_args(argv)
    os.nice(args.nice)
    server = serve(args.delay)

    def stop(_signum: int, _frame: FrameType | None) -> None:
        os._exit(0)

    signal.signal(signal.SIGTERM, stop)
    print(f"READY {server.url}", flush=True)
    threading.Event().wait()
    return 0


class SlackProcess:
    """The harness's handle on `python -m benchmarks.slack_process`."""

    def __init__(self, *, delay: float = 0.0, nice: int = 0) -> None:
        argv = [sys.executable, "-m", "benchmarks.slack_process", "--delay", str(delay)]
        argv += ["--nice", str(nice)]
        self._process = Target(argv, {}, name="fake Slack")
        self._ids = itertools.count(1)
        self.token = DEFAULT_TOKEN

    @property
    def api_url(self) -> str:
        return f"{self._process.url}/api/"

    def response_url(self) -> str:
        return f"{self._process.url}/response/B{next(self._ids):07d}"

    def env(self) -> dict[str, str]:
        """What points a server under test at this Slack (over Sites.env's)."""
        return {"SLACK_API_URL": self.api_url, "SLACK_BOT_TOKEN": self.token}

    def counts(self) -> Counter[str]:
        """Calls answered so far, by Slack method ("response_url" for response URLs)."""
        answer = requests.post(
            self.api_url + COUNTS, headers={"Authorization": f"Bearer {self.token}"}, timeout=10
        )
        answer.raise_for_status()
        return Counter(answer.json()["counts"])

    def api_calls(self) -> int:
        """Calls answered so far, the harness's own (`bench.*`) left out."""
        return sum(n for method, n in self.counts().items() if not method.startswith("bench."))

    def open_views(self, count: int) -> list[tuple[str, str]]:
        """`count` create modals opened at once: (view id, hash) of each."""
        answer = requests.post(
            self.api_url + OPEN_VIEWS,
            json={"count": count},
            headers={"Authorization": f"Bearer {self.token}"},
            timeout=120,
        )
        answer.raise_for_status()
        body = answer.json()
        if not body.get("ok"):
            raise RuntimeError(f"{OPEN_VIEWS}: {body}")
        return [(view_id, view_hash) for view_id, view_hash in body["views"]]

    def __enter__(self) -> SlackProcess:
        self._process.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._process.stop()


if __name__ == "__main__":
    sys.exit(main())
