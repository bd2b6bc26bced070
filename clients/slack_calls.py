"""Slack Web API calls handed off by a request thread: one thread sends them all, concurrently.

After its ack, a shortcut (or `/jira create`) opens its modal with views.open. The request
thread must not wait for Slack's answer (handlers/modal_opener), so the call is handed off.
Handed to a pool of threads, every call woke a thread of its own, and under load those
threads fought the web server's threads for the GIL: at 20 shortcuts in flight, the modal's
one Slack call cost the server more than the whole ack.

Here one thread (started on first use) sends every call handed to `SlackCalls.call`, up to
MAX_CONNECTIONS at once, through libcurl's multi interface on kept-alive connections, and
sleeps in poll() between answers. Handing it a call costs the caller a queue append and one
byte down a pipe; a burst of calls wakes it once. Slack's latency (100-300 ms a call) does not
hold a thread. Calls beyond MAX_CONNECTIONS wait in order in the loop's queue (not in
libcurl's), where one whose `deadline` has passed is dropped unsent: under a flood of
shortcuts, a views.open past its trigger's 3 s would only be refused by Slack.

A call's Future gets Slack's JSON answer (a dict, `ok` or not) for an HTTP 200. Anything else
(another status, a connection that could not be made or broke) is `SlackCallFailed`: the
caller decides whether to send again the ordinary way, through WebClient and its retry
handlers (clients/slack_retry). Only clients whose calls PooledWebClient would send over
libcurl are taken (`can_send`): no proxy or SSL context of their own, an http(s) base URL.
"""

from __future__ import annotations

import collections
import contextlib
import functools
import logging
import os
import select
import threading
import time
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin

import orjson
import pycurl
from slack_sdk import WebClient

from clients.slack_http import PooledWebClient, response_headers, verify_paths

log = logging.getLogger(__name__)

CALL_TIMEOUT = 10.0  # seconds, as a WebClient's default (30 s) is far past any trigger's life
MAX_CONNECTIONS = 32  # to Slack at once; 100-300 ms a call makes 100-300 calls a second
_IDLE_WAIT = 1.0  # seconds the loop sleeps with nothing in flight (a call wakes it at once)


class SlackCallFailed(Exception):
    """Slack gave no JSON answer: `status` is the HTTP status (0 when there was none);
    `expired` when the call was never sent, its deadline having passed while it waited."""

    def __init__(
        self,
        reason: str,
        *,
        status: int = 0,
        retry_after: str | None = None,
        expired: bool = False,
    ) -> None:
        super().__init__(reason)
        self.status = status
        self.retry_after = retry_after
        self.expired = expired


@dataclass
class _Call:
    url: str
    headers: dict[str, str]
    payload: dict[str, Any]  # encoded by the loop, off the caller's thread
    timeout: float
    future: Future[dict[str, Any]]
    deadline: float | None  # time.monotonic() past which it is not worth sending


@functools.lru_cache(maxsize=64)
def _method_url(base_url: str, method: str) -> str:
    """WebClient's URL for `method` (urljoin parses both on every call: a few µs an ack)."""
    return urljoin(base_url, method.lstrip("/"))


class SlackCalls:
    def __init__(self, *, name: str = "connect-slack-calls") -> None:
        self._name = name
        self._lock = threading.Lock()
        self._queue: collections.deque[_Call] = collections.deque()
        self._thread: threading.Thread | None = None
        self._sleeping = False  # the loop waits in poll() and needs a byte down the pipe
        self._wake_read, self._wake_write = os.pipe()
        os.set_blocking(self._wake_read, False)
        os.set_blocking(self._wake_write, False)
        self._cafile, self._capath = verify_paths()

    @staticmethod
    def can_send(client: WebClient) -> bool:
        """Whether `client`'s calls can be sent here (as PooledWebClient sends them)."""
        return (
            isinstance(client, PooledWebClient)
            and not client.proxy
            and not client.ssl
            and client.base_url.lower().startswith(("http://", "https://"))
        )

    def call(
        self,
        client: WebClient,
        method: str,
        payload: dict[str, Any],
        *,
        timeout: float = CALL_TIMEOUT,
        deadline: float | None = None,
    ) -> Future[dict[str, Any]]:
        """POST `payload` as JSON to Slack's `method`, with `client`'s token, headers and
        default parameters (team_id), as WebClient.api_call(method, json=payload) would.
        `payload` is encoded on the loop's thread: the caller must not change it afterwards.

        `deadline` (time.monotonic()): a call still waiting for a connection then is not sent
        but fails, `expired` (a views.open past its trigger's 3 s would only be refused)."""
        headers = {**client.headers, "Content-Type": "application/json;charset=utf-8"}
        if client.token:
            headers["Authorization"] = f"Bearer {client.token}"
        call = _Call(
            url=_method_url(client.base_url, method),
            headers=headers,
            payload={**client.default_params, **payload},
            timeout=timeout,
            future=Future(),
            deadline=deadline,
        )
        with self._lock:
            self._queue.append(call)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name=self._name, daemon=True)
                self._thread.start()
            wake, self._sleeping = self._sleeping, False
        if wake:  # a loop at work takes the call when it looks at the queue next
            # A full pipe holds wake-ups enough: the loop is bound to look.
            with contextlib.suppress(BlockingIOError):
                os.write(self._wake_write, b"\0")
        return call.future

    # -- the loop -----------------------------------------------------------------------------

    def _run(self) -> None:
        multi = self._multi()
        idle: list[pycurl.Curl] = []
        running: dict[pycurl.Curl, tuple[_Call, list[bytes], list[bytes]]] = {}
        while True:
            try:
                # At most MAX_CONNECTIONS at once: the rest wait here, in order, where a call
                # whose deadline has passed can be dropped before it is sent.
                while len(running) < MAX_CONNECTIONS:
                    with self._lock:
                        if not self._queue:
                            break
                        call = self._queue.popleft()
                    if not call.future.set_running_or_notify_cancel():
                        continue
                    if call.deadline is not None and time.monotonic() > call.deadline:
                        call.future.set_exception(
                            SlackCallFailed("not sent before its deadline", expired=True)
                        )
                        continue
                    handle = idle.pop() if idle else pycurl.Curl()
                    try:
                        running[handle] = (call, *self._prepare(handle, call))
                    except (TypeError, ValueError) as error:  # a payload JSON cannot encode
                        call.future.set_exception(error)
                        idle.append(handle)
                        continue
                    multi.add_handle(handle)
                while multi.perform()[0] == pycurl.E_CALL_MULTI_PERFORM:
                    pass
                while True:
                    queued, answered, failed = multi.info_read()
                    for handle in answered:
                        self._finish(multi, handle, running.pop(handle), None)
                        idle.append(handle)
                    for handle, code, message in failed:
                        self._finish(multi, handle, running.pop(handle), (code, message))
                        idle.append(handle)
                    if not queued:
                        break
                self._wait(multi, busy=bool(running), room=len(running) < MAX_CONNECTIONS)
            except Exception:  # the loop must outlive any one call
                log.exception("the Slack call loop failed; its calls in flight are lost")
                for handle, (call, _, _) in running.items():
                    if not call.future.done():
                        call.future.set_exception(SlackCallFailed("the call loop failed"))
                    handle.close()
                running.clear()
                multi.close()
                multi = self._multi()

    @staticmethod
    def _multi() -> pycurl.CurlMulti:
        multi = pycurl.CurlMulti()
        # Past this many connections to one host, libcurl queues calls until one is free.
        multi.setopt(pycurl.M_MAX_HOST_CONNECTIONS, MAX_CONNECTIONS)
        return multi

    def _prepare(self, handle: pycurl.Curl, call: _Call) -> tuple[list[bytes], list[bytes]]:
        body: list[bytes] = []
        header_lines: list[bytes] = []
        data = orjson.dumps(call.payload)
        handle.reset()  # options only: the handle keeps its open connection
        handle.setopt(pycurl.URL, call.url)
        handle.setopt(pycurl.NOSIGNAL, 1)
        handle.setopt(pycurl.TIMEOUT_MS, max(1, int(call.timeout * 1000)))
        handle.setopt(pycurl.POSTFIELDSIZE, len(data))
        handle.setopt(pycurl.COPYPOSTFIELDS, data)
        headers = [f"{name}: {value}" for name, value in call.headers.items()]
        handle.setopt(pycurl.HTTPHEADER, [*headers, "Expect:"])
        if self._cafile:
            handle.setopt(pycurl.CAINFO, self._cafile)
        if self._capath:
            handle.setopt(pycurl.CAPATH, self._capath)
        handle.setopt(pycurl.WRITEFUNCTION, body.append)
        handle.setopt(pycurl.HEADERFUNCTION, header_lines.append)
        return body, header_lines

    @staticmethod
    def _finish(
        multi: pycurl.CurlMulti,
        handle: pycurl.Curl,
        started: tuple[_Call, list[bytes], list[bytes]],
        error: tuple[int, str] | None,
    ) -> None:
        call, body, header_lines = started
        multi.remove_handle(handle)
        if error is not None:
            call.future.set_exception(SlackCallFailed(f"libcurl error {error[0]}: {error[1]}"))
            return
        status = int(handle.getinfo(pycurl.RESPONSE_CODE))
        if status != 200:
            call.future.set_exception(
                SlackCallFailed(
                    f"HTTP {status}",
                    status=status,
                    retry_after=response_headers(header_lines).get("Retry-After"),
                )
            )
            return
        try:
            answer = orjson.loads(b"".join(body))
        except ValueError:
            call.future.set_exception(SlackCallFailed("the answer is not JSON", status=status))
            return
        if not isinstance(answer, dict):
            call.future.set_exception(SlackCallFailed("the answer is not an object", status=status))
            return
        call.future.set_result(answer)

    def _wait(self, multi: pycurl.CurlMulti, *, busy: bool, room: bool) -> None:
        """Until a socket of a call in flight is ready, libcurl's next timeout, or a wake-up."""
        with self._lock:
            if self._queue and room:
                return  # calls came in meanwhile, and a connection is free: no sleep
            # With every connection taken, a new call has nothing to wake the loop for: an
            # answer will, and the loop looks at the queue then.
            self._sleeping = room
        try:
            self._poll(multi, busy=busy)
        finally:
            with self._lock:
                self._sleeping = False

    def _poll(self, multi: pycurl.CurlMulti, *, busy: bool) -> None:
        timeout = _IDLE_WAIT
        if busy:
            wanted = multi.timeout()  # milliseconds; -1 when libcurl has no timer set
            if wanted >= 0:
                timeout = min(timeout, wanted / 1000)
        # poll, not select: a busy process's descriptors go past select's limit of 1024.
        readers, writers, _ = multi.fdset()
        poller = select.poll()
        for fd in {*readers, *writers}:
            poller.register(
                fd,
                (select.POLLIN if fd in readers else 0) | (select.POLLOUT if fd in writers else 0),
            )
        poller.register(self._wake_read, select.POLLIN)
        ready = poller.poll(timeout * 1000)
        if any(fd == self._wake_read for fd, _ in ready):
            with contextlib.suppress(BlockingIOError):
                while os.read(self._wake_read, 4096):
                    pass


# One per process (its thread starts when first used).
SLACK_CALLS = SlackCalls()
