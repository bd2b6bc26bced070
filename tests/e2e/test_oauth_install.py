"""Multi-workspace mode: the whole OAuth install against the fake Slack, then serving that
workspace with the installed (and encrypted at rest) bot token, then uninstalling."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote_from_bytes, urlparse

import pytest
import requests
from cryptography.fernet import Fernet
from hypothesis import HealthCheck, example, given
from hypothesis import settings as fuzz_settings
from sqlalchemy import func, select

from bot.settings import Settings
from clients.slack_teams import team_scope
from models import Base, JiraSlackLink, SlackInstallation, utcnow
from services.issues.links import MessageRef
from services.people.token_cipher import TokenCipher
from simulators.jira_site.server import DEFAULT_API_TOKEN, DEFAULT_EMAIL, FakeJiraServer
from simulators.jira_site.webhooks import JiraWebhookEmitter
from simulators.slack_workspace.server import FakeSlackServer
from tests.e2e.conftest import SIGNING_SECRET, WEBHOOK_SECRET, RunningConnect, running_connect
from tests.e2e.test_commands import wait_for_response
from tests.e2e.test_hostile_http import header_bytes, raw
from tests.e2e.test_jira_webhooks import wait_for_replies
from tests.fakes.slack_requests import slash_command_body
from tests.waiting import wait_until

CLIENT_ID = "1111.2222"
CLIENT_SECRET = "oauth-client-secret"
INSTALLED_TOKEN = "xoxb-installed-token"
KEY = Fernet.generate_key().decode()


@pytest.fixture
def oauth_connect(
    fake_slack: FakeSlackServer, fake_jira: FakeJiraServer, tmp_path: Path
) -> Iterator[RunningConnect]:
    yield from oauth_mode(fake_slack, fake_jira, tmp_path)


def oauth_mode(
    fake_slack: FakeSlackServer, fake_jira: FakeJiraServer, tmp_path: Path, **extra: Any
) -> Iterator[RunningConnect]:
    fake_slack.api.client_id, fake_slack.api.client_secret = CLIENT_ID, CLIENT_SECRET
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        slack_client_id=CLIENT_ID,
        slack_client_secret=CLIENT_SECRET,
        connect_encryption_key=KEY,
        slack_signing_secret=SIGNING_SECRET,
        slack_api_url=fake_slack.api_url,
        jira_url=fake_jira.url,
        jira_email=DEFAULT_EMAIL,
        jira_api_token=DEFAULT_API_TOKEN,
        jira_webhook_secret=WEBHOOK_SECRET,
        database_url=f"sqlite:///{tmp_path / 'connect.db'}",
        **extra,
    )
    with running_connect(settings, fake_slack, fake_jira) as running:
        yield running


def install(connect: RunningConnect) -> requests.Response:
    """What a workspace admin does: open /slack/install, approve at Slack, come back."""
    state, cookie = start_install(connect)
    return finish_install(connect, state, cookie)


def finish_install(
    connect: RunningConnect, state: str, cookie: str, code: str = "code-from-slack"
) -> requests.Response:
    return requests.get(
        f"{connect.url}/slack/oauth_redirect",
        params={"code": code, "state": state},
        headers={"Cookie": cookie},
        timeout=10,
    )


def start_install(connect: RunningConnect) -> tuple[str, str]:
    """/slack/install's page: the state Slack is sent with, and the browser's cookie."""
    session = requests.Session()
    page = session.get(f"{connect.url}/slack/install", timeout=10)
    assert page.status_code == 200
    authorize_url = next(
        part.split('"')[0]
        for part in page.text.split('href="')[1:]
        if part.startswith("https://slack.com/oauth/v2/authorize")
    ).replace("&amp;", "&")
    query = parse_qs(urlparse(authorize_url).query)
    assert query["client_id"] == [CLIENT_ID]
    assert "chat:write" in query["scope"][0].split(",")
    # Slack sends the browser back with a code and the same state, and the browser brings the
    # state cookie (marked Secure: requests keeps it off plain http, so it is sent by hand).
    cookie = page.headers["Set-Cookie"].split(";")[0]
    assert cookie.endswith("=" + query["state"][0])
    return query["state"][0], cookie


def team_of(connect: RunningConnect) -> str:
    return connect.slack.slack.team_id


def slash(connect: RunningConnect, text: str, team: str) -> tuple[requests.Response, str]:
    response_url = connect.slack.response_url()
    body = slash_command_body(text, response_url=response_url, team=team)
    return connect.post_slack(body), response_url


def installations(connect: RunningConnect) -> list[SlackInstallation]:
    with connect.runtime.services.uow() as work:
        rows = list(work.session.scalars(select(SlackInstallation)))
        work.session.expunge_all()
        return rows


def test_install_stores_the_token_encrypted_and_the_workspace_is_served_with_it(
    oauth_connect: RunningConnect,
) -> None:
    connect = oauth_connect
    slack = connect.slack.slack
    slack.add_user("U0ALICE", "alice", real_name="Alice Adams", email="alice@example.com")
    slack.add_channel("C0GENERAL", "general", members=["U0ALICE"])

    finished = install(connect)
    assert finished.status_code == 200
    (exchange,) = connect.slack.calls_to("oauth.v2.access")
    assert exchange.params["code"] == "code-from-slack"

    (row,) = installations(connect)
    assert row.team_id == team_of(connect)
    assert row.bot_user_id == slack.bot_user_id
    assert INSTALLED_TOKEN not in row.bot_token_encrypted
    assert TokenCipher(KEY).decrypt(row.bot_token_encrypted) == INSTALLED_TOKEN
    assert "bot_token_encrypted" not in row.to_dict()

    # A command from that workspace: Connect looks Alice up with the installed token.
    response, response_url = slash(connect, "connect", team_of(connect))
    assert response.status_code == 200
    assert "You are *Alice Adams* in Jira" in wait_for_response(connect, response_url)["text"]
    lookups = connect.slack.calls_to("users.info")
    assert lookups and {call.token for call in lookups} == {INSTALLED_TOKEN}

    # A modal opened by Bolt's own client carries the installed token too.
    connect.slack.reset_calls()
    response, _ = slash(connect, "create OPS", team_of(connect))
    assert response.status_code == 200
    opened = connect.slack.wait_for("views.open")
    assert opened.token == INSTALLED_TOKEN

    # The worker posts Jira's news into the workspace's thread with the workspace's token.
    parent = slack.add_message("C0GENERAL", "login is broken", user="U0ALICE")
    with team_scope(team_of(connect)):
        connect.runtime.services.links.link_message(
            MessageRef(team_of(connect), "C0GENERAL", parent.ts), "U0ALICE", "OPS-2"
        )
    connect.slack.reset_calls()
    emitter: JiraWebhookEmitter = connect.emit_jira_webhooks()
    try:
        with connect.jira.jira.act_as("bob@example.com"):
            connect.jira.jira.transition_issue("OPS-2", "11")
        emitter.flush()
        (reply,) = wait_for_replies(connect, "C0GENERAL", parent.ts, 1)
    finally:
        emitter.stop()
    assert "In Progress" in reply.text
    posts = [
        call for call in connect.slack.calls_to("chat.postMessage") if call.params.get("thread_ts")
    ]
    assert posts and {call.token for call in posts} == {INSTALLED_TOKEN}


def test_a_forged_or_replayed_state_installs_nothing(oauth_connect: RunningConnect) -> None:
    connect = oauth_connect
    forged = requests.get(
        f"{connect.url}/slack/oauth_redirect",
        params={"code": "code-from-slack", "state": "not-a-state-we-issued"},
        timeout=10,
    )
    assert 400 <= forged.status_code < 500
    assert connect.slack.calls_to("oauth.v2.access") == []
    assert installations(connect) == []

    state, cookie = start_install(connect)
    assert finish_install(connect, state, cookie).status_code == 200
    replayed = finish_install(connect, state, cookie, code="another-code")
    assert 400 <= replayed.status_code < 500
    assert len(connect.slack.calls_to("oauth.v2.access")) == 1

    expires, nonce, mac = start_install(connect)[0].split(".")
    for forged in (f"{int(expires) + 86400}.{nonce}.{mac}", f"{expires}.{nonce}.{mac[::-1]}"):
        answer = finish_install(connect, forged, f"slack-app-oauth-state={forged}")
        assert 400 <= answer.status_code < 500
    assert len(connect.slack.calls_to("oauth.v2.access")) == 1


def table_rows(connect: RunningConnect) -> int:
    with connect.runtime.services.uow() as work:
        return sum(
            int(work.session.scalar(select(func.count()).select_from(table)) or 0)
            for table in Base.metadata.sorted_tables
        )


def test_opening_the_install_page_writes_nothing(
    fake_slack: FakeSlackServer, fake_jira: FakeJiraServer, tmp_path: Path
) -> None:
    # No poller: it would write its cursor while this counts rows.
    for connect in oauth_mode(fake_slack, fake_jira, tmp_path, connect_poll_interval=0):
        opening_the_install_page_writes_nothing(connect)


def opening_the_install_page_writes_nothing(connect: RunningConnect) -> None:
    before = table_rows(connect)
    states = {start_install(connect)[0] for _ in range(50)}
    assert len(states) == 50
    assert table_rows(connect) == before
    # A state that was handed out but never came back with a code Slack accepted writes
    # nothing either.
    for state in list(states)[:10]:
        answer = finish_install(connect, state, f"slack-app-oauth-state={state}", code="")
        assert 400 <= answer.status_code < 500
    connect.slack.set_oauth_answer({"ok": False, "error": "invalid_code"})
    state = states.pop()
    assert 400 <= finish_install(connect, state, f"slack-app-oauth-state={state}").status_code < 500
    assert table_rows(connect) == before


def test_a_state_past_its_ten_minutes_is_refused(oauth_connect: RunningConnect) -> None:
    connect = oauth_connect
    state, cookie = start_install(connect)
    connect.runtime.clock = lambda: utcnow() + timedelta(minutes=11)
    assert 400 <= finish_install(connect, state, cookie).status_code < 500
    assert connect.slack.calls_to("oauth.v2.access") == []
    assert installations(connect) == []


def test_a_workspace_outside_slack_allowed_teams_is_refused_and_its_token_revoked(
    fake_slack: FakeSlackServer, fake_jira: FakeJiraServer, tmp_path: Path
) -> None:
    for connect in oauth_mode(fake_slack, fake_jira, tmp_path, slack_allowed_teams="T0ELSEWHERE"):
        finished = install(connect)
        assert finished.status_code == 403
        assert "can't be installed in this workspace" in finished.text
        assert "SLACK_ALLOWED_TEAMS" in finished.text
        assert installations(connect) == []
        (revoke,) = connect.slack.calls_to("auth.revoke")
        assert revoke.token == INSTALLED_TOKEN
        assert INSTALLED_TOKEN not in connect.slack.api.tokens
        # Its requests are acknowledged and ignored: no answer, no Slack call.
        connect.slack.reset_calls()
        response, response_url = slash(connect, "help", team_of(connect))
        assert response.status_code == 200 and response.text == ""
        assert connect.slack.responses(response_url) == []


def test_an_allowed_workspace_or_enterprise_installs_and_is_served(
    fake_slack: FakeSlackServer, fake_jira: FakeJiraServer, tmp_path: Path
) -> None:
    team = fake_slack.slack.team_id
    allowed = f"T0ELSEWHERE,{team}"
    for connect in oauth_mode(fake_slack, fake_jira, tmp_path, slack_allowed_teams=allowed):
        assert install(connect).status_code == 200
        assert [row.team_id for row in installations(connect)] == [team]
        assert connect.slack.calls_to("auth.revoke") == []
        response, _ = slash(connect, "help", team)
        assert "/jira help" in response.json()["text"]
        # Another workspace's request (signed by Slack: Connect was installed there before
        # the list was set) is ignored.
        # (Bolt's "please reinstall" would be posted before the ack: nothing is.)
        response, response_url = slash(connect, "help", "T0FORMER")
        assert response.status_code == 200 and response.text == ""
        assert connect.slack.responses(response_url) == []


def test_an_enterprise_id_admits_its_org_wide_install(
    fake_slack: FakeSlackServer, fake_jira: FakeJiraServer, tmp_path: Path
) -> None:
    answer = fake_slack.api.default_oauth_answer() | {
        "access_token": "xoxb-grid-token",
        "team": None,
        "enterprise": {"id": "E0GRID", "name": "Grid"},
        "is_enterprise_install": True,
    }
    for connect in oauth_mode(fake_slack, fake_jira, tmp_path, slack_allowed_teams="E0GRID"):
        connect.slack.set_oauth_answer(answer)
        assert install(connect).status_code == 200
        assert [row.enterprise_id for row in installations(connect)] == ["E0GRID"]


def test_a_refused_code_is_a_clear_failure_page(oauth_connect: RunningConnect) -> None:
    connect = oauth_connect
    connect.slack.set_oauth_answer({"ok": False, "error": "invalid_code"})
    finished = install(connect)
    assert 400 <= finished.status_code < 500
    assert installations(connect) == []


def test_a_workspace_without_an_installation_is_told_to_reinstall(
    oauth_connect: RunningConnect,
) -> None:
    connect = oauth_connect
    response, response_url = slash(connect, "help", "T0STRANGER")
    assert response.status_code == 200
    assert "reinstall" in wait_for_response(connect, response_url)["text"].lower()
    assert [call for call in connect.slack.calls if call.token] == []


def event_body(team: str, event: dict[str, object], event_id: str) -> bytes:
    return json.dumps(
        {
            "token": "deprecated",
            "team_id": team,
            "api_app_id": "A0CONNECT",
            "type": "event_callback",
            "event_id": event_id,
            "event_time": int(time.time()),
            "event": event,
        }
    ).encode()


def test_uninstalling_forgets_the_workspace_and_what_connect_kept_for_it(
    oauth_connect: RunningConnect,
) -> None:
    connect = oauth_connect
    team = team_of(connect)
    assert install(connect).status_code == 200
    parent = connect.slack.slack.add_message("C0GENERAL", "thread", user="U0ALICE")
    with team_scope(team):
        connect.runtime.services.links.link_message(
            MessageRef(team, "C0GENERAL", parent.ts), "U0ALICE", "OPS-2"
        )
    # Another workspace's rows are not touched.
    with connect.runtime.services.uow() as work:
        work.session.add(
            JiraSlackLink(
                team_id="T0OTHER",
                issue_id="10002",
                issue_key="OPS-2",
                channel_id="C0ELSEWHERE",
                message_ts="1.000001",
                created_by="U0BOB",
            )
        )
        work.commit()

    response = connect.post_slack(
        event_body(team, {"type": "app_uninstalled"}, "Ev0UNINSTALL"),
        content_type="application/json",
    )
    assert response.status_code == 200
    wait_until(lambda: installations(connect) == [])
    with connect.runtime.services.uow() as work:
        teams = {link.team_id for link in work.session.scalars(select(JiraSlackLink))}
    assert teams == {"T0OTHER"}

    response, response_url = slash(connect, "help", team)
    assert "reinstall" in wait_for_response(connect, response_url)["text"].lower()


def test_revoked_bot_tokens_remove_the_installation(oauth_connect: RunningConnect) -> None:
    connect = oauth_connect
    team = team_of(connect)
    assert install(connect).status_code == 200
    revoked = {"type": "tokens_revoked", "tokens": {"oauth": [], "bot": ["UCONNECTBOT"]}}
    response = connect.post_slack(
        event_body(team, revoked, "Ev0REVOKED"), content_type="application/json"
    )
    assert response.status_code == 200
    wait_until(lambda: installations(connect) == [])

    # Reinstalling brings the workspace back.
    assert install(connect).status_code == 200
    assert [row.team_id for row in installations(connect)] == [team]


@fuzz_settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(state=header_bytes, cookie=header_bytes)
@example(state="é".encode(), cookie="slack-app-oauth-state=é".encode())
def test_fuzzed_callbacks_are_refused_and_write_nothing(
    oauth_connect: RunningConnect, state: bytes, cookie: bytes
) -> None:
    connect = oauth_connect
    path = "/slack/oauth_redirect?code=c&state=" + quote_from_bytes(state)
    status, _ = raw(connect, "GET", path, [("Cookie", cookie)])
    assert 400 <= status < 500
    assert connect.slack.calls_to("oauth.v2.access") == []
    assert installations(connect) == []


@pytest.mark.parametrize(("allowed", "warned"), [("", True), ("T0CONNECT", False)])
def test_start_up_warns_when_any_workspace_may_install(
    fake_slack: FakeSlackServer,
    fake_jira: FakeJiraServer,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    allowed: str,
    warned: bool,
) -> None:
    with caplog.at_level(logging.WARNING, logger="connect"):
        for _ in oauth_mode(fake_slack, fake_jira, tmp_path, slack_allowed_teams=allowed):
            pass
    warnings = [r.getMessage() for r in caplog.records if "SLACK_ALLOWED_TEAMS" in r.getMessage()]
    assert bool(warnings) == warned
