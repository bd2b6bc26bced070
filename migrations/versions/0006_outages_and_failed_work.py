"""outages and failed work: tries that met an outage, and when a notification failed

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-07 14:10:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("processed_deliveries") as batch:
        batch.add_column(sa.Column("outages", sa.Integer(), server_default="0", nullable=False))
    with op.batch_alter_table("notification_outbox") as batch:
        batch.add_column(sa.Column("outages", sa.Integer(), server_default="0", nullable=False))
        batch.add_column(sa.Column("failed_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("notification_outbox") as batch:
        batch.drop_column("failed_at")
        batch.drop_column("outages")
    with op.batch_alter_table("processed_deliveries") as batch:
        batch.drop_column("outages")
