"""Shared fixtures: a fresh database per test, on SQLite and (when configured) PostgreSQL."""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from hypothesis import settings as hypothesis_settings
from sqlalchemy import Engine, create_engine, inspect, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.pool import NullPool

from bot.database import create_db_engine, session_factory, upgrade
from services.unit_of_work import UnitOfWork, UnitOfWorkFactory
from simulators.jira_site.server import FakeJiraServer

PG_ENV = "CONNECT_TEST_DATABASE_URL"

# Property tests explore new inputs on every local run; CI (HYPOTHESIS_PROFILE=ci, set by
# .ci/run) replays a fixed sequence, so a landing never depends on the draw of the day.
hypothesis_settings.register_profile("ci", derandomize=True, database=None, print_blob=True)
hypothesis_settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))


def pytest_report_header() -> str:
    url = os.environ.get(PG_ENV)
    return (
        f"PostgreSQL tests: {'on (' + PG_ENV + ')' if url else 'skipped, ' + PG_ENV + ' unset'}; "
        f"hypothesis profile: {os.environ.get('HYPOTHESIS_PROFILE', 'default')}"
    )


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'connect.db'}"


def _postgres_server() -> URL:
    base = os.environ.get(PG_ENV)
    if not base:
        pytest.skip(
            f"PostgreSQL tests need {PG_ENV} (e.g. postgresql+psycopg://postgres@127.0.0.1:5432/test)"
        )
    return make_url(base)


@contextmanager
def _new_postgres_database(server: URL, purpose: str) -> Iterator[str]:
    """A brand-new database on the server, dropped (whoever is still connected) after use."""
    name = f"connect_{purpose}_{uuid.uuid4().hex[:12]}"
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield server.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A brand-new, empty PostgreSQL database on the server CONNECT_TEST_DATABASE_URL names
    (for what migrates a database itself: the migration tests, the CLI, other processes)."""
    with _new_postgres_database(_postgres_server(), "test") as url:
        yield url


@pytest.fixture(params=["sqlite", "postgres"])
def database_kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def database_url(database_kind: str, request: pytest.FixtureRequest) -> str:
    """An empty database of each supported kind."""
    return str(request.getfixturevalue(f"{database_kind}_url"))


@pytest.fixture
def empty_engine(database_url: str) -> Iterator[Engine]:
    engine = create_db_engine(database_url)
    yield engine
    engine.dispose()


# A database migrated through Alembic costs 0.05 s on SQLite and, on PostgreSQL, 0.5-1 s to
# create, migrate and drop (141 tests: a fifth of the suite's work). So each pytest process
# migrates one of each, once, and every test starts from a copy (SQLite: the file) or from
# its tables emptied (PostgreSQL: TRUNCATE … RESTART IDENTITY, after closing what the previous
# test left connected) — the same empty, migrated schema a new database would have.


@pytest.fixture(scope="session")
def _migrated_sqlite(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("migrated") / "connect.db"
    engine = create_db_engine(f"sqlite:///{path}")
    upgrade(engine)
    engine.dispose()
    return path


@pytest.fixture(scope="session")
def _migrated_postgres() -> Iterator[tuple[str, list[str]]]:
    with _new_postgres_database(_postgres_server(), "migrated") as url:
        engine = create_db_engine(url)
        upgrade(engine)
        tables = [t for t in inspect(engine).get_table_names() if t != "alembic_version"]
        engine.dispose()
        yield url, tables


def _emptied_postgres(url: str, tables: list[str]) -> None:
    quoted = ", ".join(f'"{table}"' for table in tables)
    admin = create_engine(url, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    with admin.connect() as connection:
        connection.execute(
            text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        )
        connection.execute(text(f"TRUNCATE TABLE {quoted} RESTART IDENTITY CASCADE"))
    admin.dispose()


@pytest.fixture
def engine(database_kind: str, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """A database migrated to head through Alembic (never create_all), with no rows."""
    if database_kind == "sqlite":
        path = tmp_path / "connect.db"
        shutil.copyfile(request.getfixturevalue("_migrated_sqlite"), path)
        url = f"sqlite:///{path}"
    else:
        url, tables = request.getfixturevalue("_migrated_postgres")
        _emptied_postgres(url, tables)
    engine = create_db_engine(url)
    yield engine
    engine.dispose()


@pytest.fixture
def uow(engine: Engine) -> UnitOfWorkFactory:
    sessions = session_factory(engine)
    return lambda: UnitOfWork(sessions)


@pytest.fixture
def fake_jira_cloud() -> Iterator[FakeJiraServer]:
    """A fake Jira Cloud site with the sample data, on a free local port."""
    with FakeJiraServer(deployment_type="Cloud") as server:
        yield server


@pytest.fixture
def fake_jira_dc() -> Iterator[FakeJiraServer]:
    """A fake Jira Data Center site with the sample data, on a free local port."""
    with FakeJiraServer(deployment_type="Server") as server:
        yield server
