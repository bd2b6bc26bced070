"""Jira Data Center's own OAuth 2.0 provider (an incoming application link), served by the
fake Jira site itself (`FakeJiraServer(deployment_type="Server")`):

    with FakeJiraServer(deployment_type="Server") as site:
        provider = FakeDataCenterOAuth(site)   # answers {site}/rest/oauth2/latest/…
        token = provider.add_personal_token("acc-alice")

- `GET|POST /rest/oauth2/latest/authorize` (client_id, redirect_uri, response_type=code,
  scope including WRITE, state): as Atlassian's, a signed-in browser is sent straight back.
- `POST /rest/oauth2/latest/token`: authorization_code and refresh_token grants, parameters
  in the query string or the form body; refresh tokens rotate, an old one is `invalid_grant`.
- Bearer access tokens and personal access tokens (`add_personal_token`) act on the site's
  REST API as their owner, with their permissions.
"""

from __future__ import annotations

import secrets
from typing import Any
from urllib.parse import parse_qsl, unquote

from simulators.atlassian.server import (
    DEFAULT_CLIENT_ID,
    DEFAULT_CLIENT_SECRET,
    Answer,
    FakeAtlassian,
    authorize_answer,
    form_or_json,
)
from simulators.jira_site.server import FakeJiraServer

PREFIX = "/rest/oauth2/latest/"


class FakeDataCenterOAuth(FakeAtlassian):
    always_refresh = True

    def __init__(
        self,
        site: FakeJiraServer,
        *,
        client_id: str = DEFAULT_CLIENT_ID,
        client_secret: str = DEFAULT_CLIENT_SECRET,
        **options: Any,
    ) -> None:
        super().__init__(site, client_id=client_id, client_secret=client_secret, **options)
        self.personal_tokens: dict[str, str] = {}  # token -> account id
        site.people = self

    @property
    def url(self) -> str:
        return self.site.url

    def start(self) -> FakeDataCenterOAuth:
        return self  # served by the site

    def add_personal_token(self, account_id: str) -> str:
        """A personal access token of `account_id`, as Jira's profile page makes one."""
        token = "fake-dc-pat-" + secrets.token_urlsafe(18)
        self.personal_tokens[token] = account_id
        return token

    def authorize_problem(self, params: dict[str, str]) -> str | None:
        if params.get("client_id") != self.client_id:
            return "Unknown client_id."
        if params.get("response_type") != "code":
            return "response_type must be code."
        if not params.get("state"):
            return "state is required."
        redirect = params.get("redirect_uri", "")
        if not redirect or (self.redirect_uris and redirect not in self.redirect_uris):
            return "redirect_uri does not match the application link."
        if "WRITE" not in params.get("scope", "").split():
            return "scope must include WRITE."
        return None

    def provider_answer(
        self, method: str, raw_path: str, query: str, headers: dict[str, str], raw: str
    ) -> Answer | None:
        """The provider's own resources; None for the rest of the site."""
        path = unquote(raw_path)
        if path == PREFIX + "authorize":
            return authorize_answer(self, method, query, raw, headers, PREFIX + "authorize")
        if path == PREFIX + "token" and method == "POST":
            return Answer(*self.token({**dict(parse_qsl(query)), **form_or_json(raw)}))
        return None

    def person_for(self, authorization: str) -> str | None:
        """The account behind a Bearer access token or personal access token, or None."""
        token = authorization.removeprefix("Bearer ").strip()
        if not authorization.startswith("Bearer ") or not token:
            return None
        return self.personal_tokens.get(token) or self.account_for(authorization)
