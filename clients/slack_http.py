"""Slack Web API calls over kept-alive connections, sent by libcurl.

slack_sdk's WebClient sends each call with urllib's `urlopen`, which opens a connection, sends
`Connection: close` and drops it: against slack.com every call pays a TCP and a TLS handshake
before Slack sees it, and the exchange itself (urllib, http.client, the email parser for the
headers) runs in Python, holding the GIL that the web server's acks wait for. Connect makes
its Slack calls from request threads, the work after acks, the modal opener and the outbox
worker, at up to hundreds a second, so `PooledWebClient` sends the same requests through
pycurl: one libcurl handle per thread, whose connection stays open between calls, and an
exchange that runs in C with the GIL released (about a fifth of urllib's CPU in Python).

Only the HTTP exchange changes (`_perform_urllib_http_request_internal`, slack_sdk 3.x): the
request is built, retried and turned into a SlackResponse by WebClient as before, and every
failure is raised as urlopen raises it (HTTPError for a status outside 2xx, URLError for a
connection that could not be made, the socket error itself for one that broke or timed out),
so slack_sdk's retry handlers and Connect's (clients/slack_retry) judge it the same way.
Certificates are checked against the store Python's ssl module uses (SSL_CERT_FILE and
SSL_CERT_DIR count, as for urllib); libcurl takes proxies from http_proxy/https_proxy/no_proxy
as urllib does. A WebClient given its own proxy or SSL context keeps urllib.
"""

from __future__ import annotations

import io
import os
import ssl
import threading
from http.client import HTTPMessage, RemoteDisconnected
from typing import Any
from urllib.error import HTTPError, URLError
from urllib.request import Request

import pycurl
from slack_sdk import WebClient
from slack_sdk.webhook import WebhookClient, WebhookResponse


def verify_paths() -> tuple[str | None, str | None]:
    """The CA file and directory Python's ssl module would use (SSL_CERT_FILE, SSL_CERT_DIR
    count), for libcurl; None for one that does not exist."""
    paths = ssl.get_default_verify_paths()
    cafile = paths.cafile if paths.cafile and os.path.exists(paths.cafile) else None
    capath = paths.capath if paths.capath and os.path.isdir(paths.capath) else None
    return cafile, capath


class SlackConnections:
    """Sends slack_sdk's `urllib.request.Request`s with one pycurl handle per thread."""

    def __init__(self) -> None:
        self._local = threading.local()
        self._cafile, self._capath = verify_paths()

    def _handle(self) -> pycurl.Curl:
        handle: pycurl.Curl | None = getattr(self._local, "handle", None)
        if handle is None:
            handle = self._local.handle = pycurl.Curl()
        else:
            handle.reset()  # options only: the handle keeps its open connection
        return handle

    def send(self, request: Request, timeout: float) -> dict[str, Any]:
        """One exchange, answered as WebClient's urllib path answers: a dict of status,
        headers (an HTTPMessage) and the decoded body; urllib's exceptions on failure."""
        url = request.full_url
        data = request.data if isinstance(request.data, bytes) else b""
        handle = self._handle()
        body = io.BytesIO()
        header_lines: list[bytes] = []
        handle.setopt(pycurl.URL, url)
        handle.setopt(pycurl.NOSIGNAL, 1)  # timeouts without SIGALRM: safe in threads
        handle.setopt(pycurl.TIMEOUT_MS, max(1, int(timeout * 1000)))
        handle.setopt(pycurl.CONNECTTIMEOUT_MS, max(1, int(timeout * 1000)))
        handle.setopt(pycurl.CUSTOMREQUEST, request.get_method())
        if request.get_method() == "POST":
            handle.setopt(pycurl.POSTFIELDSIZE, len(data))
            handle.setopt(pycurl.COPYPOSTFIELDS, data)
        headers = [f"{name}: {value}" for name, value in request.header_items()]
        handle.setopt(pycurl.HTTPHEADER, [*headers, "Expect:"])  # no 100-continue wait
        if self._cafile:
            handle.setopt(pycurl.CAINFO, self._cafile)
        if self._capath:
            handle.setopt(pycurl.CAPATH, self._capath)
        handle.setopt(pycurl.WRITEDATA, body)
        handle.setopt(pycurl.HEADERFUNCTION, header_lines.append)
        try:
            handle.perform()
        except pycurl.error as error:
            connected = bool(handle.getinfo(pycurl.CONNECT_TIME))
            os_errno = int(handle.getinfo(pycurl.OS_ERRNO))
            raise _as_urllib_error(error, connected=connected, os_errno=os_errno) from None
        status = int(handle.getinfo(pycurl.RESPONSE_CODE))
        message = response_headers(header_lines)
        payload = body.getvalue()
        if not 200 <= status < 300:
            raise HTTPError(url, status, _reason(header_lines), message, io.BytesIO(payload))
        if message.get_content_type() == "application/gzip":  # admin.analytics.getFile
            return {"status": status, "headers": message, "body": payload}
        charset = message.get_content_charset() or "utf-8"
        return {"status": status, "headers": message, "body": payload.decode(charset)}


def response_headers(lines: list[bytes]) -> HTTPMessage:
    """The last response's header fields (after any 1xx), as http.client would give them."""
    message = HTTPMessage()
    for raw in lines:
        line = raw.decode("iso-8859-1").rstrip("\r\n")
        if line.startswith("HTTP/"):
            message = HTTPMessage()  # a new response (after 100 Continue, say)
        elif ":" in line:
            name, _, value = line.partition(":")
            message[name.strip()] = value.strip()
    return message


def _reason(lines: list[bytes]) -> str:
    for raw in reversed(lines):
        line = raw.decode("iso-8859-1")
        if line.startswith("HTTP/"):
            parts = line.strip().split(" ", 2)
            return parts[2] if len(parts) > 2 else ""
    return ""


# libcurl's error codes (curl/curl.h) that say how the exchange failed.
_RESOLVE = {pycurl.E_COULDNT_RESOLVE_HOST, pycurl.E_COULDNT_RESOLVE_PROXY}
_CONNECT = {pycurl.E_COULDNT_CONNECT}
_TIMEOUT = {pycurl.E_OPERATION_TIMEDOUT}
_NOTHING = {pycurl.E_GOT_NOTHING}
_BROKEN = {pycurl.E_SEND_ERROR, pycurl.E_RECV_ERROR, pycurl.E_PARTIAL_FILE}


def _as_urllib_error(error: pycurl.error, *, connected: bool, os_errno: int = 0) -> Exception:
    """What urlopen raises for the same failure: URLError when no connection was made (so
    nothing reached Slack), the socket error itself when one broke after it was made. The
    socket's errno, when libcurl has one, picks the OSError subclass (ConnectionRefusedError,
    ConnectionResetError, …) as the socket module would."""
    code = error.args[0] if error.args else -1
    text = str(error.args[1]) if len(error.args) > 1 else str(error)
    os_error = OSError(os_errno, text) if os_errno else OSError(text)
    if code in _RESOLVE:
        return URLError(OSError(text))
    if code in _CONNECT:
        return URLError(os_error)
    if code in _TIMEOUT:
        return TimeoutError(text) if connected else URLError(TimeoutError(text))
    if code in _NOTHING:
        return RemoteDisconnected(text)
    if code in _BROKEN:
        return os_error if isinstance(os_error, ConnectionError) else ConnectionResetError(text)
    return URLError(os_error)


# One per process: every PooledWebClient (each workspace's token) shares its connections.
SLACK_CONNECTIONS = SlackConnections()


class PooledWebClient(WebClient):
    """slack_sdk's WebClient whose calls go through `SLACK_CONNECTIONS`; one given its own
    proxy or SSL context sends through urllib as WebClient does."""

    connections: SlackConnections = SLACK_CONNECTIONS

    def _perform_urllib_http_request_internal(self, url: str, req: Request) -> dict[str, Any]:
        if self.proxy or self.ssl or not url.lower().startswith(("http://", "https://")):
            return super()._perform_urllib_http_request_internal(url, req)
        return self.connections.send(req, float(self.timeout))


class PooledWebhookClient(WebhookClient):
    """slack_sdk's WebhookClient (a response_url, an incoming webhook) whose posts go through
    `SLACK_CONNECTIONS`; one given a proxy or an SSL context sends through urllib."""

    connections: SlackConnections = SLACK_CONNECTIONS

    def _perform_http_request_internal(self, url: str, req: Request) -> WebhookResponse:
        if self.proxy or self.ssl or not url.lower().startswith(("http://", "https://")):
            return super()._perform_http_request_internal(url, req)  # type: ignore[no-any-return]
        answer = self.connections.send(req, float(self.timeout))
        return WebhookResponse(
            url=url, status_code=answer["status"], body=answer["body"], headers=answer["headers"]
        )


def pooled(client: WebClient) -> WebClient:
    """`client`, sending through `SLACK_CONNECTIONS` from now on.

    For the WebClient Bolt builds for every request (slack_bolt >= 1.15), a fresh instance that
    only this request holds: it is re-classed in place (PooledWebClient adds one method and no
    state) instead of copied, which cost each ack a second WebClient's construction. Any other
    WebClient (a subclass, say) is left as it is."""
    if type(client) is WebClient:
        client.__class__ = PooledWebClient
    return client
