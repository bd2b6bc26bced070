"""jira user identity: OAuth states under way and each person's encrypted Jira tokens

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-07 17:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "jira_oauth_states",
        sa.Column("state", sa.String(length=64), nullable=False),
        sa.Column("slack_user_id", sa.String(length=32), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("pending", sa.Text(), nullable=True),
        sa.Column("team_id", sa.String(length=32), nullable=False),
        sa.PrimaryKeyConstraint("state", name=op.f("pk_jira_oauth_states")),
    )
    op.create_index(
        op.f("ix_jira_oauth_states_expires_at"), "jira_oauth_states", ["expires_at"], unique=False
    )
    op.create_index(
        op.f("ix_jira_oauth_states_team_id"), "jira_oauth_states", ["team_id"], unique=False
    )
    op.create_table(
        "jira_user_tokens",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("slack_user_id", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("api_base_url", sa.String(length=500), nullable=False),
        sa.Column("jira_account_id", sa.String(length=128), nullable=False),
        sa.Column("jira_display_name", sa.String(length=255), nullable=False),
        sa.Column("access_token_encrypted", sa.Text(), nullable=False),
        sa.Column("access_expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("refresh_token_encrypted", sa.Text(), nullable=True),
        sa.Column("scopes", sa.Text(), nullable=False),
        sa.Column("connected_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("refreshed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("team_id", sa.String(length=32), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_jira_user_tokens")),
        sa.UniqueConstraint(
            "team_id", "slack_user_id", name=op.f("uq_jira_user_tokens_team_id_slack_user_id")
        ),
    )
    op.create_index(
        op.f("ix_jira_user_tokens_jira_account_id"),
        "jira_user_tokens",
        ["jira_account_id"],
        unique=False,
    )
    op.create_index(
        op.f("ix_jira_user_tokens_team_id"), "jira_user_tokens", ["team_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_jira_user_tokens_team_id"), table_name="jira_user_tokens")
    op.drop_index(op.f("ix_jira_user_tokens_jira_account_id"), table_name="jira_user_tokens")
    op.drop_table("jira_user_tokens")
    op.drop_index(op.f("ix_jira_oauth_states_team_id"), table_name="jira_oauth_states")
    op.drop_index(op.f("ix_jira_oauth_states_expires_at"), table_name="jira_oauth_states")
    op.drop_table("jira_oauth_states")
