"""Which Jira account a Slack user is (SPEC §11: by e-mail), and what they are DMed about."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, TeamScoped, UTCDateTime, utcnow


class UserLink(TeamScoped, Base):
    __tablename__ = "user_links"
    __table_args__ = (UniqueConstraint("team_id", "slack_user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    slack_user_id: Mapped[str] = mapped_column(String(32))
    jira_account_id: Mapped[str] = mapped_column(String(128), index=True)
    jira_display_name: Mapped[str] = mapped_column(String(255))
    email: Mapped[str] = mapped_column(String(320))
    linked_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    verified_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


# What a person may be DMed about (SPEC §7): an issue assigned to them, an @mention, an issue
# they reported or watch commented on or moved.
NOTICE_KINDS = ("assigned", "mentions", "reported", "watching")
DEFAULT_NOTICES = ("assigned", "mentions")


class NotifyPreference(TeamScoped, Base):
    """A person's choice of DMs (`/jira notify`); no row means `DEFAULT_NOTICES`."""

    __tablename__ = "notify_preferences"
    __table_args__ = (UniqueConstraint("team_id", "slack_user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    slack_user_id: Mapped[str] = mapped_column(String(32))
    kinds: Mapped[str] = mapped_column(String(128), default=",".join(DEFAULT_NOTICES))  # "" = off
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)

    @property
    def chosen(self) -> tuple[str, ...]:
        wanted = {kind.strip() for kind in self.kinds.split(",")}
        return tuple(kind for kind in NOTICE_KINDS if kind in wanted)
