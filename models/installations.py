"""Slack installations (multi-workspace OAuth mode) and the OAuth state of installs under way.

Tokens are stored encrypted (SPEC §11): the columns hold ciphertext, never a usable token.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, TeamScoped, UTCDateTime, utcnow

ENCRYPTED_COLUMNS = frozenset({"bot_token_encrypted", "bot_refresh_token_encrypted"})


class SlackInstallation(TeamScoped, Base):
    """Connect's bot in one workspace: who installed it and its (encrypted) bot token."""

    __tablename__ = "slack_installations"
    __table_args__ = (UniqueConstraint("team_id", "enterprise_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    # "" rather than NULL outside Enterprise Grid, so the unique constraint holds everywhere.
    enterprise_id: Mapped[str] = mapped_column(String(32), default="")
    team_name: Mapped[str | None] = mapped_column(String(255))
    app_id: Mapped[str | None] = mapped_column(String(32))
    bot_id: Mapped[str | None] = mapped_column(String(32))
    bot_user_id: Mapped[str | None] = mapped_column(String(32))
    bot_scopes: Mapped[str] = mapped_column(Text, default="")
    bot_token_encrypted: Mapped[str] = mapped_column(Text)
    bot_refresh_token_encrypted: Mapped[str | None] = mapped_column(Text)
    bot_token_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    installer_user_id: Mapped[str | None] = mapped_column(String(32))
    is_enterprise_install: Mapped[bool] = mapped_column(Boolean, default=False)
    installed_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    def to_dict(self) -> dict[str, Any]:
        """The row without its (encrypted) tokens: nothing secret leaves through here."""
        return {k: v for k, v in super().to_dict().items() if k not in ENCRYPTED_COLUMNS}


class SlackOAuthState(Base):
    """An install `state` already spent at /slack/oauth_redirect (its nonce), kept until it
    expires so it cannot be used twice. States are sealed, not stored, when handed out."""

    __tablename__ = "slack_oauth_states"

    state: Mapped[str] = mapped_column(String(64), primary_key=True)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
