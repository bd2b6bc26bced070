"""A stand-in for auth.atlassian.com and api.atlassian.com over real HTTP on 127.0.0.1, port 0.

    with FakeJiraServer() as site, FakeAtlassian(site) as atlassian:
        atlassian.url          # both JIRA_OAUTH_AUTH_URL and JIRA_OAUTH_API_URL

What it serves, shaped like Atlassian's own answers:
- `GET /authorize` (audience, client_id, scope, redirect_uri, state, response_type=code):
  a browser signed in as someone (`browser(account_id)`, or `auto_approve_as` for the offline
  demo) is sent straight back to `redirect_uri?code=…&state=…`, as after "Accept"; anyone else
  gets a consent form whose POST does the same for the account picked.
- `POST /oauth/token`: `authorization_code` (a code is good once, for 10 minutes, for the
  redirect_uri it was issued to) and `refresh_token`. Refresh tokens ROTATE: each refresh
  answers a new one and the old one is refused from then on (403 `invalid_grant`), as is
  every token of a grant the person removed (`revoke`).
- `GET /oauth/token/accessible-resources`: the one site (`cloud_id`, `url` = the Jira site).
- `/ex/jira/{cloud_id}/rest/api/{2,3}/…`: the fake Jira's REST API acting as the token's
  person (`InMemoryJira.act_as`), so Jira records them as author and applies their
  permissions (`restrict_project`, `restrict_security_level`).

The clock is the stand-in's own (`advance`), so tests expire access tokens without waiting.
"""

from __future__ import annotations

import contextlib
import html
import json
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, parse_qsl, unquote, urlencode, urlsplit

import requests

from simulators.jira_site.rest_api import Request
from simulators.jira_site.server import FakeJiraServer
from simulators.local_http import LocalHTTPStandIn

DEFAULT_CLIENT_ID = "fake-atlassian-client"
DEFAULT_CLIENT_SECRET = "fake-atlassian-secret-0123456789"  # noqa: S105 - the stand-in's own
DEFAULT_CLOUD_ID = "5f3c2b1a-0000-4000-8000-00000000c10d"
AUDIENCE = "api.atlassian.com"
REQUIRED_SCOPES = frozenset({"read:jira-work", "write:jira-work", "read:jira-user"})
SIGNED_IN_COOKIE = "fake_atlassian_account"
CODE_TTL = timedelta(minutes=10)
_GATEWAY_PREFIX = "/ex/jira/"


@dataclass
class _Grant:
    account_id: str
    scopes: tuple[str, ...]
    refresh_token: str | None
    revoked: bool = False


@dataclass
class _Code:
    account_id: str
    redirect_uri: str
    scopes: tuple[str, ...]
    expires_at: datetime


@dataclass(frozen=True)
class TokenRequest:
    grant_type: str
    status: int
    error: str | None


@dataclass(frozen=True)
class GatewayCall:
    method: str
    path: str
    account_id: str | None
    status: int


@dataclass
class _State:
    grants: dict[str, _Grant] = field(default_factory=dict)
    codes: dict[str, _Code] = field(default_factory=dict)
    access: dict[str, tuple[str, datetime]] = field(default_factory=dict)  # token -> grant, exp
    refresh: dict[str, str] = field(default_factory=dict)  # current refresh token -> grant id


class FakeAtlassian(LocalHTTPStandIn):
    thread_name = "fake-atlassian"

    def __init__(
        self,
        site: FakeJiraServer,
        *,
        client_id: str = DEFAULT_CLIENT_ID,
        client_secret: str = DEFAULT_CLIENT_SECRET,
        cloud_id: str = DEFAULT_CLOUD_ID,
        access_ttl: timedelta = timedelta(hours=1),
        auto_approve_as: str | None = None,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.site = site
        self.client_id, self.client_secret, self.cloud_id = client_id, client_secret, cloud_id
        self.access_ttl = access_ttl
        self.auto_approve_as = auto_approve_as
        # Where /authorize may send people back to; empty = anywhere (the demo's random port).
        self.redirect_uris: set[str] = set()
        self._clock = clock or (lambda: datetime.now(UTC))
        self._offset = timedelta()
        self._lock = threading.Lock()
        self._state = _State()
        self._token_requests: list[TokenRequest] = []
        self._gateway_calls: list[GatewayCall] = []

    # Refresh tokens only with `offline_access`, as Atlassian; Data Center always gives one.
    always_refresh = False

    # -- lifecycle --------------------------------------------------------------------------

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        return _Handler

    # -- driving it -------------------------------------------------------------------------

    def now(self) -> datetime:
        return self._clock() + self._offset

    def advance(self, delta: timedelta) -> None:
        """Move the stand-in's clock on (access tokens and codes expire by it)."""
        with self._lock:
            self._offset += delta

    def browser(self, account_id: str) -> requests.Session:
        """A browser signed in to Atlassian as `account_id`: /authorize approves at once."""
        session = requests.Session()
        host = urlsplit(self.url).hostname or "127.0.0.1"
        session.cookies.set(SIGNED_IN_COOKIE, account_id, domain=host)
        return session

    def revoke(self, account_id: str) -> int:
        """The person removed the app from their Atlassian account: every token of their
        grants stops working. The number of grants revoked."""
        with self._lock:
            hit = [g for g in self._state.grants.values() if g.account_id == account_id]
            for grant in hit:
                grant.revoked = True
            return len(hit)

    def expire_access_tokens(self) -> None:
        """Every access token handed out so far is expired (refresh tokens still work)."""
        with self._lock:
            past = self.now() - timedelta(seconds=1)
            self._state.access = {t: (g, past) for t, (g, _) in self._state.access.items()}

    @property
    def token_requests(self) -> list[TokenRequest]:
        with self._lock:
            return list(self._token_requests)

    @property
    def gateway_calls(self) -> list[GatewayCall]:
        with self._lock:
            return list(self._gateway_calls)

    def live_grants(self, account_id: str) -> int:
        with self._lock:
            return sum(
                1
                for g in self._state.grants.values()
                if g.account_id == account_id and not g.revoked
            )

    # -- the authorization server (called from handler threads) -------------------------------

    def authorize_problem(self, params: dict[str, str]) -> str | None:
        """What is wrong with an /authorize request, or None."""
        if params.get("client_id") != self.client_id:
            return "Unknown client_id."
        if params.get("audience") != AUDIENCE:
            return f"audience must be {AUDIENCE}."
        if params.get("response_type") != "code":
            return "response_type must be code."
        if not params.get("state"):
            return "state is required."
        redirect = params.get("redirect_uri", "")
        if not redirect or (self.redirect_uris and redirect not in self.redirect_uris):
            return "redirect_uri does not match the app's callback URL."
        missing = REQUIRED_SCOPES - set(params.get("scope", "").split())
        if missing:
            return f"missing scopes: {', '.join(sorted(missing))}."
        return None

    def approve(self, params: dict[str, str], account_id: str) -> str:
        """The URL the browser is sent back to after `account_id` accepted."""
        self.site.jira.user(account_id)  # KeyError for someone Jira does not know
        code = secrets.token_urlsafe(24)
        with self._lock:
            self._state.codes[code] = _Code(
                account_id,
                params["redirect_uri"],
                tuple(params.get("scope", "").split()),
                self.now() + CODE_TTL,
            )
        query = urlencode({"code": code, "state": params["state"]})
        separator = "&" if "?" in params["redirect_uri"] else "?"
        return f"{params['redirect_uri']}{separator}{query}"

    def token(self, body: dict[str, str]) -> tuple[int, dict[str, Any]]:
        grant_type = body.get("grant_type", "")
        status, answer = self._token(grant_type, body)
        with self._lock:
            self._token_requests.append(TokenRequest(grant_type, status, answer.get("error")))
        return status, answer

    def _token(self, grant_type: str, body: dict[str, str]) -> tuple[int, dict[str, Any]]:
        if body.get("client_id") != self.client_id or body.get("client_secret") != (
            self.client_secret
        ):
            return 401, {"error": "access_denied", "error_description": "Unauthorized"}
        with self._lock:
            if grant_type == "authorization_code":
                code = self._state.codes.pop(body.get("code", ""), None)
                if code is None or code.expires_at <= self.now():
                    return 403, _invalid_grant("Invalid authorization code")
                if code.redirect_uri != body.get("redirect_uri"):
                    return 403, _invalid_grant("redirect_uri does not match")
                grant_id = secrets.token_hex(8)
                grant = _Grant(code.account_id, code.scopes, None)
                self._state.grants[grant_id] = grant
                return 200, self._issue(grant_id, grant)
            if grant_type == "refresh_token":
                grant_id = self._state.refresh.pop(body.get("refresh_token", ""), "")
                found = self._state.grants.get(grant_id)
                if found is None or found.revoked:
                    return 403, _invalid_grant("Unknown or invalid refresh token.")
                return 200, self._issue(grant_id, found)
        return 400, {"error": "unsupported_grant_type", "error_description": grant_type}

    def _issue(self, grant_id: str, grant: _Grant) -> dict[str, Any]:
        access = "fake-access-" + secrets.token_urlsafe(24)
        self._state.access[access] = (grant_id, self.now() + self.access_ttl)
        answer: dict[str, Any] = {
            "access_token": access,
            "expires_in": int(self.access_ttl.total_seconds()),
            "token_type": "Bearer",
            "scope": " ".join(grant.scopes),
        }
        if self.always_refresh or "offline_access" in grant.scopes:
            if grant.refresh_token:
                self._state.refresh.pop(grant.refresh_token, None)
            grant.refresh_token = "fake-refresh-" + secrets.token_urlsafe(24)
            self._state.refresh[grant.refresh_token] = grant_id
            answer["refresh_token"] = grant.refresh_token
        return answer

    def account_for(self, authorization: str) -> str | None:
        """The person behind a `Bearer` access token still good, or None."""
        token = authorization.removeprefix("Bearer ").strip()
        with self._lock:
            entry = self._state.access.get(token)
            if entry is None or not authorization.startswith("Bearer "):
                return None
            grant = self._state.grants.get(entry[0])
            if grant is None or grant.revoked or entry[1] <= self.now():
                return None
            return grant.account_id

    def accessible_resources(self) -> list[dict[str, Any]]:
        return [
            {
                "id": self.cloud_id,
                "url": self.site.url,
                "name": "fake-site",
                "scopes": sorted(REQUIRED_SCOPES),
                "avatarUrl": f"{self.site.url}/avatar.png",
            }
        ]

    def gateway(
        self, method: str, path: str, query: dict[str, list[str]], body: Any, who: str
    ) -> tuple[int, Any]:
        """`/ex/jira/{cloud_id}/rest/api/{2,3}/…` answered by the site acting as `who`."""
        cloud_id, _, rest = path.removeprefix(_GATEWAY_PREFIX).partition("/")
        if cloud_id != self.cloud_id:
            return 404, {"message": "Site not found", "code": 404}
        rest = "/" + rest
        for version in ("/rest/api/3/", "/rest/api/latest/"):
            if rest.startswith(version):
                rest = "/rest/api/2/" + rest.removeprefix(version)
        jira = self.site.jira
        with jira.act_as(who):
            return self.site.api.handle(Request(method, rest, query, body))

    def respond(
        self, method: str, raw_path: str, query: str, headers: dict[str, str], raw: str
    ) -> Answer:
        """One HTTP request to the stand-in, answered."""
        return _respond(self, method, raw_path, query, headers, raw)

    def record_gateway(self, call: GatewayCall) -> None:
        with self._lock:
            self._gateway_calls.append(call)


def _respond(
    fake: FakeAtlassian, method: str, raw_path: str, query: str, headers: dict[str, str], raw: str
) -> Answer:
    path = unquote(raw_path)
    authorization = headers.get("Authorization", "")
    if path == "/authorize":
        return authorize_answer(fake, method, query, raw, headers, "/authorize")
    if path == "/oauth/token" and method == "POST":
        return Answer(*fake.token(form_or_json(raw)))
    if path == "/oauth/token/accessible-resources" and method == "GET":
        if fake.account_for(authorization) is None:
            return Answer(401, {"code": 401, "message": "Unauthorized"})
        return Answer(200, fake.accessible_resources())
    if path.startswith(_GATEWAY_PREFIX):
        who = fake.account_for(authorization)
        if who is None:
            status, body = 401, {"code": 401, "message": "Unauthorized; scope does not match"}
        else:
            try:
                parsed = json.loads(raw) if raw else None
            except ValueError:
                parsed = raw
            status, body = fake.gateway(method, path, parse_qs(query), parsed, who)
        fake.record_gateway(GatewayCall(method, raw_path, who, status))
        return Answer(status, body)
    return Answer(404, {"code": 404, "message": "Not Found"})


def _invalid_grant(description: str) -> dict[str, Any]:
    return {"error": "invalid_grant", "error_description": description}


_CONSENT_PAGE = """<!doctype html>
<html><head><title>Allow access?</title></head><body>
<h1>Connect is requesting access to your account</h1>
<form method="post" action="{action}">{hidden}
<label>Signed in as <select name="account">{options}</select></label>
<button type="submit">Accept</button>
</form></body></html>
"""


@dataclass(frozen=True)
class Answer:
    status: int
    body: Any = None  # JSON, or text (HTML when `html`)
    headers: dict[str, str] = field(default_factory=dict)
    html: bool = False


def signed_in(cookie_header: str) -> str | None:
    """The account a browser is signed in as (`FakeAtlassian.browser`), from its cookies."""
    for part in cookie_header.split(";"):
        name, _, value = part.strip().partition("=")
        if name == SIGNED_IN_COOKIE and value:
            return value
    return None


def form_or_json(raw: str) -> dict[str, str]:
    with contextlib.suppress(ValueError):
        parsed = json.loads(raw)
        if isinstance(parsed, dict):
            return {str(k): str(v) for k, v in parsed.items()}
    return dict(parse_qsl(raw))


def authorize_answer(
    fake: FakeAtlassian, method: str, query: str, raw: str, headers: dict[str, str], action: str
) -> Answer:
    """/authorize: a signed-in browser is sent straight back with a code; anyone else gets
    the consent form (posted back to `action`)."""
    params = dict(parse_qsl(raw if method == "POST" else query))
    problem = fake.authorize_problem(params)
    if problem is not None:
        return Answer(400, f"<p>Something went wrong: {html.escape(problem)}</p>", html=True)
    account = params.get("account") if method == "POST" else signed_in(headers.get("Cookie", ""))
    account = account or fake.auto_approve_as
    if account:
        try:
            location = fake.approve(params, account)
        except KeyError:
            return Answer(400, "<p>Unknown account.</p>", html=True)
        return Answer(302, None, {"Location": location})
    hidden = "".join(
        f'<input type="hidden" name="{html.escape(k)}" value="{html.escape(v)}">'
        for k, v in params.items()
    )
    options = "".join(
        f'<option value="{html.escape(u.account_id)}">{html.escape(u.display_name)}</option>'
        for u in fake.site.jira.users()
    )
    page = _CONSENT_PAGE.format(action=action, hidden=hidden, options=options)
    return Answer(200, page, html=True)


class _Handler(BaseHTTPRequestHandler):
    fake: FakeAtlassian
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: Any) -> None:
        return None

    def finish(self) -> None:
        with contextlib.suppress(OSError):
            super().finish()

    def do_GET(self) -> None:
        self._handle("GET")

    def do_POST(self) -> None:
        self._handle("POST")

    def do_PUT(self) -> None:
        self._handle("PUT")

    def do_DELETE(self) -> None:
        self._handle("DELETE")

    def _handle(self, method: str) -> None:
        split = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length).decode("utf-8") if length else ""
        headers = {name.title(): value for name, value in self.headers.items()}
        send(self, self.fake.respond(method, split.path, split.query, headers, raw))


def send(handler: BaseHTTPRequestHandler, answer: Answer) -> None:
    headers = dict(answer.headers)
    if answer.status == 204 or answer.body is None:
        data = b""
    elif isinstance(answer.body, str):
        data = answer.body.encode()
        headers["Content-Type"] = "text/html; charset=utf-8" if answer.html else "text/plain"
    else:
        data = json.dumps(answer.body).encode()
    try:
        handler.send_response(answer.status)
        handler.send_header("Content-Type", headers.pop("Content-Type", "application/json"))
        for name, value in headers.items():
            handler.send_header(name, value)
        handler.send_header("Content-Length", str(len(data)))
        handler.end_headers()
        handler.wfile.write(data)
    except (BrokenPipeError, ConnectionResetError):
        pass
