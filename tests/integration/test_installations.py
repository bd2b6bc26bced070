"""The installation store on SQLite and PostgreSQL: encrypted tokens, re-installs, uninstalls,
OAuth states used once; and the Slack client that routes each call to its workspace's token."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from cryptography.fernet import Fernet
from pydantic import SecretStr
from sqlalchemy import select, text

from clients.slack_client import SlackError
from clients.slack_teams import SlackNotInstalled, TeamRoutedSlack, team_scope
from models import ChannelSettings, JiraSlackLink, SlackInstallation, SlackOAuthState, UserLink
from services.people.installations import Installations, InstalledBot
from services.people.token_cipher import TokenCipher
from services.unit_of_work import UnitOfWorkFactory
from simulators.slack_workspace.server import FakeSlackServer
from simulators.slack_workspace.web_api import Identity

KEY = Fernet.generate_key().decode()


def bot(team: str, token: str, **extra: object) -> InstalledBot:
    return InstalledBot(
        team_id=team,
        bot_token=SecretStr(token),
        bot_user_id="UBOT" + team,
        bot_id="B" + team,
        bot_scopes=("commands", "chat:write"),
        team_name=f"team {team}",
        installer_user_id="U0ADMIN",
        **extra,  # type: ignore[arg-type]
    )


@pytest.fixture
def store(uow: UnitOfWorkFactory) -> Installations:
    return Installations(uow, TokenCipher(KEY))


def test_a_saved_bot_comes_back_whole_and_only_ciphertext_is_stored(
    store: Installations, uow: UnitOfWorkFactory
) -> None:
    store.save(bot("T1", "xoxb-one"))
    found = store.find("T1")
    assert found is not None
    assert found.bot_token.get_secret_value() == "xoxb-one"
    assert (found.bot_user_id, found.bot_scopes, found.installer_user_id) == (
        "UBOTT1",
        ("commands", "chat:write"),
        "U0ADMIN",
    )
    with uow() as work:
        raw = work.session.execute(text("SELECT bot_token_encrypted FROM slack_installations"))
        (stored,) = raw.scalars().all()
    assert "xoxb-one" not in stored
    assert store.find("T2") is None


def test_a_reinstall_replaces_the_token_and_the_cache_sees_it(store: Installations) -> None:
    store.save(bot("T1", "xoxb-old"))
    assert store.bot_token("T1") == SecretStr("xoxb-old")  # now cached
    store.save(bot("T1", "xoxb-new"))
    token = store.bot_token("T1")
    assert token is not None and token.get_secret_value() == "xoxb-new"


def test_an_org_wide_install_serves_every_team_of_its_enterprise(store: Installations) -> None:
    store.save(bot("", "xoxb-org", enterprise_id="E1", is_enterprise_install=True))
    found = store.find("T9", "E1")
    assert found is not None and found.bot_token.get_secret_value() == "xoxb-org"
    assert store.find("T9", "E2") is None


def test_delete_forgets_one_workspace_and_tells_the_client(uow: UnitOfWorkFactory) -> None:
    forgotten: list[str] = []
    store = Installations(uow, TokenCipher(KEY), on_removed=forgotten.append)
    store.save(bot("T1", "xoxb-one"))
    store.save(bot("T2", "xoxb-two"))
    assert store.bot_token("T1") is not None
    assert store.delete("T1") == 1
    assert store.bot_token("T1") is None
    assert store.bot_token("T2") is not None
    assert "T1" in forgotten


def test_forgetting_a_workspace_removes_its_rows_and_no_one_elses(
    store: Installations, uow: UnitOfWorkFactory
) -> None:
    store.save(bot("T1", "xoxb-one"))
    store.save(bot("T2", "xoxb-two"))
    with uow() as work:
        for team in ("T1", "T2"):
            work.session.add(
                JiraSlackLink(team_id=team, issue_id="1", issue_key="OPS-1", channel_id="C1")
            )
            work.session.add(ChannelSettings(team_id=team, channel_id="C1"))
            work.session.add(
                UserLink(
                    team_id=team,
                    slack_user_id="U1",
                    jira_account_id="acc",
                    jira_display_name="Alice",
                    email="a@example.com",
                )
            )
        work.commit()
    removed = store.forget_workspace("T1")
    assert removed["slack_installations"] == 1
    assert removed["jira_slack_links"] == 1 and removed["user_links"] == 1
    with uow() as work:
        assert {r.team_id for r in work.session.scalars(select(JiraSlackLink))} == {"T2"}
        assert {r.team_id for r in work.session.scalars(select(UserLink))} == {"T2"}
        assert [r.team_id for r in work.session.scalars(select(SlackInstallation))] == ["T2"]


def test_an_oauth_state_is_good_once_and_not_after_it_expires(uow: UnitOfWorkFactory) -> None:
    now = [datetime(2026, 11, 26, 12, 0, tzinfo=UTC)]
    store = Installations(uow, TokenCipher(KEY), clock=lambda: now[0], state_secret=b"s")
    state = store.issue_state()
    with uow() as work:  # sealed, not stored: issuing one writes nothing
        assert work.session.scalars(select(SlackOAuthState)).all() == []
    assert store.consume_state(state)
    assert store.consume_state(state)  # checked, not yet spent (Slack has not answered)
    assert store.spend_state(state)
    assert not store.consume_state(state)
    assert not store.spend_state(state)
    late = store.issue_state()
    now[0] += timedelta(minutes=11)
    assert not store.consume_state(late)
    assert not store.spend_state(late)
    assert not store.consume_state("")
    assert not store.consume_state("x" * 500)
    assert not store.consume_state("é" * 80)


def test_a_forged_or_foreign_state_is_refused(uow: UnitOfWorkFactory) -> None:
    store = Installations(uow, TokenCipher(KEY), state_secret=b"ours")
    other = Installations(uow, TokenCipher(KEY), state_secret=b"theirs")
    twin = Installations(uow, TokenCipher(KEY), state_secret=b"ours")  # another process
    state = store.issue_state()
    assert twin.consume_state(state)
    assert not other.consume_state(state)
    expires, nonce, mac = state.split(".")
    assert not store.consume_state(f"{int(expires) + 3600}.{nonce}.{mac}")
    assert not store.consume_state(f"{expires}.{nonce[::-1]}.{mac}")
    tampered = mac[:-1] + ("B" if mac.endswith("A") else "A")  # never the same MAC
    assert not store.consume_state(f"{expires}.{nonce}.{tampered}")


def test_a_key_that_cannot_open_the_store_fails_loudly(
    store: Installations, uow: UnitOfWorkFactory
) -> None:
    store.save(bot("T1", "xoxb-one"))
    other = Installations(uow, TokenCipher(Fernet.generate_key().decode()))
    with pytest.raises(ValueError, match="CONNECT_ENCRYPTION_KEY"):
        other.find("T1")


@pytest.fixture
def two_workspaces() -> Iterator[FakeSlackServer]:
    with FakeSlackServer() as server:
        slack = server.slack
        server.add_token("xoxb-team-one")
        server.add_token(
            "xoxb-team-two", Identity("T2", "two", slack.bot_user_id, "connect", slack.bot_id)
        )
        slack.add_channel("C1", "general")
        yield server


def test_each_call_goes_out_with_its_workspace_token(two_workspaces: FakeSlackServer) -> None:
    tokens = {"T1": SecretStr("xoxb-team-one"), "T2": SecretStr("xoxb-team-two")}
    asked: list[str] = []

    def lookup(team: str) -> SecretStr | None:
        asked.append(team)
        return tokens.get(team)

    slack = TeamRoutedSlack(lookup, base_url=two_workspaces.api_url)
    with team_scope("T1"):
        slack.post_message("C1", text="one")
        slack.post_message("C1", text="one again")
    with team_scope("T2"):
        slack.post_message("C1", text="two")
    sent = [(c.params["text"], c.token) for c in two_workspaces.calls_to("chat.postMessage")]
    assert sent == [
        ("one", "xoxb-team-one"),
        ("one again", "xoxb-team-one"),
        ("two", "xoxb-team-two"),
    ]
    assert asked == ["T1", "T2"]  # the client of a workspace is kept

    with pytest.raises(SlackError) as outside:
        slack.post_message("C1", text="nowhere")
    assert outside.value.error == "no_workspace"
    with team_scope("T3"), pytest.raises(SlackNotInstalled):
        slack.post_message("C1", text="not installed")


def test_a_refused_token_is_forgotten_and_looked_up_again(two_workspaces: FakeSlackServer) -> None:
    tokens = {"T1": SecretStr("xoxb-revoked")}
    slack = TeamRoutedSlack(tokens.get, base_url=two_workspaces.api_url)
    with team_scope("T1"):
        with pytest.raises(SlackError) as refused:
            slack.post_message("C1", text="first")
        assert refused.value.error == "invalid_auth"
        tokens["T1"] = SecretStr("xoxb-team-one")  # re-installed meanwhile
        slack.post_message("C1", text="second")
    assert two_workspaces.calls_to("chat.postMessage")[-1].token == "xoxb-team-one"
