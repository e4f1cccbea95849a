"""Graph memory: entities, the claims that mention them and which entities appear together.

Stored in the run store's database (same engine: SQLite or PostgreSQL; tables in
`memory.tables`, migration 0002). Everything is scoped by namespace (guild id, "cli", ...):
the same name in two namespaces is two unrelated entities, and no query crosses namespaces.

`add_claims(namespace, run_id, claims)` is one transaction that replaces whatever that run
stored before, so a retried or re-analysed run never duplicates claims or inflates counts.
Entity names are matched case- and space-insensitively ("The  EU" = "the eu"); the first
spelling seen is kept for display. Calls for the same run must not overlap (the runner runs
a run's stage once at a time).
"""

from __future__ import annotations

import itertools
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import ColumnElement, collate, delete, func, select
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from sqlalchemy.orm import InstrumentedAttribute

from memory.errors import MemoryUnavailableError
from memory.namespaces import validate_namespace
from memory.tables import CO_OCCURS_WITH, MENTIONS, NAME_LENGTH, ClaimRow, EdgeRow, EntityRow
from pipelines.tables import utcnow

_EDGE_PUNCTUATION = " \t\n.,;:!?\"'`()[]{}«»“”‘’"
VERDICT_LENGTH = 32


def display_name(name: str) -> str:
    """The name as shown: Unicode-normalised, single-spaced, without surrounding punctuation."""
    text = " ".join(unicodedata.normalize("NFKC", name).split()).strip(_EDGE_PUNCTUATION)
    return " ".join(text.split())[:NAME_LENGTH]


def normalise_name(name: str) -> str:
    """The key two spellings of one entity share: `display_name` case-folded ("" = no name)."""
    return display_name(name).casefold()[:NAME_LENGTH]


@dataclass
class GraphClaim:
    """A claim to remember: its text, the entities it mentions, and optionally when and how judged."""

    text: str
    entities: list[str] = field(default_factory=list)
    timestamp: float | None = None
    verdict: str | None = None
    confidence: float | None = None

    def __post_init__(self) -> None:
        if not self.text.strip():
            raise ValueError("a graph claim needs text")
        if self.verdict is not None and len(self.verdict) > VERDICT_LENGTH:
            raise ValueError(f"verdict {self.verdict!r} is longer than {VERDICT_LENGTH} characters")
        if self.confidence is not None and not 0.0 <= self.confidence <= 1.0:
            raise ValueError(f"confidence {self.confidence} is outside 0..1")


@dataclass(frozen=True)
class ClaimView:
    """A stored claim as `entity()` returns it."""

    text: str
    run_id: str
    timestamp: float | None
    verdict: str | None
    confidence: float | None


@dataclass(frozen=True)
class EntityView:
    """An entity with the claims that mention it (newest runs first) and its co-occurring entities."""

    namespace: str
    name: str
    key: str
    first_seen: datetime
    mentions: int
    claims: list[ClaimView]
    related: list[tuple[str, int]]


class GraphMemory:
    """Graph memory on the run store's engine; cheap to build, holds no connection itself."""

    def __init__(self, engine: AsyncEngine) -> None:
        """Use `engine` (e.g. `RunStore.engine`, already migrated)."""
        self.engine = engine
        self._sessions = async_sessionmaker(engine, expire_on_commit=False)

    async def add_claims(self, namespace: str, run_id: str, claims: Sequence[GraphClaim]) -> None:
        """Store `claims` of `run_id` in `namespace`, replacing that run's earlier claims and edges.

        Upserts the entities, stores each claim, links claim → entity ("mentions") and every
        pair of distinct entities of one claim both ways ("co_occurs_with"). One transaction.
        """
        validate_namespace(namespace)
        now = utcnow()
        try:
            async with self._sessions.begin() as session:
                scope = (EdgeRow.namespace == namespace, EdgeRow.run_id == run_id)
                await session.execute(delete(EdgeRow).where(*scope))
                await session.execute(
                    delete(ClaimRow).where(ClaimRow.namespace == namespace, ClaimRow.run_id == run_id)
                )
                per_claim = [_entity_keys(claim.entities) for claim in claims]
                names: dict[str, str] = {}
                for keys in per_claim:
                    for key, shown in keys.items():
                        names.setdefault(key, shown)
                ids = await self._upsert_entities(session, namespace, names, now)
                rows = [
                    ClaimRow(
                        namespace=namespace,
                        run_id=run_id,
                        position=position,
                        text=claim.text,
                        timestamp_seconds=claim.timestamp,
                        verdict=claim.verdict,
                        confidence=claim.confidence,
                        created_at=now,
                    )
                    for position, claim in enumerate(claims)
                ]
                session.add_all(rows)
                await session.flush()
                edges: list[EdgeRow] = []
                for row, keys in zip(rows, per_claim, strict=True):
                    entity_ids = [ids[key] for key in keys]
                    edge = {"namespace": namespace, "run_id": run_id, "claim_id": row.id}
                    edges += [EdgeRow(relation=MENTIONS, to_entity_id=e, **edge) for e in entity_ids]
                    edges += [
                        EdgeRow(relation=CO_OCCURS_WITH, from_entity_id=a, to_entity_id=b, **edge)
                        for a, b in itertools.permutations(entity_ids, 2)
                    ]
                session.add_all(edges)
        except (OSError, OperationalError) as exc:
            raise MemoryUnavailableError(f"graph memory cannot be written: {_reason(exc)}") from exc

    async def _upsert_entities(
        self, session: AsyncSession, namespace: str, names: dict[str, str], now: datetime
    ) -> dict[str, int]:
        """Insert the entities that are new (concurrency-safe) and return every key's id."""
        if not names:
            return {}
        values = [
            {"namespace": namespace, "name": key, "display_name": shown, "first_seen": now}
            for key, shown in names.items()
        ]
        conflict = ["namespace", "name"]
        if self.engine.dialect.name == "postgresql":
            from sqlalchemy.dialects import postgresql

            await session.execute(
                postgresql.insert(EntityRow).on_conflict_do_nothing(index_elements=conflict), values
            )
        else:
            from sqlalchemy.dialects import sqlite

            await session.execute(
                sqlite.insert(EntityRow).on_conflict_do_nothing(index_elements=conflict), values
            )
        found = await session.execute(
            select(EntityRow.name, EntityRow.id).where(
                EntityRow.namespace == namespace, EntityRow.name.in_(list(names))
            )
        )
        return {name: entity_id for name, entity_id in found}

    async def entity(self, namespace: str, name: str, *, claim_limit: int = 50) -> EntityView | None:
        """The entity called `name` (any case/spacing) in `namespace`, or None if never seen.

        Includes up to `claim_limit` claims mentioning it (newest first, with run id, timestamp
        and verdict) and up to 10 related entities with co-occurrence counts.
        """
        validate_namespace(namespace)
        key = normalise_name(name)
        if not key:
            return None
        async with self._sessions() as session:
            row = await session.scalar(
                select(EntityRow).where(EntityRow.namespace == namespace, EntityRow.name == key)
            )
            if row is None:
                return None
            mentioning = (
                select(ClaimRow)
                .join(EdgeRow, EdgeRow.claim_id == ClaimRow.id)
                .where(
                    EdgeRow.namespace == namespace,
                    EdgeRow.relation == MENTIONS,
                    EdgeRow.to_entity_id == row.id,
                )
            )
            total = await session.scalar(select(func.count()).select_from(mentioning.subquery()))
            claims = await session.scalars(
                mentioning.order_by(ClaimRow.created_at.desc(), ClaimRow.run_id, ClaimRow.position).limit(
                    claim_limit
                )
            )
            views = [
                ClaimView(c.text, c.run_id, c.timestamp_seconds, c.verdict, c.confidence) for c in claims
            ]
            related = await self._related(session, namespace, row.id, 10)
        return EntityView(namespace, row.display_name, row.name, row.first_seen, total or 0, views, related)

    async def related(self, namespace: str, name: str, limit: int = 10) -> list[tuple[str, int]]:
        """Entities that appear in the same claims as `name`, with how many claims, most first."""
        validate_namespace(namespace)
        key = normalise_name(name)
        async with self._sessions() as session:
            entity_id = await session.scalar(
                select(EntityRow.id).where(EntityRow.namespace == namespace, EntityRow.name == key)
            )
            if entity_id is None:
                return []
            return await self._related(session, namespace, entity_id, limit)

    def _sortable(
        self, column: InstrumentedAttribute[str]
    ) -> ColumnElement[str] | InstrumentedAttribute[str]:
        """`column` compared byte-wise on every backend (PostgreSQL's locale collation is not)."""
        return collate(column, "C") if self.engine.dialect.name == "postgresql" else column

    async def _related(
        self, session: AsyncSession, namespace: str, entity_id: int, limit: int
    ) -> list[tuple[str, int]]:
        count = func.count(EdgeRow.id).label("n")
        query = (
            select(EntityRow.display_name, count)
            .join(EdgeRow, EdgeRow.to_entity_id == EntityRow.id)
            .where(
                EdgeRow.namespace == namespace,
                EdgeRow.relation == CO_OCCURS_WITH,
                EdgeRow.from_entity_id == entity_id,
            )
            .group_by(EntityRow.id, EntityRow.name, EntityRow.display_name)
            .order_by(count.desc(), self._sortable(EntityRow.name))
            .limit(limit)
        )
        rows = await session.execute(query)
        return [(str(shown), int(n)) for shown, n in rows]


def _entity_keys(names: Sequence[str]) -> dict[str, str]:
    """Normalised key → display name for one claim's entities, duplicates and blanks dropped."""
    keys: dict[str, str] = {}
    for name in names:
        key = normalise_name(name)
        if key:
            keys.setdefault(key, display_name(name))
    return keys


def _reason(exc: BaseException) -> str:
    return str(getattr(exc, "orig", None) or exc).splitlines()[0]
