"""One poller at a time across processes (SPEC §8): a lease kept in `poll_cursors`.

The lease is the row (team_id "", scope "lease") whose `cursor_at` is the time it runs out.
A process takes it by compare-and-set: it writes its own expiry where the lease has run out,
and renews it where the expiry is still the one it wrote last. That expiry, exact to the
microsecond and jittered, names the holder, so no other column is needed; a holder that dies
stops renewing and another process takes over once its expiry has passed. The same
statements serialise on SQLite (one process, its write lock) and on PostgreSQL (row locks).
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from sqlalchemy import or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from models import PollCursor, utcnow
from services.unit_of_work import UnitOfWorkFactory

log = logging.getLogger(__name__)

SITE = ""  # PollCursor.team_id of rows about the Jira site as a whole
LEASE_SCOPE = "lease"
_RUN_OUT = datetime(1970, 1, 1, tzinfo=UTC)


class PollLease:
    """`hold()` before each step of work: True while this process is the poller."""

    def __init__(
        self,
        uow: UnitOfWorkFactory,
        *,
        ttl: timedelta,
        scope: str = LEASE_SCOPE,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.uow = uow
        self.ttl = ttl
        self.scope = scope
        self.clock = clock
        self._mark: datetime | None = None  # the expiry this process wrote last

    @property
    def held(self) -> bool:
        return self._mark is not None

    def hold(self) -> bool:
        """Take the lease if it is free or has run out, renew it if it is ours."""
        now = self.clock()
        # Jitter: two processes never write the same expiry, so the expiry names its writer.
        mark = now + self.ttl + timedelta(microseconds=random.randrange(1, 1000))
        had = self._mark is not None
        ours = PollCursor.cursor_at == self._mark if self._mark is not None else None
        free = or_(PollCursor.cursor_at.is_(None), PollCursor.cursor_at < now)
        with self.uow() as work:
            connection = work.session.connection()
            taken = connection.execute(
                update(PollCursor)
                .where(
                    PollCursor.team_id == SITE,
                    PollCursor.scope == self.scope,
                    or_(free, ours) if ours is not None else free,
                )
                .values(cursor_at=mark, updated_at=now)
            ).rowcount
            if not taken and not self._exists(work.session):
                work.session.add(
                    PollCursor(team_id=SITE, scope=self.scope, cursor_at=mark, updated_at=now)
                )
                try:
                    work.session.flush()
                except IntegrityError:  # another process created it first, and holds it
                    taken = 0
                else:
                    taken = 1
            if taken:
                work.commit()
        self._mark = mark if taken else None
        if had and not taken:
            log.warning("another process has taken over polling Jira")
        return bool(taken)

    def release(self) -> None:
        """Hand the lease back at once (a clean shutdown), so another process need not wait."""
        if self._mark is None:
            return
        with self.uow() as work:
            work.session.connection().execute(
                update(PollCursor)
                .where(
                    PollCursor.team_id == SITE,
                    PollCursor.scope == self.scope,
                    PollCursor.cursor_at == self._mark,
                )
                .values(cursor_at=_RUN_OUT)
            )
            work.commit()
        self._mark = None

    def _exists(self, session: Session) -> bool:
        found = session.scalars(
            select(PollCursor.id).where(PollCursor.team_id == SITE, PollCursor.scope == self.scope)
        ).first()
        return found is not None
