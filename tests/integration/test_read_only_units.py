"""A read-only unit of work on SQLite takes no write lock: it reads while a writer holds it."""

from __future__ import annotations

import threading
from pathlib import Path

from sqlalchemy import func, select, text

from bot.database import create_db_engine, session_factory, upgrade
from models import ProcessedDelivery
from services.unit_of_work import UnitOfWork, reading


def test_a_reading_unit_reads_while_a_writer_holds_the_write_lock(tmp_path: Path) -> None:
    engine = create_db_engine(f"sqlite:///{tmp_path / 'connect.db'}")
    upgrade(engine)
    sessions = session_factory(engine)
    try:
        with engine.connect() as writer:
            writer.execute(text("SELECT 1"))  # BEGIN IMMEDIATE: the write lock is held
            assert writer.in_transaction()
            counted: list[int] = []

            def read() -> None:
                with reading(lambda: UnitOfWork(sessions)) as work:
                    statement = select(func.count()).select_from(ProcessedDelivery)
                    counted.append(work.session.scalar(statement) or 0)

            reader = threading.Thread(target=read)
            reader.start()
            reader.join(20)  # a writer's unit would wait for the lock (30 s busy timeout)
            assert not reader.is_alive()
            assert counted == [0]
            writer.rollback()
    finally:
        engine.dispose()


def test_a_unit_of_work_writes_unless_declared_read_only(tmp_path: Path) -> None:
    engine = create_db_engine(f"sqlite:///{tmp_path / 'connect.db'}")
    sessions = session_factory(engine)
    try:
        assert not UnitOfWork(sessions).read_only
        assert reading(lambda: UnitOfWork(sessions)).read_only
    finally:
        engine.dispose()
