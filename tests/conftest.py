"""Shared fixtures: a fresh database per test, on SQLite and (when configured) PostgreSQL."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import settings as hypothesis_settings
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url

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


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A brand-new PostgreSQL database on the server CONNECT_TEST_DATABASE_URL names."""
    base = os.environ.get(PG_ENV)
    if not base:
        pytest.skip(
            f"PostgreSQL tests need {PG_ENV} (e.g. postgresql+psycopg://postgres@127.0.0.1:5432/test)"
        )
    server = make_url(base)
    name = f"connect_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield server.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest) -> str:
    """An empty database of each supported kind."""
    return str(request.getfixturevalue(f"{request.param}_url"))


@pytest.fixture
def empty_engine(database_url: str) -> Iterator[Engine]:
    engine = create_db_engine(database_url)
    yield engine
    engine.dispose()


@pytest.fixture
def engine(empty_engine: Engine) -> Engine:
    """A database migrated to head through Alembic (never create_all)."""
    upgrade(empty_engine)
    return empty_engine


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
