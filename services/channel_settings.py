"""Per-channel settings (SPEC §4 `/jira settings`): issue-key previews, notification level and
whether new links sync their thread with Jira (§13).

Read on every key-bearing message and by the notifier, so a change applies at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from sqlalchemy import Select, select
from sqlalchemy.exc import IntegrityError

from models import ChannelSettings
from models.channels import NOTIFY_LEVELS
from services.errors import InvalidRequest
from services.markup import escape_typed
from services.unit_of_work import UnitOfWorkFactory

DEFAULT_NOTIFY_LEVEL = "all"


class ChannelManagers(Protocol):
    """Who may change a channel (LinkService: its members and CONNECT_ADMINS)."""

    def ensure_can_manage(self, channel_id: str, user_id: str) -> None: ...


@dataclass(frozen=True, slots=True)
class ChannelSettingsView:
    channel_id: str
    previews_enabled: bool = True
    notify_level: str = DEFAULT_NOTIFY_LEVEL
    updated_by: str | None = None
    sync_default: bool = False


class ChannelSettingsService:
    def __init__(self, uow: UnitOfWorkFactory, managers: ChannelManagers) -> None:
        self.uow = uow
        self.managers = managers

    def get(self, team_id: str, channel_id: str) -> ChannelSettingsView:
        """The channel's settings; the defaults when it never changed any."""
        with self.uow() as work:
            row = work.session.scalars(_row_query(team_id, channel_id)).one_or_none()
            if row is None:
                return ChannelSettingsView(channel_id)
            return _view(row)

    def previews_enabled(self, team_id: str, channel_id: str) -> bool:
        with self.uow() as work:
            enabled = work.session.scalars(
                select(ChannelSettings.previews_enabled).where(
                    ChannelSettings.team_id == team_id, ChannelSettings.channel_id == channel_id
                )
            ).one_or_none()
        return True if enabled is None else bool(enabled)

    def set_previews(
        self, team_id: str, channel_id: str, user_id: str, enabled: bool
    ) -> ChannelSettingsView:
        self.managers.ensure_can_manage(channel_id, user_id)
        return self._update(team_id, channel_id, user_id, previews_enabled=enabled)

    def set_notify_level(
        self, team_id: str, channel_id: str, user_id: str, level: str
    ) -> ChannelSettingsView:
        wanted = level.strip().lower()
        if wanted not in NOTIFY_LEVELS:
            raise InvalidRequest(
                f"“{escape_typed(level[:40])}” is not a notification level: use "
                f"{' or '.join(NOTIFY_LEVELS)}."
            )
        self.managers.ensure_can_manage(channel_id, user_id)
        return self._update(team_id, channel_id, user_id, notify_level=wanted)

    def set_sync_default(
        self, team_id: str, channel_id: str, user_id: str, enabled: bool
    ) -> ChannelSettingsView:
        """Whether links made here afterwards sync their thread with Jira (SPEC §13)."""
        self.managers.ensure_can_manage(channel_id, user_id)
        return self._update(team_id, channel_id, user_id, sync_default=enabled)

    def _update(
        self,
        team_id: str,
        channel_id: str,
        user_id: str,
        *,
        previews_enabled: bool | None = None,
        notify_level: str | None = None,
        sync_default: bool | None = None,
    ) -> ChannelSettingsView:
        for _attempt in range(2):  # a concurrent first change of the channel wins the insert
            try:
                with self.uow() as work:
                    row = work.session.scalars(_row_query(team_id, channel_id)).one_or_none()
                    if row is None:
                        row = ChannelSettings(
                            team_id=team_id,
                            channel_id=channel_id,
                            previews_enabled=True,
                            notify_level=DEFAULT_NOTIFY_LEVEL,
                            sync_default=False,
                        )
                        work.session.add(row)
                    if previews_enabled is not None:
                        row.previews_enabled = previews_enabled
                    if notify_level is not None:
                        row.notify_level = notify_level
                    if sync_default is not None:
                        row.sync_default = sync_default
                    row.updated_by = user_id
                    work.session.flush()
                    view = _view(row)
                    work.commit()
                return view
            except IntegrityError:
                continue
        raise RuntimeError("channel settings row kept conflicting")  # pragma: no cover


def _row_query(team_id: str, channel_id: str) -> Select[ChannelSettings]:
    return select(ChannelSettings).where(
        ChannelSettings.team_id == team_id, ChannelSettings.channel_id == channel_id
    )


def _view(row: ChannelSettings) -> ChannelSettingsView:
    return ChannelSettingsView(
        channel_id=row.channel_id,
        previews_enabled=bool(row.previews_enabled),
        notify_level=row.notify_level or DEFAULT_NOTIFY_LEVEL,
        updated_by=row.updated_by,
        sync_default=bool(row.sync_default),
    )
