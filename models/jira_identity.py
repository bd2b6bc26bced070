"""Per-person Jira identity (SPEC §12, `JIRA_AUTH_MODE=user`): the sign-ins under way and the
tokens each person granted.

Tokens are stored encrypted with CONNECT_ENCRYPTION_KEY (SPEC §11): the columns hold ciphertext.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, TeamScoped, UTCDateTime, utcnow

TOKEN_COLUMNS = frozenset({"access_token_encrypted", "refresh_token_encrypted"})


class JiraOAuthState(TeamScoped, Base):
    """A `/jira connect` under way: random, single use, bound to one Slack team and user, good
    until `expires_at`. `pending` is what the person was doing (a command to offer again)."""

    __tablename__ = "jira_oauth_states"

    state: Mapped[str] = mapped_column(String(64), primary_key=True)
    slack_user_id: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    pending: Mapped[str | None] = mapped_column(Text)


class JiraUserToken(TeamScoped, Base):
    """The Jira grant of one Slack user: whose account it is and the (encrypted) tokens."""

    __tablename__ = "jira_user_tokens"
    __table_args__ = (UniqueConstraint("team_id", "slack_user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    slack_user_id: Mapped[str] = mapped_column(String(32))
    kind: Mapped[str] = mapped_column(String(16))  # "oauth" or "pat"
    api_base_url: Mapped[str] = mapped_column(String(500))  # where this person's calls go
    jira_account_id: Mapped[str] = mapped_column(String(128), index=True)
    jira_display_name: Mapped[str] = mapped_column(String(255))
    access_token_encrypted: Mapped[str] = mapped_column(Text)
    access_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    refresh_token_encrypted: Mapped[str | None] = mapped_column(Text)
    scopes: Mapped[str] = mapped_column(Text, default="")
    connected_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    refreshed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    def to_dict(self) -> dict[str, Any]:
        """The row without its (encrypted) tokens."""
        return {k: v for k, v in super().to_dict().items() if k not in TOKEN_COLUMNS}
