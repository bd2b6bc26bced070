"""personal notifications: each person's choice of DMs, and who reported a cached issue

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07 17:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "notify_preferences",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("team_id", sa.String(length=32), nullable=False),
        sa.Column("slack_user_id", sa.String(length=32), nullable=False),
        sa.Column("kinds", sa.String(length=128), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notify_preferences")),
        sa.UniqueConstraint(
            "team_id", "slack_user_id", name=op.f("uq_notify_preferences_team_id_slack_user_id")
        ),
    )
    op.create_index(
        op.f("ix_notify_preferences_team_id"), "notify_preferences", ["team_id"], unique=False
    )
    with op.batch_alter_table("jira_tickets") as batch:
        batch.add_column(sa.Column("reporter_account_id", sa.String(length=128), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("jira_tickets") as batch:
        batch.drop_column("reporter_account_id")
    op.drop_index(op.f("ix_notify_preferences_team_id"), table_name="notify_preferences")
    op.drop_table("notify_preferences")
