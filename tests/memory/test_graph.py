"""Graph memory on the real run store (SQLite and PostgreSQL, via the `store` fixture)."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import func, select
from sqlalchemy.engine import Connection

import memory.tables  # noqa: F401  (registers the graph tables on Base.metadata)
from memory.errors import InvalidNamespaceError
from memory.graph import GraphClaim, GraphMemory, normalise_name
from memory.tables import ClaimRow, EdgeRow, EntityRow
from pipelines.store import RunStore
from pipelines.tables import Base

CLAIMS = [
    GraphClaim(
        "The EU banned petrol cars from 2035.", ["European Union", "petrol cars"], 12.5, "misleading", 0.7
    ),
    GraphClaim(
        "The european union  was founded in 1993.", ["  european   UNION ", "Maastricht Treaty"], 40.0
    ),
    GraphClaim("Norway sells mostly electric cars.", ["Norway", "electric cars"], 75.0, "supported", 0.9),
    GraphClaim(
        "Norway is not in the European Union.", ["Norway", "European Union", "Norway"], 90.0, "supported"
    ),
]


async def _count(store: RunStore, table: type[Base]) -> int:
    async with store.engine.connect() as conn:
        return int((await conn.execute(select(func.count()).select_from(table))).scalar_one())


async def test_entity_lists_its_claims_and_related_entities(store: RunStore) -> None:
    graph = GraphMemory(store.engine)
    await graph.add_claims("guild1", "run-1", CLAIMS)
    eu = await graph.entity("guild1", "EUROPEAN union")
    assert eu is not None
    assert eu.name == "European Union" and eu.key == "european union" and eu.mentions == 3
    assert eu.first_seen.tzinfo is not None
    assert [(c.text, c.run_id, c.timestamp, c.verdict) for c in eu.claims] == [
        ("The EU banned petrol cars from 2035.", "run-1", 12.5, "misleading"),
        ("The european union  was founded in 1993.", "run-1", 40.0, None),
        ("Norway is not in the European Union.", "run-1", 90.0, "supported"),
    ]
    assert eu.claims[0].confidence == 0.7
    assert eu.related == [("Maastricht Treaty", 1), ("Norway", 1), ("petrol cars", 1)]
    assert await graph.related("guild1", "norway") == [("electric cars", 1), ("European Union", 1)]
    assert await graph.entity("guild1", "Atlantis") is None
    assert await graph.related("guild1", "Atlantis") == []


async def test_counts_grow_across_runs_and_readding_a_run_is_idempotent(store: RunStore) -> None:
    graph = GraphMemory(store.engine)
    await graph.add_claims("guild1", "run-1", CLAIMS)
    await graph.add_claims(
        "guild1", "run-2", [GraphClaim("Norway joined the EU.", ["norway", "European Union"])]
    )
    assert await graph.related("guild1", "Norway") == [("European Union", 2), ("electric cars", 1)]
    counts = [await _count(store, t) for t in (EntityRow, ClaimRow, EdgeRow)]
    await graph.add_claims(
        "guild1", "run-2", [GraphClaim("Norway joined the EU.", ["norway", "European Union"])]
    )
    await graph.add_claims("guild1", "run-1", CLAIMS)
    assert [await _count(store, t) for t in (EntityRow, ClaimRow, EdgeRow)] == counts
    assert await graph.related("guild1", "Norway") == [("European Union", 2), ("electric cars", 1)]
    # re-adding a run with different claims replaces them
    await graph.add_claims("guild1", "run-2", [GraphClaim("Norway has fjords.", ["Norway", "fjords"])])
    assert await graph.related("guild1", "Norway") == [
        ("electric cars", 1),
        ("European Union", 1),
        ("fjords", 1),
    ]
    view = await graph.entity("guild1", "norway")
    assert view is not None and view.mentions == 3 and view.claims[0].run_id == "run-2"


async def test_namespaces_are_isolated(store: RunStore) -> None:
    graph = GraphMemory(store.engine)
    await graph.add_claims("guild1", "run-1", CLAIMS)
    await graph.add_claims("guild2", "run-1", [GraphClaim("Norway loves skiing.", ["Norway", "skiing"])])
    in_two = await graph.entity("guild2", "Norway")
    assert in_two is not None and [c.text for c in in_two.claims] == ["Norway loves skiing."]
    assert in_two.related == [("skiing", 1)]
    assert await graph.related("guild1", "Norway") == [("electric cars", 1), ("European Union", 1)]
    assert await graph.entity("guild2", "European Union") is None
    # the same run id in another namespace did not replace guild1's claims
    one = await graph.entity("guild1", "Norway")
    assert one is not None and one.mentions == 2
    with pytest.raises(InvalidNamespaceError):
        await graph.add_claims("Guild 1", "run-1", CLAIMS)
    with pytest.raises(ValueError):
        await graph.entity("../guild1", "Norway")


async def test_claims_without_entities_and_bad_claims(store: RunStore) -> None:
    graph = GraphMemory(store.engine)
    await graph.add_claims("cli", "run-1", [GraphClaim("It rained a lot.", []), GraphClaim("x", ["", " . "])])
    assert await _count(store, ClaimRow) == 2 and await _count(store, EntityRow) == 0
    await graph.add_claims("cli", "run-1", [])  # clears the run
    assert await _count(store, ClaimRow) == 0
    with pytest.raises(ValueError, match="needs text"):
        GraphClaim("  ", ["a"])
    with pytest.raises(ValueError, match=r"outside 0\.\.1"):
        GraphClaim("claim", ["a"], confidence=1.5)


def test_names_normalise_case_space_and_edge_punctuation() -> None:
    assert normalise_name("  The   EUROPEAN\tUnion. ") == "the european union"
    assert normalise_name("“NASA”") == "nasa"
    assert normalise_name("...") == ""


def _diff(connection: Connection) -> list[object]:
    context = MigrationContext.configure(connection)
    return list(compare_metadata(context, Base.metadata))


async def test_migration_matches_the_models(store: RunStore) -> None:
    async with store.engine.connect() as conn:
        diff = await conn.run_sync(_diff)
    assert [d for d in diff if "memory_" in repr(d)] == []
