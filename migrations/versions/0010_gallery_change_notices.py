"""PostgreSQL tells listeners when anything the public gallery pages show has changed.

Statement-level triggers on the tables those pages read send `NOTIFY atelier_gallery` (PostgreSQL
delivers it after the commit, once per transaction however many statements fired it). The gallery's
page cache (gallery.page_cache) drops every cached page when one arrives. Job columns that change on
every render step (lease, progress, queue position, ETA) are left out, and so is a new job (no
public page shows a job before its images), so queued and running renders do not empty the cache.
SQLite has no NOTIFY; the gallery caches no pages there.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-03 18:00:00
"""

from __future__ import annotations

from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

CHANNEL = "atelier_gallery"
FUNCTION = "atelier_gallery_changed"
# table -> the events that change what a public page shows
WATCHED = {
    "images": "INSERT OR UPDATE OR DELETE",
    "votes": "INSERT OR UPDATE OR DELETE",
    "model_files": "INSERT OR UPDATE OR DELETE",
    "users": "INSERT OR UPDATE OF discord_id, name, role OR DELETE",
    "jobs": (
        "UPDATE OF owner_id, source, recipe, checkpoint_id, state, error, discord_channel_id,"
        " discord_message_id, parent_image_id, finished_at, render_seconds, exact_of_image_id, exact_match"
        " OR DELETE"
    ),
}


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(
        f"CREATE FUNCTION {FUNCTION}() RETURNS trigger LANGUAGE plpgsql AS $$"
        f" BEGIN PERFORM pg_notify('{CHANNEL}', ''); RETURN NULL; END $$"
    )
    for table, events in WATCHED.items():
        op.execute(
            f"CREATE TRIGGER {table}_gallery_changed AFTER {events} ON {table}"
            f" FOR EACH STATEMENT EXECUTE FUNCTION {FUNCTION}()"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table in WATCHED:
        op.execute(f"DROP TRIGGER {table}_gallery_changed ON {table}")
    op.execute(f"DROP FUNCTION {FUNCTION}()")
