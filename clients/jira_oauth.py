"""Jira's OAuth 2.0 endpoints behind one interface (SPEC §12): `JiraOAuth` (the Protocol) and
`AtlassianOAuth` (Jira Cloud's 3LO: auth.atlassian.com and api.atlassian.com, or whatever
JIRA_OAUTH_AUTH_URL / JIRA_OAUTH_API_URL point at).

Errors never carry a token: a refused grant is `OAuthInvalidGrant` (the person has to connect
again), anything else `JiraUnavailable` or `JiraAuthError` with a fixed message.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol
from urllib.parse import urlencode

import requests
from pydantic import SecretStr

from clients.call_observer import CallObserver, NullObserver
from clients.jira_client import JiraAuthError, JiraError, JiraUnavailable

CLOUD_SCOPES = ("read:jira-work", "write:jira-work", "read:jira-user", "offline_access")
CLOUD_AUDIENCE = "api.atlassian.com"
# OAuth errors meaning "this grant is gone": the person must consent again.
GRANT_ERRORS = frozenset({"invalid_grant", "unauthorized_client", "invalid_token"})


class OAuthInvalidGrant(JiraError):
    """The code or refresh token was refused: expired, used, or the grant was revoked."""


@dataclass(frozen=True, slots=True)
class OAuthTokens:
    access_token: SecretStr
    refresh_token: SecretStr | None
    expires_at: datetime | None
    scopes: tuple[str, ...] = ()

    def __repr__(self) -> str:  # never a token in a log line
        return f"OAuthTokens(expires_at={self.expires_at!r}, scopes={self.scopes!r})"


@dataclass(frozen=True, slots=True)
class AccessibleResource:
    id: str  # the cloudid
    url: str
    name: str


class JiraOAuth(Protocol):
    def authorize_url(self, *, state: str, redirect_uri: str) -> str: ...

    def exchange_code(self, code: str, *, redirect_uri: str, now: datetime) -> OAuthTokens: ...

    def refresh(self, refresh_token: str, *, now: datetime) -> OAuthTokens:
        """Raises OAuthInvalidGrant when the refresh token is refused (used, revoked)."""
        ...

    def api_base_url(self, access_token: str, site_url: str) -> str:
        """Where the person's REST calls go for the Jira site at `site_url`."""
        ...

    def revoke(self, token: str) -> bool:
        """Revoke where the provider offers it; False when it does not (Jira Cloud)."""
        ...


class AtlassianOAuth:
    """Jira Cloud 3LO. Thread-safe (one requests session per call)."""

    def __init__(
        self,
        *,
        client_id: str,
        client_secret: SecretStr,
        auth_url: str,
        api_url: str,
        timeout: float = 10.0,
        observer: CallObserver | None = None,
    ) -> None:
        self._client_id = client_id
        self._client_secret = client_secret
        self._auth_url = auth_url.rstrip("/")
        self._api_url = api_url.rstrip("/")
        self._timeout = timeout
        self._observer = observer or NullObserver()

    def __repr__(self) -> str:
        return f"AtlassianOAuth({self._auth_url!r}, {self._api_url!r})"

    def authorize_url(self, *, state: str, redirect_uri: str) -> str:
        query = urlencode(
            {
                "audience": CLOUD_AUDIENCE,
                "client_id": self._client_id,
                "scope": " ".join(CLOUD_SCOPES),
                "redirect_uri": redirect_uri,
                "state": state,
                "response_type": "code",
                "prompt": "consent",
            }
        )
        return f"{self._auth_url}/authorize?{query}"

    def exchange_code(self, code: str, *, redirect_uri: str, now: datetime) -> OAuthTokens:
        return self._token(
            {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri}, now
        )

    def refresh(self, refresh_token: str, *, now: datetime) -> OAuthTokens:
        return self._token({"grant_type": "refresh_token", "refresh_token": refresh_token}, now)

    def api_base_url(self, access_token: str, site_url: str) -> str:
        resources = self._accessible_resources(access_token)
        wanted = site_url.rstrip("/").casefold()
        for resource in resources:
            if resource.url.rstrip("/").casefold() == wanted:
                return f"{self._api_url}/ex/jira/{resource.id}"
        raise JiraAuthError(
            "Your Atlassian account did not grant access to this Jira site "
            f"({site_url}); pick it on the consent screen.",
            status=403,
        )

    def revoke(self, token: str) -> bool:
        return False  # Atlassian offers no revoke endpoint for 3LO apps

    # -- plumbing ---------------------------------------------------------------------------

    def _token(self, fields: dict[str, str], now: datetime) -> OAuthTokens:
        body = {
            **fields,
            "client_id": self._client_id,
            "client_secret": self._client_secret.get_secret_value(),
        }
        answer = observed(
            self._observer,
            "oauth_token",
            lambda: self._send("POST", f"{self._auth_url}/oauth/token", json_body=body),
        )
        return tokens_from(answer, now)

    def _accessible_resources(self, access_token: str) -> list[AccessibleResource]:
        answer = observed(
            self._observer,
            "oauth_resources",
            lambda: self._send(
                "GET",
                f"{self._api_url}/oauth/token/accessible-resources",
                headers={"Authorization": f"Bearer {access_token}"},
            ),
        )
        if not isinstance(answer, list):
            raise JiraUnavailable("Atlassian answered accessible-resources with something odd.")
        return [
            AccessibleResource(str(r.get("id", "")), str(r.get("url", "")), str(r.get("name", "")))
            for r in answer
            if isinstance(r, dict)
        ]

    def _send(
        self,
        method: str,
        url: str,
        *,
        json_body: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
    ) -> Any:
        try:
            response = requests.request(
                method, url, json=json_body, headers=headers, timeout=self._timeout
            )
        except requests.RequestException:
            raise JiraUnavailable("Atlassian's sign-in service is not reachable.") from None
        return answer_of(response)


def observed(observer: CallObserver, operation: str, call: Callable[[], Any]) -> Any:
    """`call()`, reported to /metrics as a Jira call (its outcome: "ok" or the error kind)."""
    started, outcome = time.monotonic(), "ok"
    try:
        return call()
    except JiraError as error:
        outcome = type(error).__name__
        raise
    finally:
        observer.record("jira", operation, outcome, time.monotonic() - started)


def answer_of(response: requests.Response) -> Any:
    """The JSON of a token-endpoint answer, or the error it stands for (never with a token)."""
    try:
        answer = response.json()
    except ValueError:
        answer = None
    if response.status_code >= 500 or response.status_code == 429:
        raise JiraUnavailable(
            f"Jira's sign-in service answered {response.status_code}.", status=response.status_code
        )
    if response.status_code >= 400:
        error = answer.get("error") if isinstance(answer, dict) else None
        if error in GRANT_ERRORS or (response.status_code == 401 and error is None):
            raise OAuthInvalidGrant(
                "Jira refused the sign-in grant (expired, used or revoked).",
                status=response.status_code,
            )
        raise JiraAuthError(
            f"Jira's sign-in service refused Connect ({error or response.status_code}); "
            "check JIRA_OAUTH_CLIENT_ID and JIRA_OAUTH_CLIENT_SECRET.",
            status=response.status_code,
        )
    return answer


def tokens_from(answer: Any, now: datetime) -> OAuthTokens:
    if not isinstance(answer, dict) or not answer.get("access_token"):
        raise JiraUnavailable("Jira's sign-in service answered without an access token.")
    expires_in = answer.get("expires_in")
    refresh = answer.get("refresh_token")
    return OAuthTokens(
        access_token=SecretStr(str(answer["access_token"])),
        refresh_token=SecretStr(str(refresh)) if refresh else None,
        expires_at=now + timedelta(seconds=int(expires_in)) if expires_in else None,
        scopes=tuple(str(answer.get("scope") or "").split()),
    )


class DataCenterOAuth:
    """Jira Data Center's own OAuth 2.0 provider (an incoming application link): authorize and
    token under `{JIRA_URL}/rest/oauth2/latest/`, scope WRITE, calls straight to the site."""

    def __init__(
        self,
        *,
        client_id: str,
        client_secret: SecretStr,
        site_url: str,
        timeout: float = 10.0,
        observer: CallObserver | None = None,
    ) -> None:
        self._client_id = client_id
        self._client_secret = client_secret
        self._site_url = site_url.rstrip("/")
        self._timeout = timeout
        self._observer = observer or NullObserver()

    def __repr__(self) -> str:
        return f"DataCenterOAuth({self._site_url!r})"

    def authorize_url(self, *, state: str, redirect_uri: str) -> str:
        query = urlencode(
            {
                "client_id": self._client_id,
                "redirect_uri": redirect_uri,
                "response_type": "code",
                "scope": DATA_CENTER_SCOPE,
                "state": state,
            }
        )
        return f"{self._site_url}/rest/oauth2/latest/authorize?{query}"

    def exchange_code(self, code: str, *, redirect_uri: str, now: datetime) -> OAuthTokens:
        return self._token(
            {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri}, now
        )

    def refresh(self, refresh_token: str, *, now: datetime) -> OAuthTokens:
        return self._token({"grant_type": "refresh_token", "refresh_token": refresh_token}, now)

    def api_base_url(self, access_token: str, site_url: str) -> str:
        return self._site_url

    def revoke(self, token: str) -> bool:
        return False  # people revoke in their Jira profile (OAuth 2.0 authorizations)

    def _token(self, fields: dict[str, str], now: datetime) -> OAuthTokens:
        body = {
            **fields,
            "client_id": self._client_id,
            "client_secret": self._client_secret.get_secret_value(),
        }

        def post() -> Any:
            try:
                response = requests.post(
                    f"{self._site_url}/rest/oauth2/latest/token", data=body, timeout=self._timeout
                )
            except requests.RequestException:
                raise JiraUnavailable("Jira's sign-in service is not reachable.") from None
            return answer_of(response)

        return tokens_from(observed(self._observer, "oauth_token", post), now)


DATA_CENTER_SCOPE = "WRITE"
