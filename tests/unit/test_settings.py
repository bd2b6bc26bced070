from __future__ import annotations

import pytest

from bot.settings import Settings, SettingsError, load_settings


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    monkeypatch.chdir(tmp_path)  # no stray .env
    for name in list(Settings.model_fields):
        monkeypatch.delenv(name.upper(), raising=False)


def test_defaults_follow_the_spec() -> None:
    settings = load_settings()
    assert settings.database_url == "sqlite:///connect.db"
    assert (settings.connect_host, settings.connect_port) == ("0.0.0.0", 5001)
    assert settings.connect_poll_interval == 60
    assert str(settings.slack_api_url) == "https://slack.com/api/"
    assert settings.jira_projects == ()
    assert settings.connect_log_level == "INFO"
    assert settings.connect_retention_days == 30
    assert settings.connect_channel_managers == "members"
    assert settings.slack_allowed_teams == ()


def test_trust_settings_are_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SLACK_ALLOWED_TEAMS", "T0123ABCD, E0456EFGH,")
    monkeypatch.setenv("CONNECT_CHANNEL_MANAGERS", "Admins")
    monkeypatch.setenv("CONNECT_RETENTION_DAYS", "7")
    settings = load_settings()
    assert settings.slack_allowed_teams == ("T0123ABCD", "E0456EFGH")
    assert settings.connect_channel_managers == "admins"
    assert settings.connect_retention_days == 7


def test_comma_lists_are_plain_and_normalised(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JIRA_PROJECTS", "ops, web,")
    monkeypatch.setenv("CONNECT_ADMINS", "U123ABC,W999")
    settings = load_settings()
    assert settings.jira_projects == ("OPS", "WEB")
    assert settings.connect_admins == ("U123ABC", "W999")


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("CONNECT_PORT", "eighty"),
        ("CONNECT_PORT", "70000"),
        ("JIRA_URL", "not a url"),
        ("CONNECT_POLL_INTERVAL", "-1"),
        ("JIRA_PROJECTS", "OPS,not-a-key"),
        ("CONNECT_ADMINS", "alice"),
        ("CONNECT_LOG_LEVEL", "LOUD"),
        ("DATABASE_URL", "mysql://x"),
        ("SLACK_ALLOWED_TEAMS", "T0123,acme"),
        ("CONNECT_CHANNEL_MANAGERS", "everyone"),
        ("CONNECT_RETENTION_DAYS", "0"),
    ],
)
def test_a_malformed_setting_is_one_line_naming_it(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError) as caught:
        load_settings()
    message = str(caught.value)
    assert name in message
    assert "\n" not in message
    assert value not in message or name in (
        "JIRA_PROJECTS",
        "CONNECT_ADMINS",
        "SLACK_ALLOWED_TEAMS",
    )


def test_missing_production_settings_are_named() -> None:
    settings = load_settings()
    missing = " ".join(settings.missing_for_production())
    for name in (
        "SLACK_SIGNING_SECRET",
        "SLACK_BOT_TOKEN",
        "JIRA_URL",
        "JIRA_API_TOKEN",
        "JIRA_PAT",
    ):
        assert name in missing
    with pytest.raises(SettingsError, match="SLACK_SIGNING_SECRET"):
        settings.require_production()


def test_complete_production_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SLACK_SIGNING_SECRET", "s")
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-1")
    monkeypatch.setenv("JIRA_URL", "https://acme.atlassian.net/")
    monkeypatch.setenv("JIRA_PAT", "pat")
    settings = load_settings()
    assert settings.missing_for_production() == []
    assert settings.jira_base_url == "https://acme.atlassian.net"
    assert settings.has_slack_credentials and not settings.oauth_mode


def test_oauth_needs_both_halves(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SLACK_CLIENT_ID", "123.456")
    with pytest.raises(SettingsError, match="SLACK_CLIENT_SECRET"):
        load_settings()


def test_secrets_never_show(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-very-secret")
    monkeypatch.setenv("JIRA_API_TOKEN", "jira-very-secret")
    settings = load_settings()
    shown = repr(settings) + str(settings)
    assert "very-secret" not in shown
    assert settings.slack_bot_token is not None
    assert settings.slack_bot_token.get_secret_value() == "xoxb-very-secret"


def test_env_file_is_read(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / ".env").write_text("JIRA_PROJECTS=OPS\nCONNECT_PORT=6000\n")
    settings = load_settings()
    assert settings.jira_projects == ("OPS",)
    assert settings.connect_port == 6000


def test_oauth_mode_needs_an_encryption_key_to_serve(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SLACK_CLIENT_ID", "123.456")
    monkeypatch.setenv("SLACK_CLIENT_SECRET", "client-secret")
    settings = load_settings()
    assert settings.oauth_mode
    assert any("CONNECT_ENCRYPTION_KEY" in missing for missing in settings.missing_for_production())


def test_a_weak_encryption_key_is_refused_without_echoing_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CONNECT_ENCRYPTION_KEY", "hunter2-weak")
    with pytest.raises(SettingsError, match="CONNECT_ENCRYPTION_KEY") as refused:
        load_settings()
    assert "hunter2" not in str(refused.value)
