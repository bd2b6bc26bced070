"""JIRA_AUTH_MODE=user on Jira Data Center (SPEC §12): its own OAuth 2.0 provider (scope
WRITE, calls straight to the site), or, without an OAuth client, a personal access token
pasted into a modal and checked with `myself`."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import select

from bot.settings import Settings
from models import JiraUserToken
from simulators.atlassian.data_center import FakeDataCenterOAuth
from simulators.atlassian.server import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET
from simulators.jira_site.server import DEFAULT_PAT, FakeJiraServer
from simulators.slack_workspace.server import FakeSlackServer
from tests.e2e.conftest import SIGNING_SECRET, WEBHOOK_SECRET, running_connect
from tests.e2e.identity_site import ENCRYPTION_KEY, PUBLIC_URL, IdentitySite, seed_slack
from tests.e2e.slack_events import block_action, card_button
from tests.e2e.test_create_issue import submission
from tests.waiting import wait_until


@pytest.fixture
def data_center() -> Iterator[FakeJiraServer]:
    with FakeJiraServer(deployment_type="Server") as server:
        yield server


def dc_settings(
    slack: FakeSlackServer, jira: FakeJiraServer, database: Path, *, oauth: bool
) -> Settings:
    client = (
        {
            "jira_oauth_client_id": DEFAULT_CLIENT_ID,
            "jira_oauth_client_secret": DEFAULT_CLIENT_SECRET,
        }
        if oauth
        else {}
    )
    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        slack_bot_token=slack.token,
        slack_signing_secret=SIGNING_SECRET,
        slack_api_url=slack.api_url,
        jira_url=jira.url,
        jira_pat=DEFAULT_PAT,
        jira_webhook_secret=WEBHOOK_SECRET,
        database_url=f"sqlite:///{database}",
        jira_retry_budget_seconds=1.0,
        jira_auth_mode="user",
        connect_public_url=PUBLIC_URL,
        connect_encryption_key=ENCRYPTION_KEY,
        **client,
    )


@pytest.fixture
def provider(data_center: FakeJiraServer) -> FakeDataCenterOAuth:
    found = FakeDataCenterOAuth(data_center)
    found.redirect_uris = {f"{PUBLIC_URL}/jira/oauth/callback"}
    return found


@pytest.fixture
def dc_site(
    fake_slack: FakeSlackServer,
    data_center: FakeJiraServer,
    provider: FakeDataCenterOAuth,
    tmp_path: Path,
) -> Iterator[IdentitySite]:
    seed_slack(fake_slack)
    settings = dc_settings(fake_slack, data_center, tmp_path / "connect.db", oauth=True)
    with running_connect(settings, fake_slack, data_center) as running:
        yield IdentitySite(running, provider)


@pytest.fixture
def pat_site(
    fake_slack: FakeSlackServer,
    data_center: FakeJiraServer,
    provider: FakeDataCenterOAuth,
    tmp_path: Path,
) -> Iterator[IdentitySite]:
    seed_slack(fake_slack)
    settings = dc_settings(fake_slack, data_center, tmp_path / "connect.db", oauth=False)
    with running_connect(settings, fake_slack, data_center) as running:
        yield IdentitySite(running, provider)


def test_data_center_oauth_connects_and_acts_as_the_person(dc_site: IdentitySite) -> None:
    answer = dc_site.ask("connect")
    browser = dc_site.atlassian.browser("acc-alice")
    start = browser.get(dc_site.local(_url(answer)), allow_redirects=False, timeout=10)
    consent = urlsplit(start.headers["Location"])
    assert consent.path == "/rest/oauth2/latest/authorize"  # on the Jira site itself
    assert parse_qs(consent.query)["scope"] == ["WRITE"]
    back = browser.get(start.headers["Location"], allow_redirects=False, timeout=10)
    page = browser.get(dc_site.local(back.headers["Location"]), timeout=10)
    assert "Connected as Alice Adams" in page.text

    assert "Added your comment" in dc_site.ask("comment OPS-1 Checked the logs.")["text"]
    comment = dc_site.jira.comments("OPS-1")[-1]
    assert comment.author is not None and comment.author.account_id == "acc-alice"
    # Straight to the site with her token (no gateway), Bearer.
    mine = [r for r in dc_site.connect.jira.requests if r.path.endswith("/comment")]
    assert mine and mine[-1].headers["Authorization"].startswith("Bearer fake-access-")

    dc_site.atlassian.expire_access_tokens()  # refreshed through /rest/oauth2/latest/token
    assert "OPS-2" in dc_site.ask("show OPS-2")["text"]
    refreshed = [t for t in dc_site.atlassian.token_requests if t.grant_type == "refresh_token"]
    assert [(t.status, t.error) for t in refreshed] == [(200, None)]
    disconnected = dc_site.ask("disconnect")["text"]
    assert "revoke its access in your Jira profile" in disconnected


def test_without_an_oauth_client_a_personal_token_connects(pat_site: IdentitySite) -> None:
    site = pat_site
    answer = site.ask("connect")
    assert "personal access token" in answer["text"]
    button = card_button(answer["blocks"], "jira_pat_open")
    response_url = site.connect.slack.response_url()
    payload = block_action(button, user="U0ALICE", response_url=response_url, ephemeral=True)
    site.connect.interact(payload)
    opened = site.connect.slack.wait_for("views.open")
    view = opened.params["view"]
    view = json.loads(view) if isinstance(view, str) else view
    assert view["callback_id"] == "jira_pat_submit"
    modal = wait_until(
        lambda: next(
            (
                v
                for v in site.connect.slack.views.by_id.values()
                if v.get("callback_id") == "jira_pat_submit"
            ),
            None,
        ),
        what="the token modal",
    )

    def submit(token: str, expect: str) -> dict[str, Any]:
        values = {"jira_pat": {"token": {"type": "plain_text_input", "value": token}}}
        acked = site.connect.interact(submission(modal, values)).json()
        assert acked["response_action"] == "update"  # "checking": Jira is asked after the ack
        return wait_until(
            lambda: next(
                (
                    v
                    for v in site.connect.slack.views.by_id.values()
                    if v["id"] == modal["id"] and expect in json.dumps(v["blocks"])
                ),
                None,
            ),
            what=f"the modal saying {expect!r}",
        )

    empty = site.connect.interact(submission(modal, {"jira_pat": {"token": {"value": ""}}}))
    assert empty.json()["response_action"] == "errors"
    again = submit("not-a-token", "Jira refused this token")
    assert again["callback_id"] == "jira_pat_submit"  # the form again, to paste another
    token = site.atlassian.add_personal_token("acc-alice")  # type: ignore[attr-defined]
    submit(token, "Connected as *Alice Adams*")
    assert "Connected as *Alice Adams*" in site.wait_for_dm("U0ALICE", "Connected as")
    assert "through a personal access token" in site.ask("whoami")["text"]
    with site.connect.runtime.services.uow() as work:
        stored = work.session.scalars(select(JiraUserToken.access_token_encrypted)).one()
    assert token not in stored

    site.ask("assign OPS-2 me")
    issue = site.jira.get_issue("OPS-2")
    assert issue.assignee is not None and issue.assignee.account_id == "acc-alice"
    assert {e.author.account_id for e in site.jira.history("OPS-2") if e.author} == {"acc-alice"}


def _url(answer: dict[str, Any]) -> str:
    from tests.e2e.identity_site import button_url

    return button_url(answer)
