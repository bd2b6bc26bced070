"""A stand-in Jira REST API v2 over real HTTP on 127.0.0.1, port 0 (tests, benchmarks).

    with FakeJiraServer() as server:                         # Jira Cloud, sample data
        client = JiraRestClient(server.url, email=server.email, api_token=server.api_token)
        client.get_issue("OPS-1")
        assert server.paths("GET") == ["/rest/api/2/issue/OPS-1"]

State lives in an `InMemoryJira` (`server.jira`, sample data by default): seed it or act
in Jira through it. `deployment_type="Server"` (or "DataCenter") speaks Data Center: Bearer
PAT, users by name, `/search` instead of `/search/jql`. Every request is recorded
(`requests`); `fail_next` answers the next requests with 429/503/... (Retry-After too) and
`delay_seconds` slows every answer; credentials are checked, anything else gets 401.
`stop()` then `start()` takes the site down and brings it back on the same URL.
"""

from __future__ import annotations

import base64
import contextlib
import email.policy
import json
import threading
import time
from dataclasses import dataclass
from email.parser import BytesParser
from http.server import BaseHTTPRequestHandler
from typing import Any, Protocol, Self
from urllib.parse import parse_qs, unquote, urlsplit

from simulators.jira_site.memory import InMemoryJira
from simulators.jira_site.rest_api import FakeJiraApi, Request
from simulators.jira_site.sample import with_sample_data
from simulators.local_http import LocalHTTPStandIn

DEFAULT_EMAIL = "connect-bot@example.com"
DEFAULT_API_TOKEN = "fake-cloud-api-token-0123456789"  # noqa: S105 - the stand-in's own
DEFAULT_PAT = "fake-datacenter-pat-0123456789"


class PeopleProvider(Protocol):
    """Who else may call the site (a Data Center OAuth provider, people's personal tokens):
    simulators.atlassian.data_center."""

    def provider_answer(
        self, method: str, raw_path: str, query: str, headers: dict[str, str], raw: str
    ) -> Any: ...

    def person_for(self, authorization: str) -> str | None: ...


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: Any
    status: int


@dataclass
class _Failure:
    status: int
    retry_after: str | None
    path: str | None
    remaining: int


class FakeJiraServer(LocalHTTPStandIn):
    thread_name = "fake-jira"
    same_port_on_restart = True  # a site that was down comes back at the same URL

    def __init__(
        self,
        jira: InMemoryJira | None = None,
        *,
        deployment_type: str = "Cloud",
        email: str = DEFAULT_EMAIL,
        api_token: str = DEFAULT_API_TOKEN,
        pat: str = DEFAULT_PAT,
    ) -> None:
        self.jira = jira or with_sample_data(InMemoryJira(deployment_type=deployment_type))
        self.api = FakeJiraApi(self.jira, deployment_type, base_url="")
        self.email, self.api_token, self.pat = email, api_token, pat
        self.delay_seconds = 0.0
        self.people: PeopleProvider | None = None  # people with tokens of their own
        self._lock = threading.Lock()
        self._requests: list[RecordedRequest] = []
        self._failures: list[_Failure] = []

    @property
    def cloud(self) -> bool:
        return self.api.cloud

    # -- lifecycle ------------------------------------------------------------------------------

    def start(self) -> Self:
        super().start()
        self.api.base_url = self.url  # links in answers point at this server
        return self

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        return _Handler

    # -- configuration and reading back ---------------------------------------------------------

    def fail_next(
        self,
        status: int,
        *,
        times: int = 1,
        retry_after: float | str | None = None,
        path: str | None = None,
    ) -> None:
        """The next `times` requests (whose path contains `path`, if given) get `status`."""
        header = None if retry_after is None else str(retry_after)
        with self._lock:
            self._failures.append(_Failure(status, header, path, times))

    @property
    def requests(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._requests)

    def paths(self, method: str | None = None) -> list[str]:
        return [r.path for r in self.requests if method in (None, r.method)]

    def reset(self) -> None:
        with self._lock:
            self._requests.clear()
            self._failures.clear()

    # -- serving (called from handler threads) --------------------------------------------------

    def _authorised(self, header: str) -> bool:
        if self.cloud:
            expected = base64.b64encode(f"{self.email}:{self.api_token}".encode()).decode()
            return header == f"Basic {expected}"
        return header == f"Bearer {self.pat}"

    def _take_failure(self, path: str) -> _Failure | None:
        with self._lock:
            for failure in self._failures:
                if failure.path is None or failure.path in path:
                    failure.remaining -= 1
                    if failure.remaining <= 0:
                        self._failures.remove(failure)
                    return failure
            return None

    def _record(self, request: RecordedRequest) -> None:
        with self._lock:
            self._requests.append(request)


class _Handler(BaseHTTPRequestHandler):
    fake: FakeJiraServer
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out apart: avoid 40 ms ACK stalls

    def log_message(self, format: str, *args: Any) -> None:
        return None  # keep test output quiet

    def finish(self) -> None:
        with contextlib.suppress(OSError):  # the connection may have been shut by stop()
            super().finish()

    def do_GET(self) -> None:
        self._handle()

    def do_POST(self) -> None:
        self._handle()

    def do_PUT(self) -> None:
        self._handle()

    def do_DELETE(self) -> None:
        self._handle()

    def _handle(self) -> None:
        split = urlsplit(self.path)
        headers = {name.title(): value for name, value in self.headers.items()}  # one spelling
        data = self._read(headers)
        people = self.fake.people
        if people is not None:  # its OAuth pages and token endpoint, before the REST API
            raw = data.decode("utf-8", errors="replace")
            provided = people.provider_answer(self.command, split.path, split.query, headers, raw)
            if provided is not None:
                extra = dict(provided.headers)
                if provided.html:
                    extra["Content-Type"] = "text/html; charset=utf-8"
                self._send(provided.status, provided.body, extra)
                return
        body = self._body(headers, data)
        request = Request(self.command, unquote(split.path), parse_qs(split.query), body, headers)
        status, answer, extra = self._answer(request)
        self.fake._record(  # the path as sent, still quoted
            RecordedRequest(request.method, split.path, request.query, headers, body, status)
        )
        if self.fake.delay_seconds:
            time.sleep(self.fake.delay_seconds)
        self._send(status, answer, extra)

    def _read(self, headers: dict[str, str]) -> bytes:
        length = int(headers.get("Content-Length") or 0)
        chunked = headers.get("Transfer-Encoding", "").lower() == "chunked"
        return _read_chunked(self.rfile) if chunked else self.rfile.read(length) if length else b""

    def _body(self, headers: dict[str, str], data: bytes) -> Any:
        """JSON (or text); a multipart upload as {"files": [(name, bytes), …]}."""
        content_type = headers.get("Content-Type", "")
        if content_type.startswith("multipart/form-data"):
            return {"files": _multipart_files(content_type, data)}
        raw = data.decode("utf-8", errors="replace")
        try:
            return json.loads(raw) if raw else None
        except ValueError:
            return raw

    def _answer(self, request: Request) -> tuple[int, Any, dict[str, str]]:
        failure = self.fake._take_failure(request.path)
        if failure is not None:
            extra = {"Retry-After": failure.retry_after} if failure.retry_after else {}
            message = "Rate limit exceeded." if failure.status == 429 else "Service unavailable."
            return failure.status, {"errorMessages": [message], "errors": {}}, extra
        authorization = self.headers.get("Authorization", "")
        people = self.fake.people
        if not self.fake._authorised(authorization):
            person = people.person_for(authorization) if people is not None else None
            if person is None:
                message = "Client must be authenticated to access this resource."
                return 401, message, {"WWW-Authenticate": 'Basic realm="protected-area"'}
            with self.fake.jira.act_as(person):  # their name, their permissions
                status, answer = self.fake.api.handle(request)
            return status, answer, {}
        status, answer = self.fake.api.handle(request)
        return status, answer, {}

    def _send(self, status: int, answer: Any, extra: dict[str, str]) -> None:
        if status == 204 or answer is None:
            data = b""
        elif isinstance(answer, str):
            data = answer.encode()
            extra.setdefault("Content-Type", "text/plain;charset=UTF-8")
        else:
            data = json.dumps(answer).encode()
        try:
            self.send_response(status)
            self.send_header("Content-Type", extra.pop("Content-Type", "application/json"))
            for name, value in extra.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up waiting (a timeout test): nothing left to answer


def _read_chunked(stream: Any) -> bytes:
    parts: list[bytes] = []
    while True:
        size = int(stream.readline().strip() or b"0", 16)
        if size == 0:
            stream.readline()
            return b"".join(parts)
        parts.append(stream.read(size))
        stream.readline()


def _multipart_files(content_type: str, data: bytes) -> list[tuple[str, bytes]]:
    """The `file` parts of a multipart/form-data body: (file name, content)."""
    message = BytesParser(policy=email.policy.HTTP).parsebytes(
        f"Content-Type: {content_type}\r\n\r\n".encode() + data
    )
    found = []
    for part in message.iter_parts():
        if part.get_param("name", header="content-disposition") != "file":
            continue
        payload = part.get_payload(decode=True)
        found.append(
            (part.get_filename() or "file", payload if isinstance(payload, bytes) else b"")
        )
    return found
