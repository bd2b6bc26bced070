"""JIRA_AUTH_MODE=user, connecting (SPEC §12): `/jira connect` → Jira's consent screen →
`/jira/oauth/callback` → "Connected as …", over HTTP against the fake Atlassian server."""

from __future__ import annotations

import pytest
import requests
from sqlalchemy import select

from models import JiraOAuthState, JiraUserToken
from tests.e2e.identity_site import (
    ENCRYPTION_KEY,
    IdentitySite,
    atlassian,
    button_url,
    site,
    state_of,
)

__all__ = ["atlassian", "site"]  # the fixtures


def test_connect_answers_only_the_person_with_a_button(site: IdentitySite) -> None:
    answer = site.ask("connect")
    assert answer["response_type"] == "ephemeral"
    url = button_url(answer)
    assert url.startswith("https://connect.example.test/jira/oauth/start?state=")
    assert site.ask("whoami")["text"].startswith("You have not connected a Jira account")


def test_connecting_stores_the_grant_and_says_who_you_are(site: IdentitySite) -> None:
    page = site.sign_in("U0ALICE")
    assert page.status_code == 200
    assert "Connected as Alice Adams; you can close this tab" in page.text
    assert page.headers["Cache-Control"] == "no-store"
    assert page.headers["Referrer-Policy"] == "no-referrer"
    assert "Connected as *Alice Adams* in Jira" in site.wait_for_dm("U0ALICE", "Connected as")
    assert "You are *Alice Adams* in Jira" in site.ask("whoami")["text"]
    metrics = requests.get(f"{site.connect.url}/metrics", timeout=10).text
    assert 'operation="oauth_token",outcome="ok",service="jira"' in metrics
    assert 'operation="oauth_resources",outcome="ok",service="jira"' in metrics

    grants = [t for t in site.atlassian.token_requests if t.grant_type == "authorization_code"]
    assert [(g.status, g.error) for g in grants] == [(200, None)]
    with site.connect.runtime.services.uow() as work:
        row = work.session.scalars(select(JiraUserToken)).one()
        stored = (row.access_token_encrypted, row.refresh_token_encrypted or "")
    # Stored encrypted: no token in the clear, and the key opens them.
    assert not any("fake-access-" in value or "fake-refresh-" in value for value in stored)
    from services.people.token_cipher import TokenCipher

    assert TokenCipher(ENCRYPTION_KEY).decrypt(stored[0]).startswith("fake-access-")


def test_a_forged_state_gets_a_plain_page_and_no_token_request(site: IdentitySite) -> None:
    forged = f"{site.connect.url}/jira/oauth/callback?code=abc&state=<script>alert(1)</script>"
    page = requests.get(forged, timeout=10)
    assert page.status_code == 400
    assert "This sign-in link is not valid" in page.text
    assert "<script>" not in page.text and "alert" not in page.text  # nothing reflected
    assert site.atlassian.token_requests == []

    start = requests.get(
        f"{site.connect.url}/jira/oauth/start?state=forged", allow_redirects=False, timeout=10
    )
    assert start.status_code == 400
    assert "forged" not in start.text


def test_a_state_is_good_once(site: IdentitySite) -> None:
    answer = site.ask("connect")
    first = site.follow_button(answer, "acc-alice")
    assert first.status_code == 200

    # The same callback URL again (a replay): refused before any token request.
    callback = first.url
    before = len(site.atlassian.token_requests)
    again = requests.get(callback, timeout=10)
    assert again.status_code == 400
    assert "already used" in again.text
    assert len(site.atlassian.token_requests) == before
    # And the start link is spent too.
    start = requests.get(site.local(button_url(answer)), allow_redirects=False, timeout=10)
    assert start.status_code == 400


def test_an_expired_state_is_refused(site: IdentitySite) -> None:
    from datetime import timedelta

    answer = site.ask("connect")
    runtime = site.connect.runtime
    now = runtime.clock()
    runtime.clock = lambda: now + timedelta(minutes=11)
    start = requests.get(site.local(button_url(answer)), allow_redirects=False, timeout=10)
    assert start.status_code == 400
    # The callback with that state (had the browser got that far) asks Jira for nothing.
    state = state_of(button_url(answer))
    page = requests.get(
        f"{site.connect.url}/jira/oauth/callback?code=whatever&state={state}", timeout=10
    )
    assert page.status_code == 400
    assert site.atlassian.token_requests == []
    with runtime.services.uow() as work:  # spent: no row left to replay
        assert work.session.get(JiraOAuthState, state) is None


def test_a_declined_consent_connects_nobody(site: IdentitySite) -> None:
    answer = site.ask("connect")
    state = state_of(button_url(answer))
    page = requests.get(
        f"{site.connect.url}/jira/oauth/callback?error=access_denied&state={state}", timeout=10
    )
    assert page.status_code == 400
    assert "did not grant access" in page.text
    assert site.atlassian.token_requests == []
    assert "not connected" in site.ask("whoami")["text"]


def test_disconnect_deletes_the_tokens(site: IdentitySite) -> None:
    site.sign_in("U0ALICE")
    answer = site.ask("disconnect")["text"]
    assert "deleted your Jira tokens" in answer
    assert "id.atlassian.com/manage-profile/apps" in answer  # Cloud has no revoke endpoint
    with site.connect.runtime.services.uow() as work:
        assert work.session.scalars(select(JiraUserToken)).all() == []
    assert "You had not connected" in site.ask("disconnect")["text"]
    # Acting now asks to connect again, with the button.
    again = site.ask("comment OPS-1 hello")
    assert "Connect your Jira account first" in again["text"]
    button_url(again)


@pytest.mark.parametrize(
    "query",
    [
        "",
        "state=",
        "code=&state=",
        "state=" + "A" * 10_000 + "&code=x",
        "state=%ff%fe%00&code=%ff",
        "state=a&state=b&code=c&code=d",
        "error=<b>x</b>&state=%0d%0aSet-Cookie:%20x=1",
        "code=x&state=" + "%22%3E%3Cscript%3E" * 50,
    ],
)
def test_hostile_callbacks_get_a_plain_400_and_write_nothing(
    site: IdentitySite, query: str
) -> None:
    for path in ("/jira/oauth/callback", "/jira/oauth/start"):
        page = requests.get(f"{site.connect.url}{path}?{query}", allow_redirects=False, timeout=10)
        assert page.status_code == 400, (path, page.status_code)
        assert page.headers["Content-Type"].startswith("text/html")
        assert (
            "script" not in page.text and "<b>" not in page.text and "Set-Cookie" not in page.text
        )
        assert "Set-Cookie" not in page.headers
    assert site.atlassian.token_requests == []
    with site.connect.runtime.services.uow() as work:
        assert work.session.scalars(select(JiraOAuthState)).all() == []
