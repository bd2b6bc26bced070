"""Alembic owns the schema: empty → head works, and the models match what it builds."""

from __future__ import annotations

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, inspect

import models
from bot.database import (
    SchemaOutOfDate,
    alembic_config,
    current_revision,
    ensure_schema,
    head_revision,
    upgrade,
)

TABLES = {
    "jira_tickets",
    "jira_slack_links",
    "channel_subscriptions",
    "channel_settings",
    "user_links",
    "processed_deliveries",
    "notification_outbox",
    "poll_cursors",
    "connect_actions",
    "subscription_threads",
}


def test_upgrade_from_empty_to_head(empty_engine: Engine) -> None:
    assert current_revision(empty_engine) is None
    upgrade(empty_engine)
    assert current_revision(empty_engine) == head_revision()
    tables = set(inspect(empty_engine).get_table_names())
    assert tables >= TABLES
    for table in TABLES:
        columns = {column["name"] for column in inspect(empty_engine).get_columns(table)}
        assert "team_id" in columns, table


def test_models_match_the_migrated_schema(engine: Engine) -> None:
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        assert compare_metadata(context, models.Base.metadata) == []


def test_downgrade_to_base_and_back(empty_engine: Engine) -> None:
    # Its own database: the `engine` fixture's schema is shared by the tests of a process.
    upgrade(empty_engine)
    with empty_engine.begin() as connection:
        command.downgrade(alembic_config(connection), "base")
    assert not TABLES & set(inspect(empty_engine).get_table_names())
    upgrade(empty_engine)
    assert current_revision(empty_engine) == head_revision()


def test_sqlite_upgrades_itself(sqlite_url: str) -> None:
    from bot.database import create_db_engine

    engine = create_db_engine(sqlite_url)
    ensure_schema(engine)
    assert current_revision(engine) == head_revision()
    engine.dispose()


def test_postgresql_refuses_an_out_of_date_schema(postgres_url: str) -> None:
    from bot.database import create_db_engine

    engine = create_db_engine(postgres_url)
    try:
        with pytest.raises(SchemaOutOfDate, match="python -m bot db upgrade"):
            ensure_schema(engine)
        upgrade(engine)
        ensure_schema(engine)  # up to date: no complaint
    finally:
        engine.dispose()
