"""A server under test, in a process of its own (as in production: Slack, Jira and the load
are elsewhere). Started by the benchmarks as

    python -m benchmarks.target connect [--no-worker]   # Connect, composed as `serve` does
    python -m benchmarks.target bolt-default            # a bare Bolt app that only acks
    python -m benchmarks.target bolt-pbr                # the same, process_before_response=True

configured from the environment like `serve`; prints `READY <url>` once it listens on
127.0.0.1 (port 0). Connect also answers `GET /_bench/counters`: the SQL statements it has
run, by verb, so a benchmark can count database writes.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from types import FrameType
from typing import Any

import requests
from flask import Flask, Response, request
from slack_bolt import Ack, App
from slack_bolt.adapter.flask import SlackRequestHandler
from slack_sdk import WebClient
from sqlalchemy import Engine, event

from bot import gc_tuning
from bot.server import WebServer

KINDS = ("connect", "bolt-default", "bolt-pbr")
WRITE_VERBS = frozenset({"INSERT", "UPDATE", "DELETE", "REPLACE"})


def connect_app(*, with_worker: bool) -> Flask:
    from bot.container import build_bolt_app, build_runtime, build_web_app, build_worker
    from bot.logs import configure_logging
    from bot.settings import load_settings

    settings = load_settings()
    configure_logging(settings)  # as `serve` logs (the level is CONNECT_LOG_LEVEL)
    runtime = build_runtime(settings)
    web = build_web_app(runtime, build_bolt_app(runtime))
    statements = count_statements(runtime.engine)
    web.add_url_rule(
        "/_bench/counters",
        "bench_counters",
        lambda: Response(json.dumps({"statements": dict(statements)}), mimetype="application/json"),
    )
    if with_worker:
        build_worker(runtime).start()
    return web


def count_statements(engine: Engine) -> Counter[str]:
    counts: Counter[str] = Counter()
    lock = threading.Lock()

    def count(_conn: Any, _cursor: Any, statement: str, params: Any, _ctx: Any, many: bool) -> None:
        words = statement.split(None, 2)
        verb = " ".join(words[:2]).upper() if words[:1] == ["BEGIN"] else words[0].upper()
        with lock:
            counts[verb] += len(params) if many and params else 1

    event.listen(engine, "before_cursor_execute", count)
    return counts


def bare_bolt_app(*, process_before_response: bool) -> Flask:
    """Bolt with nothing but acks, for the same requests Connect gets."""
    # The client talks to the same fake Slack as Connect's (Bolt's auth.test, asked once).
    client = WebClient(token=os.environ["SLACK_BOT_TOKEN"], base_url=os.environ["SLACK_API_URL"])
    app = App(
        signing_secret=os.environ["SLACK_SIGNING_SECRET"],
        client=client,
        token_verification_enabled=False,
        process_before_response=process_before_response,
    )

    def just_ack(ack: Ack) -> None:
        ack()

    app.command("/jira")(just_ack)
    app.shortcut("create_issue")(just_ack)
    app.view("create_issue_modal")(just_ack)
    app.event("message")(just_ack)
    handler = SlackRequestHandler(app)
    web = Flask("bare-bolt")
    web.add_url_rule("/slack/events", "slack", lambda: handler.handle(request), methods=["POST"])
    web.add_url_rule("/health", "health", lambda: Response("{}", mimetype="application/json"))
    return web


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.target")
    parser.add_argument("kind", choices=KINDS)
    parser.add_argument("--no-worker", action="store_true")
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=os.environ.get("CONNECT_LOG_LEVEL", "WARNING"),
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
    )
    if args.kind == "connect":
        web = connect_app(with_worker=not args.no_worker)
    else:
        web = bare_bolt_app(process_before_response=args.kind == "bolt-pbr")
    server = WebServer(web, host="127.0.0.1", port=0)
    # As `serve` does after start-up (bot/container.run_until_stopped): the collector's
    # settings. Done for every kind, so the bare Bolt apps run under the same settings.
    gc_tuning.settle()

    def stop(_signum: int, _frame: FrameType | None) -> None:
        os._exit(0)  # queued Jira work (minutes of it at 2.5 s a call) is not waited for

    signal.signal(signal.SIGTERM, stop)
    print(f"READY {server.url}", flush=True)
    server.run()
    return 0


class Target:
    """One server-under-test subprocess; its log goes to a file, counted for errors."""

    def __init__(
        self, argv: Sequence[str], env: dict[str, str], *, url: str = "", name: str = ""
    ) -> None:
        """Without `url`, the child prints `READY <url>`; with it, it is polled for health."""
        self.argv = list(argv)
        self.env = {**os.environ, **env}
        self.name = name or " ".join(self.argv)
        self.url = url
        self._log = tempfile.NamedTemporaryFile(  # noqa: SIM115 - kept open for the child
            prefix="connect-bench-", suffix=".log", delete=False
        )
        self.process: subprocess.Popen[str] | None = None

    @classmethod
    def of(cls, kind: str, env: dict[str, str], *extra: str) -> Target:
        return cls([sys.executable, "-m", "benchmarks.target", kind, *extra], env, name=kind)

    def start(self, timeout: float = 60.0) -> Target:
        announced = not self.url
        self.process = subprocess.Popen(  # noqa: S603 - our own interpreter and modules
            self.argv,
            env=self.env,
            stdout=subprocess.PIPE if announced else subprocess.DEVNULL,
            stderr=self._log,
            text=True,
            cwd=Path(__file__).resolve().parent.parent,
        )
        if announced:
            self.url = self._read_ready(timeout)
            # Keep draining stdout so the child never blocks on a full pipe.
            threading.Thread(target=self._drain, name=f"drain-{self.name}", daemon=True).start()
        self.wait_healthy(timeout)
        return self

    def _read_ready(self, timeout: float) -> str:
        assert self.process is not None and self.process.stdout is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            line = self.process.stdout.readline()
            if line.startswith("READY "):
                return line.split()[-1]
            if not line and self.process.poll() is not None:
                break
        self.stop()
        raise RuntimeError(f"{self.name} did not start: {self.log_tail()}")

    def _drain(self) -> None:
        assert self.process is not None and self.process.stdout is not None
        for _line in self.process.stdout:
            pass

    def wait_healthy(self, timeout: float = 60.0) -> None:
        assert self.process is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                break
            try:
                if requests.get(f"{self.url}/health", timeout=2).ok:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"{self.name} is not answering /health: {self.log_tail()}")

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def counters(self) -> Counter[str]:
        answer = requests.get(f"{self.url}/_bench/counters", timeout=10).json()
        return Counter(answer["statements"])

    def rss_bytes(self) -> tuple[int, int]:
        """(current, peak) resident set size of the process, from /proc."""
        fields = {}
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            name, _, value = line.partition(":")
            fields[name] = value.strip()
        return _kib(fields.get("VmRSS", "0 kB")), _kib(fields.get("VmHWM", "0 kB"))

    def log_text(self) -> str:
        return Path(self._log.name).read_text(errors="replace")

    def log_tail(self, lines: int = 15) -> str:
        return "\n".join(self.log_text().splitlines()[-lines:])

    def error_lines(self) -> list[str]:
        return [line for line in self.log_text().splitlines() if " ERROR " in line]

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        self._log.close()

    def cleanup(self) -> None:
        Path(self._log.name).unlink(missing_ok=True)

    def __enter__(self) -> Target:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
        self.cleanup()


def free_port() -> int:
    """A port free right now on 127.0.0.1, for a child that takes --port."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _kib(value: str) -> int:
    return int(value.split()[0]) * 1024


if __name__ == "__main__":
    sys.exit(main())
