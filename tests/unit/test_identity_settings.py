"""JIRA_AUTH_MODE and the Jira OAuth settings (SPEC §3, §12): defaults, and start-up refusing
`user` mode without what it needs, naming each variable."""

from __future__ import annotations

import pytest

from bot.settings import Settings, SettingsError, load_settings


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    monkeypatch.chdir(tmp_path)  # no stray .env
    for name in list(Settings.model_fields):
        monkeypatch.delenv(name.upper(), raising=False)


def production(monkeypatch: pytest.MonkeyPatch, **more: str) -> Settings:
    for name, value in {
        "SLACK_SIGNING_SECRET": "s",
        "SLACK_BOT_TOKEN": "xoxb-1",
        "JIRA_URL": "https://acme.atlassian.net",
        "JIRA_EMAIL": "bot@acme.test",
        "JIRA_API_TOKEN": "t",
        **more,
    }.items():
        monkeypatch.setenv(name, value)
    return load_settings()


def test_bot_mode_is_the_default_with_atlassians_urls(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = production(monkeypatch)
    assert settings.jira_auth_mode == "bot" and not settings.user_mode
    assert str(settings.jira_oauth_auth_url) == "https://auth.atlassian.com/"
    assert str(settings.jira_oauth_api_url) == "https://api.atlassian.com/"
    assert settings.missing_for_production() == []


def test_user_mode_on_cloud_names_everything_it_lacks(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = production(monkeypatch, JIRA_AUTH_MODE="User")
    assert settings.user_mode
    missing = " ".join(settings.missing_for_production())
    for name in ("JIRA_OAUTH_CLIENT_ID", "CONNECT_PUBLIC_URL", "CONNECT_ENCRYPTION_KEY"):
        assert name in missing
    with pytest.raises(SettingsError, match="JIRA_OAUTH_CLIENT_ID") as refused:
        settings.require_production()
    assert "\n" not in str(refused.value)


def test_user_mode_complete(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = production(
        monkeypatch,
        JIRA_AUTH_MODE="user",
        JIRA_OAUTH_CLIENT_ID="client",
        JIRA_OAUTH_CLIENT_SECRET="oauth-very-secret",
        CONNECT_PUBLIC_URL="https://connect.acme.test",
        CONNECT_ENCRYPTION_KEY="x" * 40,
    )
    assert settings.missing_for_production() == []
    assert "oauth-very-secret" not in repr(settings)


def test_data_center_user_mode_may_go_without_an_oauth_client(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("JIRA_EMAIL", raising=False)
    settings = production(
        monkeypatch,
        JIRA_EMAIL="",
        JIRA_API_TOKEN="",
        JIRA_PAT="pat",
        JIRA_AUTH_MODE="user",
        CONNECT_PUBLIC_URL="https://connect.acme.test",
        CONNECT_ENCRYPTION_KEY="x" * 40,
    )
    assert settings.missing_for_production() == []  # people paste personal access tokens


def test_the_oauth_client_needs_both_halves(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JIRA_OAUTH_CLIENT_ID", "client")
    with pytest.raises(SettingsError, match="JIRA_OAUTH_CLIENT_SECRET"):
        load_settings()


def test_an_unknown_mode_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JIRA_AUTH_MODE", "everyone")
    with pytest.raises(SettingsError, match="JIRA_AUTH_MODE"):
        load_settings()
