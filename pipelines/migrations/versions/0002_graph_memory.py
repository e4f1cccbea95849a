"""Graph memory: entities, claims and the edges between them (memory/tables.py).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26
"""

import sqlalchemy as sa
from alembic import op

from pipelines.tables import UTCDateTime

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create memory_entities, memory_claims and memory_edges."""
    op.create_table(
        "memory_entities",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("namespace", sa.String(64), nullable=False),
        sa.Column("name", sa.String(256), nullable=False),
        sa.Column("display_name", sa.String(256), nullable=False),
        sa.Column("first_seen", UTCDateTime(), nullable=False),
        sa.UniqueConstraint("namespace", "name", name="uq_memory_entities_name"),
    )
    op.create_table(
        "memory_claims",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("namespace", sa.String(64), nullable=False),
        sa.Column("run_id", sa.String(64), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("timestamp_seconds", sa.Float(), nullable=True),
        sa.Column("verdict", sa.String(32), nullable=True),
        sa.Column("confidence", sa.Float(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
    )
    op.create_index("ix_memory_claims_run", "memory_claims", ["namespace", "run_id"])
    op.create_table(
        "memory_edges",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("namespace", sa.String(64), nullable=False),
        sa.Column("run_id", sa.String(64), nullable=False),
        sa.Column("relation", sa.String(32), nullable=False),
        sa.Column(
            "claim_id", sa.Integer(), sa.ForeignKey("memory_claims.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column(
            "from_entity_id",
            sa.Integer(),
            sa.ForeignKey("memory_entities.id", ondelete="CASCADE"),
            nullable=True,
        ),
        sa.Column(
            "to_entity_id",
            sa.Integer(),
            sa.ForeignKey("memory_entities.id", ondelete="CASCADE"),
            nullable=False,
        ),
    )
    op.create_index("ix_memory_edges_run", "memory_edges", ["namespace", "run_id"])
    op.create_index("ix_memory_edges_to", "memory_edges", ["to_entity_id", "relation"])
    op.create_index("ix_memory_edges_from", "memory_edges", ["from_entity_id", "relation"])
    op.create_index("ix_memory_edges_claim", "memory_edges", ["claim_id"])


def downgrade() -> None:
    """Drop the three graph memory tables."""
    op.drop_index("ix_memory_edges_claim", table_name="memory_edges")
    op.drop_index("ix_memory_edges_from", table_name="memory_edges")
    op.drop_index("ix_memory_edges_to", table_name="memory_edges")
    op.drop_index("ix_memory_edges_run", table_name="memory_edges")
    op.drop_table("memory_edges")
    op.drop_index("ix_memory_claims_run", table_name="memory_claims")
    op.drop_table("memory_claims")
    op.drop_table("memory_entities")
