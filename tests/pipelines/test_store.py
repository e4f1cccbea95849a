"""The run store on SQLite and PostgreSQL: migrations, lookup, listing, bad URLs."""

from __future__ import annotations

from typing import Any

import pytest

from pipelines.errors import RunNotFoundError, StoreUnavailableError
from pipelines.models import Depth, Source
from pipelines.store import RunStore

SOURCE = Source(kind="file", location="/media/a.mp3", key="sha256:" + "ab" * 32)


async def test_runs_are_listed_newest_first_and_found_by_prefix(store: RunStore) -> None:
    first = await store.create_run(SOURCE, Depth.QUICK, "1")
    second = await store.create_run(SOURCE, Depth.DEEP, "1", requester="discord:42")
    listed = await store.list_runs()
    assert [r.id for r in listed] == [second.id, first.id]
    found = await store.get_run(second.id[:10])
    assert (found.id, found.depth, found.requester, found.source) == (
        second.id,
        Depth.DEEP,
        "discord:42",
        SOURCE,
    )


async def test_a_namespace_finds_only_its_own_runs(store: RunStore) -> None:
    theirs = await store.create_run(SOURCE, Depth.QUICK, "1", namespace="111")
    ours = await store.create_run(SOURCE, Depth.QUICK, "1", namespace="222")
    for typed in (theirs.id, theirs.id[:8]):
        with pytest.raises(RunNotFoundError):
            await store.get_run(typed, namespace="222")
        assert (await store.get_run(typed, namespace="111")).id == theirs.id
    assert (await store.get_run(ours.id[:8], namespace="222")).id == ours.id
    with pytest.raises(RunNotFoundError):
        await store.get_run("%%%%%%", namespace="222")  # LIKE wildcards are literal


async def test_unknown_run_is_a_clear_error(store: RunStore) -> None:
    with pytest.raises(RunNotFoundError, match="no run with id 'nope'"):
        await store.get_run("nope")


async def test_reopening_an_existing_store_keeps_data(store_url: str) -> None:
    async with await RunStore.open(store_url) as store:
        run = await store.create_run(SOURCE, Depth.QUICK, "1")
    async with await RunStore.open(store_url) as store:
        assert (await store.get_run(run.id)).status == "queued"


async def test_unreachable_database_names_the_store_without_password() -> None:
    with pytest.raises(StoreUnavailableError) as caught:
        await RunStore.open("postgresql+asyncpg://user:hunter2@127.0.0.1:1/autointel")
    assert "cannot open the run store" in caught.value.message
    assert "hunter2" not in caught.value.message


async def test_quota_counts_in_one_query(store: RunStore) -> None:
    from datetime import UTC, datetime

    for requester, namespace in (("alice", "g1"), ("alice", "g2"), ("bob", "g1")):
        await store.create_run(SOURCE, Depth.QUICK, "2", requester=requester, namespace=namespace)
    runs = await store.list_runs()
    await store.set_run_status(runs[0].id, "succeeded")
    since = datetime(2000, 1, 1, tzinfo=UTC)
    counts = await store.quota_counts(
        requester="alice", namespace="g1", since=since, active=("queued", "running", "interrupted")
    )
    assert (counts.user_recent, counts.guild_recent) == (2, 2)
    assert counts.guild_active == (2 if runs[0].namespace != "g1" else 1)
    assert counts.user_oldest is not None and counts.user_oldest.tzinfo is not None
    later = await store.quota_counts(
        requester="alice", namespace="g1", since=datetime.now(UTC), active=("queued",)
    )
    assert (later.user_recent, later.guild_recent, later.user_oldest) == (0, 0, None)


def test_schema_revision_is_alembic_head() -> None:
    from pipelines.store import head_revision
    from pipelines.tables import SCHEMA_REVISION

    assert SCHEMA_REVISION == head_revision()


async def test_migrations_match_the_tables(store: RunStore) -> None:
    """Every ORM table and column is created by the migrations (no drift between them)."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    import memory.tables
    import pipelines.transcripts
    import routing.stats
    from pipelines.tables import Base

    assert memory.tables and pipelines.transcripts and routing.stats  # their tables are on Base

    def differences(connection: Any) -> list[Any]:
        diff = compare_metadata(MigrationContext.configure(connection), Base.metadata)
        return [d for d in diff if d[0] in ("add_table", "remove_table", "add_column", "remove_column")]

    async with store.engine.connect() as conn:
        assert await conn.run_sync(differences) == []
