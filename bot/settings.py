"""Connect's settings: every variable of SPEC §3, read once from the environment and `.env`."""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import (
    AnyHttpUrl,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from services.people.token_cipher import TokenCipherError, fernet_keys

PROJECT_KEY = re.compile(r"^[A-Z][A-Z0-9_]{0,49}$")
SLACK_USER_ID = re.compile(r"^[UW][A-Z0-9]{2,}$")
# A workspace (T…) or an Enterprise Grid organisation (E…).
SLACK_TEAM_ID = re.compile(r"^[TE][A-Z0-9]{2,}$")

CommaList = Annotated[tuple[str, ...], NoDecode]


class SettingsError(Exception):
    """A setting is missing or malformed; the message is one line naming the variable."""


def _split_commas(value: Any) -> Any:
    if isinstance(value, str):
        return tuple(part.strip() for part in value.split(",") if part.strip())
    return value


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        frozen=True,
    )

    slack_bot_token: SecretStr | None = None
    slack_signing_secret: SecretStr | None = None
    slack_app_token: SecretStr | None = None
    slack_client_id: str | None = None
    slack_client_secret: SecretStr | None = None
    slack_api_url: AnyHttpUrl = AnyHttpUrl("https://slack.com/api/")

    jira_url: AnyHttpUrl | None = None
    jira_email: str | None = None
    jira_api_token: SecretStr | None = None
    jira_pat: SecretStr | None = None
    jira_webhook_secret: SecretStr | None = None
    jira_projects: CommaList = ()
    jira_timeout_seconds: float = Field(default=10, gt=0)
    jira_retry_budget_seconds: float = Field(default=10, ge=0)
    jira_outage_pause_seconds: float = Field(default=10, ge=0)
    # The largest file copied from Slack to a Jira issue, in MiB (SPEC §13).
    jira_attachment_max_mb: float = Field(default=10, ge=0)

    database_url: str = "sqlite:///connect.db"

    connect_host: str = "0.0.0.0"  # noqa: S104 - a server listens on all interfaces by default
    connect_port: int = Field(default=5001, ge=1, le=65535)
    connect_log_level: str = "INFO"
    connect_log_format: Literal["text", "json"] = "text"
    connect_poll_interval: float = Field(default=60, ge=0)
    connect_max_backoff: float = Field(default=30, gt=0)
    connect_claim_lease_seconds: float = Field(default=60, ge=2, le=3600)
    connect_public_url: AnyHttpUrl | None = None
    connect_admins: CommaList = ()
    connect_encryption_key: SecretStr | None = None
    connect_retention_days: int = Field(default=30, ge=1, le=3650)
    connect_channel_managers: Literal["members", "admins"] = "members"
    slack_allowed_teams: CommaList = ()

    # SPEC §12: whose Jira account acts. `user`: each person's own, through OAuth 2.0 (or a
    # personal access token on Data Center without an OAuth client).
    jira_auth_mode: Literal["bot", "user"] = "bot"
    jira_oauth_client_id: str | None = None
    jira_oauth_client_secret: SecretStr | None = None
    jira_oauth_auth_url: AnyHttpUrl = AnyHttpUrl("https://auth.atlassian.com")
    jira_oauth_api_url: AnyHttpUrl = AnyHttpUrl("https://api.atlassian.com")

    @field_validator("jira_projects", "connect_admins", "slack_allowed_teams", mode="before")
    @classmethod
    def _comma_list(cls, value: Any) -> Any:
        return _split_commas(value)

    @field_validator("jira_projects")
    @classmethod
    def _project_keys(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        keys = tuple(key.upper() for key in value)
        bad = [key for key in keys if not PROJECT_KEY.match(key)]
        if bad:
            raise ValueError(f"not a Jira project key: {', '.join(bad)}")
        return keys

    @field_validator("connect_admins")
    @classmethod
    def _user_ids(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        bad = [user for user in value if not SLACK_USER_ID.match(user)]
        if bad:
            raise ValueError(f"not a Slack user id: {', '.join(bad)}")
        return value

    @field_validator("slack_allowed_teams")
    @classmethod
    def _team_ids(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        bad = [team for team in value if not SLACK_TEAM_ID.match(team)]
        if bad:
            raise ValueError(f"not a Slack team or enterprise id: {', '.join(bad)}")
        return value

    @field_validator("connect_channel_managers", mode="before")
    @classmethod
    def _channel_managers(cls, value: Any) -> Any:
        return value.strip().lower() if isinstance(value, str) else value

    @field_validator("connect_encryption_key")
    @classmethod
    def _encryption_key(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None:
            try:
                fernet_keys(value.get_secret_value())
            except TokenCipherError as exc:
                raise ValueError(str(exc)) from None
        return value

    @field_validator("jira_auth_mode", mode="before")
    @classmethod
    def _auth_mode(cls, value: Any) -> Any:
        return value.strip().lower() if isinstance(value, str) else value

    @field_validator("connect_log_format", mode="before")
    @classmethod
    def _log_format(cls, value: Any) -> Any:
        return value.strip().lower() if isinstance(value, str) else value

    @field_validator("connect_log_level")
    @classmethod
    def _log_level(cls, value: str) -> str:
        level = value.upper()
        if level not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
            raise ValueError("must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL")
        return level

    @field_validator("database_url")
    @classmethod
    def _database_url(cls, value: str) -> str:
        if not re.match(r"^(sqlite|postgresql)(\+\w+)?://", value):
            raise ValueError("must be a sqlite:/// or postgresql+psycopg:// URL")
        return value

    @model_validator(mode="after")
    def _oauth_pair(self) -> Settings:
        if bool(self.slack_client_id) != bool(self.slack_client_secret):
            raise ValueError("SLACK_CLIENT_ID and SLACK_CLIENT_SECRET must be set together")
        if bool(self.jira_oauth_client_id) != bool(self.jira_oauth_client_secret):
            raise ValueError(
                "JIRA_OAUTH_CLIENT_ID and JIRA_OAUTH_CLIENT_SECRET must be set together"
            )
        return self

    @property
    def user_mode(self) -> bool:
        """JIRA_AUTH_MODE=user: Connect acts in Jira as each person (SPEC §12)."""
        return self.jira_auth_mode == "user"

    @property
    def jira_oauth_client(self) -> bool:
        return bool(self.jira_oauth_client_id and self.jira_oauth_client_secret)

    @property
    def oauth_mode(self) -> bool:
        return bool(self.slack_client_id and self.slack_client_secret)

    @property
    def has_slack_credentials(self) -> bool:
        return bool(self.slack_bot_token or self.slack_client_id)

    @property
    def jira_base_url(self) -> str | None:
        return str(self.jira_url).rstrip("/") if self.jira_url else None

    def missing_for_production(self) -> list[str]:
        """The variables `serve`, `socket` and `worker` need but do not have."""
        missing: list[str] = []
        if not self.slack_signing_secret:
            missing.append("SLACK_SIGNING_SECRET")
        if not self.has_slack_credentials:
            missing.append("SLACK_BOT_TOKEN (or SLACK_CLIENT_ID and SLACK_CLIENT_SECRET)")
        if self.oauth_mode and not self.connect_encryption_key:
            missing.append("CONNECT_ENCRYPTION_KEY (OAuth mode stores tokens encrypted with it)")
        if not self.jira_url:
            missing.append("JIRA_URL")
        if not (self.jira_pat or (self.jira_email and self.jira_api_token)):
            missing.append("JIRA_EMAIL and JIRA_API_TOKEN (Cloud) or JIRA_PAT (Data Center)")
        if self.user_mode:
            missing += self._missing_for_user_mode()
        return missing

    def _missing_for_user_mode(self) -> list[str]:
        missing: list[str] = []
        if not self.jira_pat and not self.jira_oauth_client:
            missing.append(
                "JIRA_OAUTH_CLIENT_ID and JIRA_OAUTH_CLIENT_SECRET (JIRA_AUTH_MODE=user on Jira "
                "Cloud: the Atlassian OAuth 2.0 app people connect through)"
            )
        if not self.connect_public_url:
            missing.append(
                "CONNECT_PUBLIC_URL (JIRA_AUTH_MODE=user: Jira sends people back to "
                "/jira/oauth/callback there)"
            )
        if not self.connect_encryption_key:
            missing.append(
                "CONNECT_ENCRYPTION_KEY (JIRA_AUTH_MODE=user stores people's Jira tokens "
                "encrypted with it)"
            )
        return missing

    def require_production(self) -> None:
        missing = self.missing_for_production()
        if missing:
            raise SettingsError("missing settings: " + "; ".join(missing))


def load_settings(**overrides: Any) -> Settings:
    """Build Settings, turning a validation failure into one line that names the variable."""
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        raise SettingsError(describe_validation_error(exc)) from None


def describe_validation_error(exc: ValidationError) -> str:
    parts = []
    for error in exc.errors(include_url=False, include_input=False):
        location = [part for part in error.get("loc", ()) if isinstance(part, str)]
        message = str(error.get("msg", "invalid")).removeprefix("Value error, ")
        parts.append(f"{location[0].upper()}: {message}" if location else message)
    return "invalid setting: " + "; ".join(parts)
