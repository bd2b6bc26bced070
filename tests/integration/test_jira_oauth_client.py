"""clients/jira_oauth.py against the fake Atlassian server over HTTP: the consent URL, the
grants, and each failure as the error Connect shows (never with a token or secret in it)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from pydantic import SecretStr

from clients.jira_client import JiraAuthError, JiraUnavailable
from clients.jira_oauth import AtlassianOAuth, OAuthInvalidGrant
from simulators.atlassian.server import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, FakeAtlassian
from simulators.jira_site.server import FakeJiraServer

NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
CALLBACK = "https://connect.example.test/jira/oauth/callback"


@pytest.fixture
def atlassian() -> Iterator[FakeAtlassian]:
    with FakeJiraServer() as site, FakeAtlassian(site) as server:
        yield server


def client_for(server: FakeAtlassian, secret: str = DEFAULT_CLIENT_SECRET) -> AtlassianOAuth:
    return AtlassianOAuth(
        client_id=DEFAULT_CLIENT_ID,
        client_secret=SecretStr(secret),
        auth_url=server.url,
        api_url=server.url,
        timeout=5,
    )


def code_for(server: FakeAtlassian, oauth: AtlassianOAuth, account: str = "acc-alice") -> str:
    url = oauth.authorize_url(state="s1", redirect_uri=CALLBACK)
    answer = server.browser(account).get(url, allow_redirects=False, timeout=5)
    return parse_qs(urlsplit(answer.headers["Location"]).query)["code"][0]


def test_the_consent_url_asks_what_spec_names(atlassian: FakeAtlassian) -> None:
    url = urlsplit(client_for(atlassian).authorize_url(state="abc", redirect_uri=CALLBACK))
    query = {k: v[0] for k, v in parse_qs(url.query).items()}
    assert url.path == "/authorize"
    assert query["audience"] == "api.atlassian.com" and query["prompt"] == "consent"
    assert query["scope"] == "read:jira-work write:jira-work read:jira-user offline_access"
    assert (query["state"], query["redirect_uri"], query["response_type"]) == (
        "abc",
        CALLBACK,
        "code",
    )


def test_a_code_becomes_tokens_once_and_the_site_is_found(atlassian: FakeAtlassian) -> None:
    oauth = client_for(atlassian)
    code = code_for(atlassian, oauth)
    tokens = oauth.exchange_code(code, redirect_uri=CALLBACK, now=NOW)
    assert tokens.refresh_token is not None and tokens.expires_at is not None
    assert "fake-" not in repr(tokens)
    base = oauth.api_base_url(tokens.access_token.get_secret_value(), atlassian.site.url + "/")
    assert base == f"{atlassian.url}/ex/jira/{atlassian.cloud_id}"
    with pytest.raises(OAuthInvalidGrant):  # a code is good once
        oauth.exchange_code(code, redirect_uri=CALLBACK, now=NOW)


def test_refresh_rotates_and_an_old_refresh_token_is_refused(atlassian: FakeAtlassian) -> None:
    oauth = client_for(atlassian)
    first = oauth.exchange_code(code_for(atlassian, oauth), redirect_uri=CALLBACK, now=NOW)
    assert first.refresh_token is not None
    second = oauth.refresh(first.refresh_token.get_secret_value(), now=NOW)
    assert second.refresh_token is not None
    assert second.refresh_token.get_secret_value() != first.refresh_token.get_secret_value()
    with pytest.raises(OAuthInvalidGrant) as refused:
        oauth.refresh(first.refresh_token.get_secret_value(), now=NOW)
    assert "fake-refresh" not in str(refused.value)


def test_a_wrong_client_secret_names_the_settings_not_the_secret(
    atlassian: FakeAtlassian,
) -> None:
    oauth = client_for(atlassian, secret="wrong-secret-value")
    code = code_for(atlassian, oauth)
    with pytest.raises(JiraAuthError, match="JIRA_OAUTH_CLIENT_SECRET") as refused:
        oauth.exchange_code(code, redirect_uri=CALLBACK, now=NOW)
    assert "wrong-secret-value" not in str(refused.value)
    assert not isinstance(refused.value, OAuthInvalidGrant)  # not the person's grant at fault
    answer = requests.post(f"{atlassian.url}/oauth/token", json={"grant_type": "x"}, timeout=5)
    assert answer.status_code == 401


def test_a_site_the_grant_does_not_cover_is_refused(atlassian: FakeAtlassian) -> None:
    oauth = client_for(atlassian)
    tokens = oauth.exchange_code(code_for(atlassian, oauth), redirect_uri=CALLBACK, now=NOW)
    with pytest.raises(JiraAuthError, match="did not grant access to this Jira site"):
        oauth.api_base_url(tokens.access_token.get_secret_value(), "https://other.example")


def test_atlassian_unreachable_is_an_outage(atlassian: FakeAtlassian) -> None:
    oauth = client_for(atlassian)
    atlassian.stop()
    with pytest.raises(JiraUnavailable):
        oauth.refresh("anything", now=NOW)
