"""Watchlists: watched channels, playlists and feeds, and the entries each has seen.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-26
"""

import sqlalchemy as sa
from alembic import op

from pipelines.tables import UTCDateTime

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create watches and watch_entries (UNIQUE (watch_id, entry_key): one claim per entry)."""
    op.create_table(
        "watches",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("guild_id", sa.String(32), nullable=False),
        sa.Column("channel_id", sa.String(32), nullable=False),
        sa.Column("url", sa.String(2048), nullable=False),
        sa.Column("kind", sa.String(16), nullable=True),
        sa.Column("depth", sa.String(16), nullable=False),
        sa.Column("digest", sa.String(16), nullable=False),
        sa.Column("backfill", sa.Integer(), nullable=False),
        sa.Column("created_by", sa.String(64), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("baselined_at", UTCDateTime(), nullable=True),
        sa.Column("next_poll_at", UTCDateTime(), nullable=False),
        sa.Column("last_polled_at", UTCDateTime(), nullable=True),
        sa.Column("etag", sa.String(512), nullable=True),
        sa.Column("last_modified", sa.String(128), nullable=True),
        sa.Column("error_count", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("digest_through", UTCDateTime(), nullable=True),
        sa.UniqueConstraint("guild_id", "channel_id", "url", name="uq_watches_target"),
    )
    op.create_index("ix_watches_next_poll", "watches", ["next_poll_at"])
    op.create_table(
        "watch_entries",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("watch_id", sa.Integer(), sa.ForeignKey("watches.id", ondelete="CASCADE"), nullable=False),
        sa.Column("entry_key", sa.String(255), nullable=False),
        sa.Column("url", sa.String(2048), nullable=True),
        sa.Column("title", sa.String(300), nullable=True),
        sa.Column("published_at", UTCDateTime(), nullable=True),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("run_id", sa.String(32), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("claimed_at", UTCDateTime(), nullable=False),
        sa.UniqueConstraint("watch_id", "entry_key", name="uq_watch_entries_key"),
    )
    op.create_index("ix_watch_entries_run", "watch_entries", ["run_id"])
    op.create_index("ix_watch_entries_claimed", "watch_entries", ["claimed_at"])


def downgrade() -> None:
    """Drop both tables."""
    op.drop_index("ix_watch_entries_claimed", table_name="watch_entries")
    op.drop_index("ix_watch_entries_run", table_name="watch_entries")
    op.drop_table("watch_entries")
    op.drop_index("ix_watches_next_poll", table_name="watches")
    op.drop_table("watches")
