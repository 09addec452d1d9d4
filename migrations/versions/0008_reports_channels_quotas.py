"""Reports queue, per-channel policies, per-Discord-role quotas, and members' Discord roles.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-25 01:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

_REPORT_STATE = sa.Enum("open", "resolved", "dismissed", name="report_state", native_enum=False, length=16)


def upgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("discord_role_ids", sa.JSON(), nullable=False, server_default="[]"))
    op.create_table(
        "reports",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("image_id", sa.Integer(), nullable=False),
        sa.Column("reporter_id", sa.Integer(), nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=False),
        sa.Column("state", _REPORT_STATE, nullable=False),
        sa.Column("resolved_by_id", sa.Integer(), nullable=True),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["image_id"], ["images.id"], name=op.f("fk_reports_image_id_images")),
        sa.ForeignKeyConstraint(["reporter_id"], ["users.id"], name=op.f("fk_reports_reporter_id_users")),
        sa.ForeignKeyConstraint(["resolved_by_id"], ["users.id"], name=op.f("fk_reports_resolved_by_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reports")),
        sa.UniqueConstraint("image_id", "reporter_id", name=op.f("uq_reports_image_id_reporter_id")),
    )
    op.create_index(op.f("ix_reports_image_id"), "reports", ["image_id"], unique=False)
    op.create_index(op.f("ix_reports_state"), "reports", ["state"], unique=False)
    op.create_table(
        "channel_policies",
        sa.Column("channel_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("allowed_model_ids", sa.JSON(), nullable=False),
        sa.Column("spoiler_all", sa.Boolean(), nullable=False),
        sa.Column("updated_by_id", sa.Integer(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["updated_by_id"], ["users.id"], name=op.f("fk_channel_policies_updated_by_id_users")),
        sa.PrimaryKeyConstraint("channel_id", name=op.f("pk_channel_policies")),
    )
    op.create_table(
        "role_quotas",
        sa.Column("discord_role_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("role_name", sa.String(length=100), nullable=False),
        sa.Column("daily_gpu_seconds", sa.Double(), nullable=False),
        sa.Column("max_queued", sa.Integer(), nullable=False),
        sa.Column("updated_by_id", sa.Integer(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["updated_by_id"], ["users.id"], name=op.f("fk_role_quotas_updated_by_id_users")),
        sa.PrimaryKeyConstraint("discord_role_id", name=op.f("pk_role_quotas")),
    )


def downgrade() -> None:
    op.drop_table("role_quotas")
    op.drop_table("channel_policies")
    op.drop_index(op.f("ix_reports_state"), table_name="reports")
    op.drop_index(op.f("ix_reports_image_id"), table_name="reports")
    op.drop_table("reports")
    with op.batch_alter_table("users") as batch:
        batch.drop_column("discord_role_ids")
