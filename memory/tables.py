"""SQLAlchemy tables of graph memory, on the run store's `Base` (migration 0002_graph_memory).

memory_entities  one row per (namespace, normalised name)
memory_claims    claims of a run in a namespace, with timestamp and verdict
memory_edges     claim ─mentions→ entity, entity ─co_occurs_with→ entity (one per claim and
                 ordered pair, both directions); every edge belongs to the claim it came
                 from, so replacing a run's claims replaces its edges
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from pipelines.tables import Base, UTCDateTime, utcnow

NAME_LENGTH = 256
MENTIONS = "mentions"
CO_OCCURS_WITH = "co_occurs_with"


class EntityRow(Base):
    """A named thing (person, organisation, place, concept) seen in some claim of a namespace."""

    __tablename__ = "memory_entities"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    namespace: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(NAME_LENGTH))
    display_name: Mapped[str] = mapped_column(String(NAME_LENGTH))
    first_seen: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (UniqueConstraint("namespace", "name", name="uq_memory_entities_name"),)


class ClaimRow(Base):
    """One claim made in a run, where it was made (seconds into the media) and how it was judged."""

    __tablename__ = "memory_claims"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    namespace: Mapped[str] = mapped_column(String(64))
    run_id: Mapped[str] = mapped_column(String(64))
    position: Mapped[int] = mapped_column(Integer, default=0)
    text: Mapped[str] = mapped_column(Text)
    timestamp_seconds: Mapped[float | None] = mapped_column(Float, default=None)
    verdict: Mapped[str | None] = mapped_column(String(32), default=None)
    confidence: Mapped[float | None] = mapped_column(Float, default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (Index("ix_memory_claims_run", "namespace", "run_id"),)


class EdgeRow(Base):
    """A relation derived from one claim: claim→entity ("mentions") or entity→entity ("co_occurs_with")."""

    __tablename__ = "memory_edges"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    namespace: Mapped[str] = mapped_column(String(64))
    run_id: Mapped[str] = mapped_column(String(64))
    relation: Mapped[str] = mapped_column(String(32))
    claim_id: Mapped[int] = mapped_column(ForeignKey("memory_claims.id", ondelete="CASCADE"))
    from_entity_id: Mapped[int | None] = mapped_column(
        ForeignKey("memory_entities.id", ondelete="CASCADE"), default=None
    )
    to_entity_id: Mapped[int] = mapped_column(ForeignKey("memory_entities.id", ondelete="CASCADE"))

    __table_args__ = (
        Index("ix_memory_edges_run", "namespace", "run_id"),
        Index("ix_memory_edges_to", "to_entity_id", "relation"),
        Index("ix_memory_edges_from", "from_entity_id", "relation"),
        Index("ix_memory_edges_claim", "claim_id"),
    )
