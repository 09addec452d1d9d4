"""Banned terms: words and phrases the moderators keep out of prompts, each with its rule.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-24 23:15:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "banned_terms",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("term", sa.String(length=200), nullable=False),
        sa.Column("reason", sa.String(length=300), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["created_by_id"], ["users.id"], name=op.f("fk_banned_terms_created_by_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_banned_terms")),
        sa.UniqueConstraint("term", name=op.f("uq_banned_terms_term")),
    )


def downgrade() -> None:
    op.drop_table("banned_terms")
