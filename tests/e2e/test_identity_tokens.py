"""JIRA_AUTH_MODE=user, the tokens (SPEC §12): access tokens kept until shortly before they
expire, refresh tokens that rotate, two workers refreshing one grant, a revoked grant, the
uninstall, re-encryption, and no token in any log line."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
import requests
from cryptography.fernet import Fernet
from sqlalchemy import Engine, select

from bot.container import build_identity
from bot.database import create_db_engine, session_factory, upgrade
from bot.metrics import Metrics
from models import JiraUserToken, utcnow
from services.people.jira_identity import JiraIdentity
from services.people.token_cipher import TokenCipher
from services.unit_of_work import UnitOfWork, UnitOfWorkFactory
from simulators.atlassian.server import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, FakeAtlassian
from simulators.jira_site.server import FakeJiraServer
from simulators.slack_workspace.server import FakeSlackServer
from tests.e2e.conftest import running_connect
from tests.e2e.identity_site import (
    ENCRYPTION_KEY,
    IdentitySite,
    atlassian,
    button_url,
    seed_slack,
    site,
    user_mode_settings,
)
from tests.e2e.slack_events import send_event
from tests.e2e.test_cli import clean_env, run_bot
from tests.waiting import wait_until

__all__ = ["atlassian", "site"]  # the fixtures


def refreshes(site_or_atlassian: IdentitySite | FakeAtlassian) -> list[tuple[int, str | None]]:
    server = (
        site_or_atlassian
        if isinstance(site_or_atlassian, FakeAtlassian)
        else site_or_atlassian.atlassian
    )
    return [(t.status, t.error) for t in server.token_requests if t.grant_type == "refresh_token"]


def stored_refresh_token(site: IdentitySite, user: str = "U0ALICE") -> str:
    with site.connect.runtime.services.uow() as work:
        row = work.session.scalars(
            select(JiraUserToken).where(JiraUserToken.slack_user_id == user)
        ).one()
        return TokenCipher(ENCRYPTION_KEY).decrypt(row.refresh_token_encrypted or "")


def test_an_expired_access_token_is_refreshed_once_and_the_refresh_token_rotates(
    site: IdentitySite,
) -> None:
    site.sign_in("U0ALICE")
    first = stored_refresh_token(site)
    assert "OPS-1" in site.ask("show OPS-1")["text"]
    assert refreshes(site) == []  # the access token from the sign-in is kept and used

    site.atlassian.expire_access_tokens()  # Jira refuses it now (401): refreshed, retried
    assert "OPS-1" in site.ask("show OPS-1")["text"]
    assert "OPS-2" in site.ask("show OPS-2")["text"]
    assert refreshes(site) == [(200, None)]
    second = stored_refresh_token(site)
    assert second != first
    # The one it replaced is spent: Atlassian refuses it from now on.
    reuse = requests.post(
        f"{site.atlassian.url}/oauth/token",
        json={
            "grant_type": "refresh_token",
            "refresh_token": first,
            "client_id": DEFAULT_CLIENT_ID,
            "client_secret": DEFAULT_CLIENT_SECRET,
        },
        timeout=10,
    )
    assert reuse.status_code == 403 and reuse.json()["error"] == "invalid_grant"


def test_an_access_token_is_refreshed_shortly_before_it_expires(site: IdentitySite) -> None:
    site.sign_in("U0ALICE")
    runtime = site.connect.runtime
    now = runtime.clock()
    runtime.clock = lambda: now + timedelta(minutes=59)  # the token has an hour; 1 min left
    assert "OPS-1" in site.ask("show OPS-1")["text"]
    assert refreshes(site) == [(200, None)]  # before Jira refused anything
    assert all(call.status == 200 for call in site.atlassian.gateway_calls)


def test_a_revoked_grant_asks_that_person_once_and_nobody_else(site: IdentitySite) -> None:
    site.sign_in("U0ALICE")
    site.sign_in("U0BOB")
    site.atlassian.revoke("acc-alice")  # Alice removed Connect from her Atlassian account

    refused = site.ask("show OPS-1")
    assert "expired or was revoked" in refused["text"]
    button_url(refused)  # with the button to connect again
    site.wait_for_dm("U0ALICE", "expired or was revoked")
    again = site.ask("comment OPS-1 still there?")
    assert "Connect your Jira account first" in again["text"]
    assert site.jira.comments("OPS-1") == []
    told = [t for t in site.dms("U0ALICE") if "expired or was revoked" in t]
    assert len(told) == 1  # asked once
    with site.connect.runtime.services.uow() as work:
        people = work.session.scalars(select(JiraUserToken.slack_user_id)).all()
    assert people == ["U0BOB"]

    assert "OPS-1" in site.ask("show OPS-1", user="U0BOB")["text"]  # Bob is untouched
    assert not [t for t in site.dms("U0BOB") if "revoked" in t]


def test_uninstalling_deletes_every_persons_tokens(site: IdentitySite) -> None:
    site.sign_in("U0ALICE")
    site.sign_in("U0BOB")
    send_event(site.connect, {"type": "app_uninstalled"})

    def left() -> int:
        with site.connect.runtime.services.uow() as work:
            return len(work.session.scalars(select(JiraUserToken)).all())

    wait_until(lambda: left() == 0, what="the tokens to be deleted")


def test_db_reencrypt_covers_peoples_jira_tokens(site: IdentitySite, tmp_path: Path) -> None:
    site.sign_in("U0ALICE")
    new = Fernet.generate_key().decode()
    url = site.connect.runtime.settings.database_url
    env = clean_env(tmp_path, DATABASE_URL=url, CONNECT_ENCRYPTION_KEY=f"{new},{ENCRYPTION_KEY}")
    result = run_bot("db", "reencrypt", env=env, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "1 person(s)' Jira grant(s)" in result.stdout
    with site.connect.runtime.services.uow() as work:
        row = work.session.scalars(select(JiraUserToken)).one()
        assert TokenCipher(new).decrypt(row.access_token_encrypted).startswith("fake-access-")
        assert (
            TokenCipher(new).decrypt(row.refresh_token_encrypted or "").startswith("fake-refresh-")
        )


def test_no_token_reaches_a_log_line(site: IdentitySite, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    site.sign_in("U0ALICE")
    site.atlassian.expire_access_tokens()
    site.ask("show OPS-1")
    site.atlassian.revoke("acc-alice")
    site.ask("show OPS-2")
    text = "\n".join(f"{r.getMessage()} {r.args!r}" for r in caplog.records)
    assert "fake-access-" not in text and "fake-refresh-" not in text
    assert refreshes(site)  # the refresh did happen, and was not logged with its token


# -- two workers, one grant ---------------------------------------------------------------


@pytest.fixture(params=["sqlite", "postgres"])
def shared_database(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'shared.db'}"
    url = str(request.getfixturevalue("postgres_url"))
    engine = create_db_engine(url)
    upgrade(engine)
    engine.dispose()
    return url


@pytest.fixture
def shared_site(
    fake_slack: FakeSlackServer,
    fake_jira: FakeJiraServer,
    atlassian: FakeAtlassian,
    shared_database: str,
) -> Iterator[IdentitySite]:
    seed_slack(fake_slack)
    settings = user_mode_settings(fake_slack, fake_jira, atlassian, shared_database)
    with running_connect(settings, fake_slack, fake_jira) as running:
        yield IdentitySite(running, atlassian)


def unit_of_work_on(engine: Engine) -> UnitOfWorkFactory:
    sessions = session_factory(engine)
    return lambda: UnitOfWork(sessions)


def race(workers: list[JiraIdentity], threads: int) -> tuple[list[str], list[BaseException]]:
    """`threads` threads, spread over the workers, each reading OPS-1 as Alice at once."""
    start = threading.Barrier(threads)
    answers: list[str] = []
    failures: list[BaseException] = []

    def act(worker: JiraIdentity) -> None:
        start.wait(10)
        try:
            answers.append(worker.client_for("T0TEAM", "U0ALICE").get_issue("OPS-1").key)
        except BaseException as error:  # collected for the assertion
            failures.append(error)

    running = [
        threading.Thread(target=act, args=(workers[i % len(workers)],)) for i in range(threads)
    ]
    for thread in running:
        thread.start()
    for thread in running:
        thread.join(30)
    return answers, failures


def test_two_workers_refresh_one_grant_once_and_keep_the_chain(shared_site: IdentitySite) -> None:
    """Two processes' worth of JiraIdentity (each its own engine, pool and memory) and four
    threads each, all needing Alice's expired token at once: one refresh per expiry, the
    rotated refresh token stored, never an old one spent again."""
    site = shared_site
    site.sign_in("U0ALICE")
    settings = site.connect.runtime.settings
    engines = [create_db_engine(settings.database_url) for _ in range(2)]
    workers = [
        build_identity(
            settings, unit_of_work_on(engine), site.connect.runtime.slack, Metrics(), utcnow
        )
        for engine in engines
    ]
    try:
        for round_number in range(1, 4):
            site.atlassian.expire_access_tokens()
            answers, failures = race(workers, 8)
            assert failures == []
            assert answers == ["OPS-1"] * 8
            assert refreshes(site) == [(200, None)] * round_number
    finally:
        for engine in engines:
            engine.dispose()
    assert "OPS-1" in site.ask("show OPS-1")["text"]  # the running app has the chain too
