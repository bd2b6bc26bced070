"""Slack Web API calls over kept-alive connections, through slack_sdk's public async client.

slack_sdk's WebClient sends each call with urllib's `urlopen`, which opens a connection, sends
`Connection: close` and drops it: against slack.com every call pays a TCP and a TLS handshake,
and the exchange runs in Python on the caller's thread. Connect makes its Slack calls from
request threads, the work after acks, the modal opener and the outbox worker, at up to
hundreds a second. `SlackTransport` keeps one asyncio event loop on a thread of its own with
one aiohttp ClientSession (its connection pool: connections stay open between calls), and
every call goes through slack_sdk's AsyncWebClient (or AsyncWebhookClient for a
response_url) on that session: a synchronous caller hands the coroutine over and waits for
its answer. A call handed off (views.open after an ack, `call_soon`) holds no thread at all
while Slack answers; it is sent on the same loop by a pyreqwest client (reqwest: the HTTP
exchange runs in Rust, outside the GIL, which the acks of a flood of shortcuts wait for).

`KeptAliveWebClient` is a WebClient whose public `api_call`, which every method of WebClient
(`chat_postMessage`, `views_open`, …) sends through, goes that way: Bolt's listeners, Connect's
SlackWebApiClient and the OAuth flow keep calling WebClient's methods. Retries are slack_sdk's
async retry handlers (clients/slack_retry); failures raise as WebClient's do: SlackApiError
for Slack's refusal, an OSError (aiohttp's ClientOSError, TimeoutError) or SlackConnectionError
(a SlackClientError) for a connection that could not be made, broke or timed out.
The composition root owns one transport and closes it.
"""

from __future__ import annotations

import asyncio
import collections
import functools
import inspect
import logging
import threading
import time
import weakref
from collections.abc import Awaitable, Callable, Mapping
from concurrent.futures import CancelledError, Future
from datetime import timedelta
from typing import Any, TypeVar
from urllib.parse import urlsplit
from urllib.request import getproxies_environment, proxy_bypass

import aiohttp
import orjson
from cachetools import LRUCache
from pyreqwest.client import Client as ReqwestClient
from pyreqwest.client import ClientBuilder as ReqwestClientBuilder
from pyreqwest.exceptions import PyreqwestError
from pyreqwest.proxy import ProxyBuilder
from slack_sdk import WebClient
from slack_sdk.errors import SlackClientError
from slack_sdk.http_retry.async_handler import AsyncRetryHandler
from slack_sdk.web import SlackResponse
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.web.async_slack_response import AsyncSlackResponse
from slack_sdk.webhook import WebhookResponse
from slack_sdk.webhook.async_client import AsyncWebhookClient

from clients.slack_retry import retry_handlers as connect_retry_handlers

T = TypeVar("T")
log = logging.getLogger(__name__)

MAX_CONNECTIONS = 32  # to Slack at once; 100-300 ms a call makes 100-300 calls a second
CLIENTS_KEPT = 1024  # per-workspace clients (token, team) kept for reuse


class SlackConnectionError(SlackClientError):
    """A call whose connection broke without an OSError (aiohttp's ServerDisconnectedError,
    say): raised as a SlackClientError, so that callers catch every failure to reach Slack as
    `(SlackClientError, OSError)` whatever the HTTP library."""


class CallExpired(Exception):
    """A call handed off with a deadline that passed before a connection was free: not sent."""


def proxy_for(url: str) -> str | None:
    """The proxy a call to `url` goes through, from the environment: HTTPS_PROXY / HTTP_PROXY
    (either case; the URL's own scheme first, else either, as slack_sdk takes them), and none
    when NO_PROXY / no_proxy names the URL's host. slack_sdk reads no NO_PROXY, and the
    session's trust_env is off, so without this a host NO_PROXY exempts would go through the
    proxy all the same."""
    proxies = getproxies_environment()
    parts = urlsplit(url)
    proxy = proxies.get(parts.scheme) or proxies.get("https") or proxies.get("http")
    if proxy is None:
        return None
    host = parts.hostname or ""
    if parts.port is not None:
        host = f"{host}:{parts.port}"
    # With a proxy in the environment, proxy_bypass reads NO_PROXY on every platform.
    return None if proxy_bypass(host) else proxy


def _dumps(value: Any) -> str:
    """aiohttp's JSON encoder for the session: orjson, which also takes `orjson.Fragment`s."""
    return orjson.dumps(value).decode()


class SlackTransport:
    """One event loop thread and one aiohttp session for every Slack call of the process.

    `base_url`, `timeout` (seconds, per attempt) and the retry policy apply to each client it
    makes (`client`); at most `max_connections` calls are out at once, the rest wait their
    turn in order."""

    def __init__(
        self,
        base_url: str = "https://slack.com/api/",
        *,
        timeout: float = 10.0,
        max_retries: int = 2,
        max_retry_wait: float = 5.0,
        max_connections: int = MAX_CONNECTIONS,
        name: str = "connect-slack-http",
    ) -> None:
        self.base_url = base_url if base_url.endswith("/") else base_url + "/"
        self.proxy = proxy_for(self.base_url)  # for Web API calls; a response_url has its own
        self.timeout = timeout
        self.retry_handlers: list[AsyncRetryHandler] = connect_retry_handlers(
            max_retries, max_retry_wait
        )
        self._max_connections = max_connections
        self._clients: LRUCache[tuple[str | None, str | None], KeptAliveWebClient] = LRUCache(
            CLIENTS_KEPT
        )
        self._clients_lock = threading.Lock()
        # Calls handed over by other threads, waiting for the loop to take them.
        self._handed: list[tuple[Callable[[], Awaitable[Any]], float | None, Future[Any]]] = []
        self._handed_lock = threading.Lock()
        self._waking = False
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name=name, daemon=True)
        self._thread.start()
        # Calls taken by the loop, waiting for a free connection (only the loop touches them).
        self._waiting: collections.deque[
            tuple[Callable[[], Awaitable[Any]], float | None, Future[Any]]
        ] = collections.deque()
        self._running = 0
        self.session = self._on_loop(self._open())
        self.handed_off = self._on_loop(self._open_handed_off())
        self._closed = False
        # Closed by `close`, or when the transport is collected or the process exits.
        self._shut_down = weakref.finalize(
            self, _shut_down, self._loop, self.session, self.handed_off, self._thread
        )

    async def _open(self) -> aiohttp.ClientSession:
        return aiohttp.ClientSession(
            # aiohttp's pool: kept-alive connections, as many as calls may be out at once.
            connector=aiohttp.TCPConnector(limit=self._max_connections),
            timeout=aiohttp.ClientTimeout(total=self.timeout),
            json_serialize=_dumps,
            # Not aiohttp's: it looks in ~/.netrc on a worker thread for every request. The
            # proxy is passed per call instead (`proxy_for`, NO_PROXY honoured).
            trust_env=False,
        )

    async def _open_handed_off(self) -> ReqwestClient:
        """What handed-off calls (`KeptAliveWebClient.call_soon`) are sent with: reqwest (Rust),
        whose exchange runs outside the GIL; see benchmarks/README.md#slack-http-transport.
        Its own pool, kept alive as aiohttp's, through the proxy the other calls take."""
        builder = (
            ReqwestClientBuilder()
            .max_connections(self._max_connections)
            .timeout(timedelta(seconds=self.timeout))
            .no_proxy()  # not reqwest's own reading of the environment: the transport's choice
        )
        if self.proxy is not None:
            builder = builder.proxy(ProxyBuilder.all(self.proxy))
        return builder.build()

    def _on_loop(self, work: Awaitable[T]) -> T:
        return asyncio.run_coroutine_threadsafe(_awaited(work), self._loop).result()

    # -- clients --------------------------------------------------------------------------------

    def client(self, token: str | None = None, *, team_id: str | None = None) -> KeptAliveWebClient:
        """The WebClient for `token` (and an org-wide installation's `team_id`), made once."""
        key = (token, team_id)
        with self._clients_lock:
            found = self._clients.get(key)
            if found is None:
                found = self._clients[key] = KeptAliveWebClient(self, token=token, team_id=team_id)
        return found

    # -- sending --------------------------------------------------------------------------------

    def run(self, work: Callable[[], Awaitable[T]]) -> T:
        """Run the coroutine `work()` makes on the transport's loop and wait for its result."""
        if threading.current_thread() is self._thread:
            raise RuntimeError("a Slack call waited for on the Slack transport's own thread")
        return self.submit(work).result()

    def submit(
        self, work: Callable[[], Awaitable[T]], *, deadline: float | None = None
    ) -> Future[T]:
        """Run the coroutine `work()` makes on the loop once a connection is free; the Future
        has its result. `deadline` (time.monotonic()): still waiting then, it is not sent but
        fails with CallExpired (a views.open past its trigger's 3 s would only be refused).

        Handing a call over costs the caller a list append; the loop is woken (a byte down
        its self-pipe, a system call that lets go of the GIL) only when no wake-up is already
        on its way, so a burst of calls from request threads wakes it once."""
        if self._closed:
            raise RuntimeError("the Slack transport is closed")
        future: Future[T] = Future()
        with self._handed_lock:
            self._handed.append((work, deadline, future))
            wake, self._waking = not self._waking, True
        if wake:
            self._loop.call_soon_threadsafe(self._take_handed)
        return future

    def _take_handed(self) -> None:
        """On the loop: queue every call handed over since the last wake-up, in order."""
        with self._handed_lock:
            handed, self._handed = self._handed, []
            self._waking = False
        self._waiting.extend(handed)
        self._start_waiting()

    def _start_waiting(self) -> None:
        """On the loop: start waiting calls while a connection is free. A waiting call is a
        tuple, not a task: under a flood of shortcuts thousands wait, and every full garbage
        collection would walk each one's task, coroutine and futures."""
        while self._closed and self._waiting:  # closing: nothing more is sent
            _, _, future = self._waiting.popleft()
            if future.set_running_or_notify_cancel():
                future.set_exception(CancelledError("the Slack transport closed"))
        while self._waiting and self._running < self._max_connections:
            work, deadline, future = self._waiting.popleft()
            if not future.set_running_or_notify_cancel():
                continue
            if deadline is not None and time.monotonic() > deadline:
                # Set, not raised: an exception raised to be read keeps its frames alive.
                future.set_exception(CallExpired("not sent before its deadline"))
                continue
            self._running += 1
            task = self._loop.create_task(_awaited(work()))
            task.add_done_callback(functools.partial(self._finished, future))

    def _finished(self, future: Future[Any], task: asyncio.Task[Any]) -> None:
        self._running -= 1
        _settle(future, task)
        self._start_waiting()

    def post_to_response_url(self, url: str, message: Mapping[str, Any]) -> WebhookResponse:
        """POST a message to a response_url (or an incoming webhook), as WebhookClient would."""
        webhook = AsyncWebhookClient(url, session=self.session)  # retries a refused connection
        webhook.proxy = proxy_for(url)  # it read HTTPS_PROXY without NO_PROXY
        return self.run(lambda: webhook.send_dict(dict(message)))

    def close(self) -> None:
        """Close the connections and stop the loop (calls still out fail)."""
        self._closed = True
        self._shut_down()


async def _awaited(work: Awaitable[T]) -> T:
    return await work


def _settle(future: Future[T], task: asyncio.Task[T]) -> None:
    """Hands a finished task's outcome to the caller's Future (read, never raised here)."""
    if task.cancelled():  # the transport closed with the call still out
        future.set_exception(CancelledError("the Slack transport closed"))
    elif (error := task.exception()) is not None:
        future.set_exception(error)
    else:
        future.set_result(task.result())


async def _close(session: aiohttp.ClientSession, handed_off: ReqwestClient) -> None:
    """Calls still out fail (their callers are not left waiting), then the connections close."""
    calls = [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]
    for task in calls:
        task.cancel()
    await asyncio.gather(*calls, return_exceptions=True)
    await session.close()
    await handed_off.close()


def _shut_down(
    loop: asyncio.AbstractEventLoop,
    session: aiohttp.ClientSession,
    handed_off: ReqwestClient,
    thread: threading.Thread,
) -> None:
    if not loop.is_running():
        return
    closing = _close(session, handed_off)
    try:
        asyncio.run_coroutine_threadsafe(closing, loop).result(timeout=5)
    except Exception:  # a loop already stopping: nothing left to close
        if inspect.getcoroutinestate(closing) == inspect.CORO_CREATED:
            closing.close()  # never scheduled: not left for the collector to warn about
    loop.call_soon_threadsafe(loop.stop)
    if thread is not threading.current_thread():
        thread.join(timeout=5)


class KeptAliveWebClient(WebClient):
    """slack_sdk's WebClient whose calls go through `transport` (an AsyncWebClient on its
    kept-alive session), with the transport's timeout and async retry handlers."""

    def __init__(
        self, transport: SlackTransport, *, token: str | None = None, team_id: str | None = None
    ) -> None:
        super().__init__(
            token=token,
            base_url=transport.base_url,
            timeout=int(transport.timeout),
            team_id=team_id,
            retry_handlers=[],  # the sender's async handlers retry
        )
        self.transport = transport
        self.sender = AsyncWebClient(
            token=token,
            base_url=transport.base_url,
            timeout=int(transport.timeout),
            session=transport.session,
            team_id=team_id,
            retry_handlers=transport.retry_handlers,
        )
        # Both read HTTPS_PROXY/HTTP_PROXY without NO_PROXY when made: the transport's choice
        # replaces it (`proxy` is their public attribute, read at every call).
        self.proxy = self.sender.proxy = transport.proxy
        # What `call_soon` sends with, as AsyncWebClient would (its User-Agent included).
        self._json_headers = {
            **self.sender.headers,
            "Content-Type": "application/json;charset=utf-8",
            **({"Authorization": f"Bearer {token}"} if token else {}),
        }

    def api_call(  # always answered: never a Future
        self,
        api_method: str,
        *,
        http_verb: str = "POST",
        files: dict[str, Any] | None = None,
        data: dict[str, Any] | None = None,
        params: dict[str, Any] | None = None,
        json: dict[str, Any] | None = None,
        headers: dict[str, Any] | None = None,
        auth: dict[str, Any] | None = None,
    ) -> SlackResponse:
        try:
            answer = self.transport.run(
                lambda: self.sender.api_call(
                    api_method,
                    http_verb=http_verb,
                    files=files,
                    data=data,
                    params=params,
                    json=json,
                    headers=headers,
                    auth=auth,
                )
            )
        except aiohttp.ClientError as error:
            if isinstance(error, OSError):  # ClientConnectorError, ClientOSError: as they are
                raise
            raise SlackConnectionError(f"{type(error).__name__}: {error}") from error
        return self._sync(answer)

    def call_soon(
        self, api_method: str, json: dict[str, Any], *, deadline: float | None = None
    ) -> Future[AsyncSlackResponse]:
        """POST `json` to `api_method` without waiting; the Future has Slack's answer, or the
        SlackApiError AsyncWebClient would raise. A value may be JSON already encoded, as an
        `orjson.Fragment`: a view waiting its turn is then one bytes object, not a tree of
        dicts for the garbage collector to walk. See SlackTransport.submit for `deadline`.

        For views.open after every shortcut: sent once as it is, by the transport's reqwest
        client (the HTTP exchange in Rust, outside the GIL: a third of aiohttp's GIL time a
        call, which the acks of a flood of shortcuts wait for), the answer read with orjson (a
        modal's answer echoes the view); anything but Slack's own answer (a 5xx, a 429, a
        broken connection) is sent once more through AsyncWebClient, whose retry handlers
        judge it."""
        return self.transport.submit(lambda: self._send_soon(api_method, json), deadline=deadline)

    async def _send_soon(self, api_method: str, json: dict[str, Any]) -> AsyncSlackResponse:
        url = self.base_url + api_method
        try:
            answer = await (
                self.transport.handed_off.post(url)
                .headers(self._json_headers)
                .body_bytes(orjson.dumps({**self.default_params, **json}))
                .build()
                .send()
            )
            status = answer.status
            data = orjson.loads(memoryview(await answer.bytes())) if status == 200 else None
            failure = f"HTTP {status}"
        except (PyreqwestError, orjson.JSONDecodeError) as error:
            data, failure = None, f"{type(error).__name__}: {error}"
        if not isinstance(data, dict):  # not Slack's answer: slack_sdk and its retries judge
            log.info(
                "%s got no answer from Slack (%s): sent through slack_sdk", api_method, failure
            )
            return await self.sender.api_call(api_method, json=json)
        response = AsyncSlackResponse(
            client=self.sender,
            http_verb="POST",
            api_url=url,
            req_args={},
            data=data,
            headers=dict(answer.headers.items()),
            status_code=status,
        )
        response.validate()  # type: ignore[no-untyped-call]  # SlackApiError for ok=false
        return response

    def post_to_response_url(self, url: str, message: Mapping[str, Any]) -> WebhookResponse:
        """A message to a response_url, over the same connections."""
        return self.transport.post_to_response_url(url, message)

    def _sync(self, answer: AsyncSlackResponse) -> SlackResponse:
        return SlackResponse(
            client=self,
            http_verb=answer.http_verb,
            api_url=answer.api_url,
            req_args=answer.req_args,
            data=answer.data,
            headers=answer.headers,
            status_code=answer.status_code,
        )
