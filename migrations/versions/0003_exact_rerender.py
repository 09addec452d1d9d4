"""Exact re-renders: which stored image a job re-renders, and whether the new pixels matched it.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24 22:45:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("jobs") as batch:
        batch.add_column(sa.Column("exact_of_image_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("exact_match", sa.Boolean(), nullable=True))
        batch.create_foreign_key("fk_jobs_exact_of_image_id_images", "images", ["exact_of_image_id"], ["id"])


def downgrade() -> None:
    with op.batch_alter_table("jobs") as batch:
        batch.drop_constraint("fk_jobs_exact_of_image_id_images", type_="foreignkey")
        batch.drop_column("exact_match")
        batch.drop_column("exact_of_image_id")
