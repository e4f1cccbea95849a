"""Runs and per-stage results.

Revision ID: 0001
Revises:
Create Date: 2026-11-25
"""

import sqlalchemy as sa
from alembic import op

from pipelines.tables import UTCDateTime

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create the runs and stage_results tables."""
    op.create_table(
        "runs",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("source_key", sa.String(2048), nullable=False),
        sa.Column("source_json", sa.Text(), nullable=False),
        sa.Column("depth", sa.String(16), nullable=False),
        sa.Column("pipeline_version", sa.String(16), nullable=False),
        sa.Column("fresh", sa.Boolean(), nullable=False),
        sa.Column("requester", sa.String(128), nullable=True),
        sa.Column("namespace", sa.String(64), nullable=False, server_default="cli"),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("error_code", sa.String(64), nullable=True),
        sa.Column("error_message", sa.Text(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("started_at", UTCDateTime(), nullable=True),
        sa.Column("finished_at", UTCDateTime(), nullable=True),
    )
    op.create_index("ix_runs_source", "runs", ["source_key", "pipeline_version", "depth"])
    op.create_index("ix_runs_created", "runs", ["created_at"])
    op.create_table(
        "stage_results",
        sa.Column("run_id", sa.String(32), sa.ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("stage", sa.String(64), primary_key=True),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("output_json", sa.Text(), nullable=True),
        sa.Column("error_code", sa.String(64), nullable=True),
        sa.Column("error_message", sa.Text(), nullable=True),
        sa.Column("reused_from", sa.String(32), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("started_at", UTCDateTime(), nullable=True),
        sa.Column("finished_at", UTCDateTime(), nullable=True),
        sa.Column("duration_seconds", sa.Float(), nullable=True),
    )


def downgrade() -> None:
    """Drop both tables."""
    op.drop_table("stage_results")
    op.drop_index("ix_runs_created", table_name="runs")
    op.drop_index("ix_runs_source", table_name="runs")
    op.drop_table("runs")
