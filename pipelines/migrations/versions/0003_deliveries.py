"""Deliveries: where each run's progress and briefing go, and how far delivery got.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25
"""

import sqlalchemy as sa
from alembic import op

from pipelines.tables import UTCDateTime

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create the deliveries table."""
    op.create_table(
        "deliveries",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("run_id", sa.String(32), sa.ForeignKey("runs.id", ondelete="CASCADE"), nullable=False),
        sa.Column("destination", sa.String(64), nullable=False),
        sa.Column("guild_id", sa.String(32), nullable=True),
        sa.Column("channel_id", sa.String(32), nullable=False),
        sa.Column("application_id", sa.String(32), nullable=True),
        sa.Column("interaction_token", sa.Text(), nullable=True),
        sa.Column("interaction_at", UTCDateTime(), nullable=True),
        sa.Column("attachment_limit", sa.Integer(), nullable=True),
        sa.Column("status_route", sa.String(16), nullable=True),
        sa.Column("status_message_id", sa.String(32), nullable=True),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("route", sa.String(16), nullable=True),
        sa.Column("parts_sent", sa.Integer(), nullable=False),
        sa.Column("message_id", sa.String(32), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("claimed_at", UTCDateTime(), nullable=True),
        sa.Column("delivered_at", UTCDateTime(), nullable=True),
        sa.UniqueConstraint("run_id", "destination", name="uq_deliveries_destination"),
    )
    op.create_index("ix_deliveries_state", "deliveries", ["state"])


def downgrade() -> None:
    """Drop the deliveries table."""
    op.drop_index("ix_deliveries_state", table_name="deliveries")
    op.drop_table("deliveries")
