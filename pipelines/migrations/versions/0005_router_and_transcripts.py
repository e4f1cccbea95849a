"""Router statistics and the transcript cache.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-25
"""

import sqlalchemy as sa
from alembic import op

from pipelines.tables import UTCDateTime

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create router_stats (additive sums per task and model) and transcript_cache."""
    op.create_table(
        "router_stats",
        sa.Column("task", sa.String(64), primary_key=True),
        sa.Column("model", sa.String(64), primary_key=True),
        sa.Column("calls", sa.Integer, nullable=False, server_default="0"),
        sa.Column("successes", sa.Float, nullable=False, server_default="0"),
        sa.Column("failures", sa.Float, nullable=False, server_default="0"),
        sa.Column("repairs", sa.Integer, nullable=False, server_default="0"),
        sa.Column("latency_n", sa.Integer, nullable=False, server_default="0"),
        sa.Column("latency_log_sum", sa.Float, nullable=False, server_default="0"),
        sa.Column("latency_log_sq", sa.Float, nullable=False, server_default="0"),
        sa.Column("quality_sum", sa.Float, nullable=False, server_default="0"),
        sa.Column("quality_n", sa.Integer, nullable=False, server_default="0"),
        sa.Column("cost_usd", sa.Float, nullable=False, server_default="0"),
    )
    op.create_table(
        "transcript_cache",
        sa.Column("key", sa.String(160), primary_key=True),
        sa.Column("transcript_json", sa.Text, nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
    )


def downgrade() -> None:
    """Drop both tables."""
    op.drop_table("transcript_cache")
    op.drop_table("router_stats")
