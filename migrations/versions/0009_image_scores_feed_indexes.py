"""Stored vote tallies (images.score, backfilled) and the indexes the feed, search and filters seek.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-25 02:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

# Exactly the expressions gallery.feed queries with (and atelier.schema declares).
PROMPT_DOCUMENT = "to_tsvector('english'::regconfig, coalesce(recipe ->> 'prompt', ''))"
SAMPLER = "(recipe ->> 'sampler')"


def upgrade() -> None:
    # A plain ALTER TABLE on both databases: SQLite adds a column with a constant default in place
    # (a batch copy of the table would trip over the rows that reference images).
    op.add_column("images", sa.Column("score", sa.Integer(), nullable=False, server_default=sa.text("0")))
    op.execute(
        "UPDATE images SET score = (SELECT COALESCE(SUM(votes.value), 0) FROM votes WHERE votes.image_id = images.id)"
        " WHERE EXISTS (SELECT 1 FROM votes WHERE votes.image_id = images.id)"
    )
    op.create_index("ix_images_feed_new", "images", ["hidden", "created_at", "id"], unique=False)
    op.create_index("ix_images_feed_top", "images", ["hidden", "score", "created_at", "id"], unique=False)
    op.create_index("ix_jobs_checkpoint_id", "jobs", ["checkpoint_id"], unique=False)
    op.create_index("ix_jobs_parent_image_id", "jobs", ["parent_image_id"], unique=False)
    if op.get_bind().dialect.name == "postgresql":
        op.create_index("ix_jobs_prompt_search", "jobs", [sa.text(PROMPT_DOCUMENT)], postgresql_using="gin")
        op.create_index("ix_jobs_sampler", "jobs", [sa.text(SAMPLER)])


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.drop_index("ix_jobs_sampler", table_name="jobs")
        op.drop_index("ix_jobs_prompt_search", table_name="jobs")
    op.drop_index("ix_jobs_parent_image_id", table_name="jobs")
    op.drop_index("ix_jobs_checkpoint_id", table_name="jobs")
    op.drop_index("ix_images_feed_top", table_name="images")
    op.drop_index("ix_images_feed_new", table_name="images")
    op.drop_column("images", "score")  # SQLite 3.35+ drops an unindexed column in place too
