"""thread sync: the per-link sync switch, the channel default, replies and their comments

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07 16:50:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("jira_slack_links") as batch:
        batch.add_column(
            sa.Column("sync_replies", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
    with op.batch_alter_table("channel_settings") as batch:
        batch.add_column(
            sa.Column("sync_default", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
    op.create_table(
        "synced_replies",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("team_id", sa.String(length=32), nullable=False),
        sa.Column("channel_id", sa.String(length=32), nullable=False),
        sa.Column("message_ts", sa.String(length=32), nullable=False),
        sa.Column("thread_ts", sa.String(length=32), nullable=False),
        sa.Column("issue_id", sa.String(length=32), nullable=False),
        sa.Column("issue_key", sa.String(length=64), nullable=False),
        sa.Column("slack_user_id", sa.String(length=32), nullable=False),
        sa.Column("comment_id", sa.String(length=64), nullable=True),
        sa.Column("permalink", sa.String(length=512), nullable=True),
        sa.Column("edited_ts", sa.String(length=32), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_synced_replies")),
        sa.UniqueConstraint(
            "team_id",
            "channel_id",
            "message_ts",
            name=op.f("uq_synced_replies_team_id_channel_id_message_ts"),
        ),
    )
    with op.batch_alter_table("synced_replies") as batch:
        batch.create_index(batch.f("ix_synced_replies_team_id"), ["team_id"])
        batch.create_index(batch.f("ix_synced_replies_issue_id"), ["issue_id"])
        batch.create_index(batch.f("ix_synced_replies_comment_id"), ["comment_id"])
        batch.create_index(batch.f("ix_synced_replies_permalink"), ["permalink"])


def downgrade() -> None:
    op.drop_table("synced_replies")
    with op.batch_alter_table("channel_settings") as batch:
        batch.drop_column("sync_default")
    with op.batch_alter_table("jira_slack_links") as batch:
        batch.drop_column("sync_replies")
