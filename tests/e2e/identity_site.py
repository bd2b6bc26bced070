"""Connect in JIRA_AUTH_MODE=user against the fake Jira Cloud site behind the fake Atlassian
authorization server and API gateway, and a browser going through the sign-in over HTTP.

CONNECT_PUBLIC_URL is a name Connect is reached by from outside (as behind a proxy); the
browser here follows each redirect itself and sends what is meant for that name to the port
Connect listens on.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from cryptography.fernet import Fernet

from bot.settings import Settings
from simulators.atlassian.server import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, FakeAtlassian
from simulators.jira_site.server import FakeJiraServer
from simulators.slack_workspace.server import FakeSlackServer
from tests.e2e.conftest import RunningConnect, connect_settings, running_connect
from tests.e2e.test_commands import wait_for_response
from tests.waiting import wait_until

PUBLIC_URL = "https://connect.example.test"
ENCRYPTION_KEY = Fernet.generate_key().decode()
PEOPLE = {"U0ALICE": "alice", "U0BOB": "bob", "U0CAROL": "carol"}


@dataclass
class IdentitySite:
    connect: RunningConnect
    atlassian: FakeAtlassian

    @property
    def jira(self) -> Any:
        return self.connect.jira.jira

    def ask(self, text: str, user: str = "U0ALICE", **fields: str) -> dict[str, Any]:
        _, response_url = self.connect.slash(text, user=user, **fields)
        return wait_for_response(self.connect, response_url)

    def local(self, url: str) -> str:
        """A URL of CONNECT_PUBLIC_URL, as the port Connect listens on."""
        assert url.startswith(PUBLIC_URL), url
        return self.connect.url + url.removeprefix(PUBLIC_URL)

    def sign_in(self, user: str = "U0ALICE", account: str | None = None) -> requests.Response:
        """`/jira connect`, then the button in a browser signed in to Atlassian as `account`:
        the callback page Connect answers."""
        answer = self.ask("connect", user=user)
        return self.follow_button(answer, account or f"acc-{PEOPLE[user]}")

    def follow_button(self, answer: dict[str, Any], account: str) -> requests.Response:
        browser = self.atlassian.browser(account)
        start = browser.get(self.local(button_url(answer)), allow_redirects=False, timeout=10)
        assert start.status_code == 302, start.text
        consent = browser.get(start.headers["Location"], allow_redirects=False, timeout=10)
        assert consent.status_code == 302, consent.text
        return browser.get(self.local(consent.headers["Location"]), timeout=10)

    def dms(self, user: str) -> list[str]:
        return [m.text for m in self.connect.slack.slack.messages.get("D" + user[1:], [])]

    def wait_for_dm(self, user: str, containing: str) -> str:
        found = wait_until(
            lambda: [t for t in self.dms(user) if containing in t],
            timeout=10,
            what=f"a DM to {user} saying {containing!r}",
        )
        return str(found[-1])


def button_url(answer: dict[str, Any]) -> str:
    for block in answer.get("blocks", []):
        for element in block.get("elements", []):
            if element.get("type") == "button" and element.get("url"):
                return str(element["url"])
    raise AssertionError(f"no connect button in {answer}")


def state_of(url: str) -> str:
    return parse_qs(urlsplit(url).query)["state"][0]


def seed_slack(slack: FakeSlackServer) -> None:
    for user, name in PEOPLE.items():
        slack.slack.add_user(user, name, real_name=name.title(), email=f"{name}@example.com")
    slack.slack.add_channel("C0GENERAL", "general", members=list(PEOPLE))


@pytest.fixture
def atlassian(fake_jira: FakeJiraServer) -> Iterator[FakeAtlassian]:
    with FakeAtlassian(fake_jira) as server:
        server.redirect_uris = {f"{PUBLIC_URL}/jira/oauth/callback"}
        yield server


def user_mode_settings(
    slack: FakeSlackServer, jira: FakeJiraServer, atlassian: FakeAtlassian, database: Path | str
) -> Settings:
    """The e2e settings (tests.e2e.conftest) in JIRA_AUTH_MODE=user; `database` a SQLite
    file or a database URL."""
    base = connect_settings(slack, jira, Path("unused.db"))
    values = {
        name: getattr(base, name)
        for name in base.model_fields_set
        if name != "database_url" and getattr(base, name) is not None
    }
    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        **{
            **values,
            "database_url": database if isinstance(database, str) else f"sqlite:///{database}",
            "jira_auth_mode": "user",
            "jira_oauth_client_id": DEFAULT_CLIENT_ID,
            "jira_oauth_client_secret": DEFAULT_CLIENT_SECRET,
            "jira_oauth_auth_url": atlassian.url,
            "jira_oauth_api_url": atlassian.url,
            "connect_public_url": PUBLIC_URL,
            "connect_encryption_key": ENCRYPTION_KEY,
        },
    )


@pytest.fixture
def site(
    fake_slack: FakeSlackServer,
    fake_jira: FakeJiraServer,
    atlassian: FakeAtlassian,
    tmp_path: Path,
) -> Iterator[IdentitySite]:
    seed_slack(fake_slack)
    settings = user_mode_settings(fake_slack, fake_jira, atlassian, tmp_path / "connect.db")
    with running_connect(settings, fake_slack, fake_jira) as running:
        yield IdentitySite(running, atlassian)
