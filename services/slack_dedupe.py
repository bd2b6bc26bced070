"""Slack-side repeats, remembered in `processed_deliveries` so they hold across restarts.

Two kinds of rows, told apart by `source`:
- `slack_event`: one per Events API `event_id` that made Connect act, so a retried or repeated
  delivery never acts twice;
- `slack_preview`: one per (workspace, channel, thread, issue key), holding when the key was
  last previewed there, so a thread gets at most one preview of a key per hour (a sliding
  hour: the row is renewed, only when the last preview is older than the window).
Rows are written as done, so the Jira delivery processor never claims them, and housekeeping
forgets them a week after they were last used.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime, timedelta

from sqlalchemy import delete, update
from sqlalchemy.exc import IntegrityError

from models import ProcessedDelivery, utcnow
from models.delivery import DONE
from services.unit_of_work import UnitOfWorkFactory

EVENT_SOURCE = "slack_event"
PREVIEW_SOURCE = "slack_preview"
PREVIEW_WINDOW = timedelta(hours=1)


def preview_key(team_id: str, channel_id: str, thread_ts: str, issue_key: str) -> str:
    return f"{team_id}:{channel_id}:{thread_ts}:{issue_key.upper()}"


class SlackEventLog:
    """Event ids Connect has acted on."""

    def __init__(self, uow: UnitOfWorkFactory, *, clock: Callable[[], datetime] = utcnow) -> None:
        self.uow = uow
        self.clock = clock

    def first_delivery(self, team_id: str, event_id: str) -> bool:
        """Record the event id; False when it was recorded before (a retry or a repeat)."""
        now = self.clock()
        try:
            with self.uow() as work:
                work.session.add(_done_row(team_id, EVENT_SOURCE, event_id[:255], now))
                work.commit()
        except IntegrityError:
            return False
        return True


class PreviewThrottle:
    """At most one preview of a key per thread within `window`, across threads and processes."""

    def __init__(
        self,
        uow: UnitOfWorkFactory,
        *,
        window: timedelta = PREVIEW_WINDOW,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.uow = uow
        self.window = window
        self.clock = clock

    def claim(
        self, team_id: str, channel_id: str, thread_ts: str, keys: Iterable[str]
    ) -> list[str]:
        """The keys this thread may preview now, each claimed for the window; others dropped."""
        return [
            key
            for key in keys
            if self._claim_one(preview_key(team_id, channel_id, thread_ts, key), team_id)
        ]

    def release(self, team_id: str, channel_id: str, thread_ts: str, keys: Iterable[str]) -> None:
        """Give claims back when the preview could not be posted, so a later mention may."""
        wanted = [preview_key(team_id, channel_id, thread_ts, key) for key in keys]
        if not wanted:
            return
        with self.uow() as work:
            work.session.execute(
                delete(ProcessedDelivery).where(
                    ProcessedDelivery.source == PREVIEW_SOURCE,
                    ProcessedDelivery.dedupe_key.in_(wanted),
                )
            )
            work.commit()

    def _claim_one(self, dedupe_key: str, team_id: str) -> bool:
        now = self.clock()
        try:
            with self.uow() as work:
                work.session.add(_done_row(team_id, PREVIEW_SOURCE, dedupe_key, now))
                work.commit()
            return True
        except IntegrityError:
            pass
        # Previewed here before: renew the row only if that was longer ago than the window.
        # The condition is checked by the UPDATE itself, so two racing claims renew it once.
        with self.uow() as work:
            result = work.session.execute(
                update(ProcessedDelivery)
                .where(
                    ProcessedDelivery.source == PREVIEW_SOURCE,
                    ProcessedDelivery.dedupe_key == dedupe_key,
                    ProcessedDelivery.processed_at < now - self.window,
                )
                .values(processed_at=now)
            )
            work.commit()
        return int(getattr(result, "rowcount", 0)) == 1


def _done_row(team_id: str, source: str, dedupe_key: str, now: datetime) -> ProcessedDelivery:
    return ProcessedDelivery(
        team_id=team_id,
        source=source,
        dedupe_key=dedupe_key,
        status=DONE,
        received_at=now,
        available_at=now,
        processed_at=now,
    )
