"""A unit of work: one session per request or job, rolled back unless committed."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import TracebackType

from sqlalchemy.orm import Session

# Execution option of a read-only unit's connection: SQLite then begins a deferred (read)
# transaction and takes no write lock (bot.database); other databases ignore it.
READ_ONLY_OPTION = "connect_read_only"


class UnitOfWork:
    def __init__(self, session_factory: Callable[[], Session], *, read_only: bool = False) -> None:
        self._session_factory = session_factory
        self._session: Session | None = None
        self.read_only = read_only

    @property
    def session(self) -> Session:
        if self._session is None:
            raise RuntimeError("the unit of work is used outside its `with` block")
        return self._session

    def __enter__(self) -> UnitOfWork:
        self._session = self._session_factory()
        if self.read_only:
            self._session.connection(execution_options={READ_ONLY_OPTION: True})
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        session = self.session
        try:
            session.rollback()
        finally:
            session.close()
            self._session = None

    def commit(self) -> None:
        self.session.commit()

    def rollback(self) -> None:
        self.session.rollback()


UnitOfWorkFactory = Callable[[], UnitOfWork]


def reading(uow: UnitOfWorkFactory) -> UnitOfWork:
    """A unit of work that only reads: on SQLite it waits for no writer and holds no write
    lock. It must not write (in WAL mode a reader's snapshot cannot become a writer's once
    another connection has committed: "database is locked")."""
    work = uow()
    work.read_only = True
    return work


# SQLite ignores FOR UPDATE SKIP LOCKED; it serves one process, so its claims are serialised
# here instead (several processes need PostgreSQL, SPEC §8).
_SQLITE_CLAIMS = threading.Lock()


@contextmanager
def exclusive_claims(work: UnitOfWork) -> Iterator[None]:
    """Hold while selecting and claiming rows that other threads might claim too."""
    if work.session.get_bind().dialect.name != "sqlite":
        yield
        return
    with _SQLITE_CLAIMS:
        yield
