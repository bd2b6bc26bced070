"""burst edits: an outbox row's revision, the revision Slack shows, and a DM's channel

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07 16:40:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("notification_outbox") as batch:
        batch.add_column(sa.Column("revision", sa.Integer(), server_default="0", nullable=False))
        batch.add_column(sa.Column("sent_revision", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("posted_channel", sa.String(length=32), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("notification_outbox") as batch:
        batch.drop_column("posted_channel")
        batch.drop_column("sent_revision")
        batch.drop_column("revision")
