"""Jobs record their amount of work (sampler steps of one native-size image), so the fair order and
ETAs over a long queue need no recipe parsing.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-24 23:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("jobs") as batch:
        batch.add_column(sa.Column("work_units", sa.Double(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("jobs") as batch:
        batch.drop_column("work_units")
