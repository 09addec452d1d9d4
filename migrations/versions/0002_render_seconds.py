"""Jobs record how long their render took: daily GPU quotas and true ETAs are sums of it.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24 22:55:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("jobs") as batch:
        batch.add_column(sa.Column("render_seconds", sa.Double(), nullable=True))
        batch.create_index("ix_jobs_finished_at", ["finished_at"])


def downgrade() -> None:
    with op.batch_alter_table("jobs") as batch:
        batch.drop_index("ix_jobs_finished_at")
        batch.drop_column("render_seconds")
