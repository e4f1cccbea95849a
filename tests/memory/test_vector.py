"""Vector memory on real Qdrant local mode (a tmp folder and ":memory:") with the real embedder."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator, Callable

import pytest

from fakes.openai_server import ScriptedOpenAI
from memory.embeddings import MiniLMEmbedder, OpenAIEmbedder
from memory.errors import DimensionMismatchError, InvalidNamespaceError, MemoryUnavailableError
from memory.vector import REFERENCE_NAMESPACE, MemoryItem, VectorMemory, collection_name
from settings import Settings

FACTS = [
    MemoryItem("The Eiffel Tower in Paris is 330 metres tall.", "claim", run_id="run-a", start=12.0),
    MemoryItem(
        "Mount Everest is the highest mountain above sea level.", "transcript", run_id="run-a", start=61.5
    ),
    MemoryItem("Octopuses have three hearts and blue blood.", "summary", run_id="run-b"),
    MemoryItem(
        "The Great Wall of China is not visible from the Moon.",
        "verdict",
        run_id="run-b",
        extra={"verdict": "supported", "confidence": 0.8},
    ),
]


@pytest.fixture(params=["path", "memory"])
async def memory(
    request: pytest.FixtureRequest, make_settings: Callable[..., Settings], minilm: MiniLMEmbedder
) -> AsyncIterator[VectorMemory]:
    """Vector memory in local mode, persisted in the tmp data dir or in memory."""
    location = ":memory:" if request.param == "memory" else None
    opened = await VectorMemory.open(make_settings(), minilm, location=location)
    async with opened:
        yield opened


async def test_round_trip_finds_the_closest_item(memory: VectorMemory) -> None:
    assert await memory.search("guild1", "anything") == []  # nothing stored yet
    assert await memory.upsert("guild1", FACTS) == 4
    hits = await memory.search("guild1", "How tall is the Eiffel tower?", limit=2)
    assert len(hits) == 2 and hits[0].item == FACTS[0]
    assert hits[0].score > hits[1].score and 0.5 < hits[0].score <= 1.0
    verdict = (await memory.search("guild1", "Can you see the Great Wall from space?", limit=1))[0].item
    assert verdict.extra == {"verdict": "supported", "confidence": 0.8} and verdict.run_id == "run-b"


async def test_reupsert_is_idempotent(memory: VectorMemory) -> None:
    await memory.upsert("guild1", FACTS)
    assert await memory.upsert("guild1", [*FACTS, FACTS[0]]) == 4
    assert await memory.count("guild1") == 4
    changed = MemoryItem(FACTS[0].text, "claim", run_id="run-a", start=12.0, end=15.0)
    assert changed.id == FACTS[0].id  # `end` and `extra` are not part of the identity
    await memory.upsert("guild1", [changed])
    assert await memory.count("guild1") == 4
    assert (await memory.search("guild1", FACTS[0].text, limit=1))[0].item.end == 15.0


async def test_namespaces_are_isolated(memory: VectorMemory) -> None:
    await memory.upsert("111", FACTS[:2])
    await memory.upsert("222", FACTS[2:])
    await memory.upsert(REFERENCE_NAMESPACE, [MemoryItem("Paris is the capital of France.", "reference")])
    first = {h.item.text for h in await memory.search("111", "tower mountain octopus wall", limit=10)}
    second = {h.item.text for h in await memory.search("222", "tower mountain octopus wall", limit=10)}
    assert first == {f.text for f in FACTS[:2]} and second == {f.text for f in FACTS[2:]}
    assert await memory.count("111") == 2 and await memory.count(REFERENCE_NAMESPACE) == 1
    assert await memory.search("333", "tower") == []


async def test_kind_and_run_filters(memory: VectorMemory) -> None:
    await memory.upsert("guild1", FACTS)
    only = await memory.search("guild1", "Eiffel tower height", kinds=["transcript", "summary"], limit=10)
    assert {h.item.kind for h in only} == {"transcript", "summary"}
    others = await memory.search("guild1", "Eiffel tower height", exclude_run="run-a", limit=10)
    assert {h.item.run_id for h in others} == {"run-b"}
    both = await memory.search("guild1", "x", kinds=["claim"], exclude_run="run-a")
    assert both == []
    with pytest.raises(ValueError, match="unknown memory kind"):
        await memory.search("guild1", "x", kinds=["gossip"])


async def test_delete_run_forgets_only_that_run(memory: VectorMemory) -> None:
    await memory.upsert("guild1", FACTS)
    await memory.delete_run("guild1", "run-a")
    assert await memory.count("guild1") == 2
    await memory.delete_run("never-written", "run-a")  # no collection: nothing to do


@pytest.mark.parametrize("bad", ["", "Guild", "../reference", "a b", "x" * 65, "autointel_1;drop"])
async def test_invalid_namespace_is_refused(memory: VectorMemory, bad: str) -> None:
    with pytest.raises(InvalidNamespaceError) as caught:
        await memory.upsert(bad, FACTS[:1])
    assert isinstance(caught.value, ValueError)
    with pytest.raises(ValueError, match="invalid memory namespace"):
        await memory.search(bad, "x")


def test_items_validate_kind_and_ids_are_deterministic() -> None:
    with pytest.raises(ValueError, match="unknown memory kind"):
        MemoryItem("text", "rumour")
    a = MemoryItem("same", "claim", run_id="r", source="s", start=1.0)
    assert a.id == MemoryItem("same", "claim", run_id="r", source="s", start=1.0, extra={"x": 1}).id
    assert a.id != MemoryItem("same", "claim", run_id="r2", source="s", start=1.0).id
    assert a.id == "27f610c1-2e56-5641-ae84-000e97b6b531"  # pinned: stored points must keep their ids
    assert collection_name("123") == "autointel_123"


async def test_persists_across_reopen(make_settings: Callable[..., Settings], minilm: MiniLMEmbedder) -> None:
    settings = make_settings()
    async with await VectorMemory.open(settings, minilm) as memory:
        await memory.upsert("cli", FACTS)
    assert (settings.pipeline.data_dir / "qdrant").is_dir()
    async with await VectorMemory.open(settings, minilm) as memory:
        assert await memory.count("cli") == 4


async def test_dimension_mismatch_is_refused(
    make_settings: Callable[..., Settings], minilm: MiniLMEmbedder, embeddings_server: ScriptedOpenAI
) -> None:
    settings = make_settings()
    async with await VectorMemory.open(settings, minilm) as memory:
        await memory.upsert("cli", FACTS[:1])
    other = OpenAIEmbedder(embeddings_server.base_url, "scripted-embed")  # 16 dimensions
    try:
        async with await VectorMemory.open(settings, other) as memory:
            with pytest.raises(DimensionMismatchError, match=r"384-dimensional .* 16-dimensional"):
                await memory.upsert("cli", FACTS[1:2])
            with pytest.raises(DimensionMismatchError):
                await memory.search("cli", "tower")
            assert await memory.upsert("fresh", FACTS[1:2]) == 1  # a new namespace takes the new size
    finally:
        await other.close()


async def test_locked_local_storage_is_a_clear_error(
    make_settings: Callable[..., Settings], minilm: MiniLMEmbedder
) -> None:
    settings = make_settings()
    async with await VectorMemory.open(settings, minilm):
        with pytest.raises(MemoryUnavailableError) as caught:
            await VectorMemory.open(settings, minilm)
    message = caught.value.message
    assert "in use by another process" in message and "only one process" in message
    assert "QDRANT_URL" in message and str(settings.pipeline.data_dir / "qdrant") in message
    async with await VectorMemory.open(settings, minilm):  # the lock is released on close
        pass


async def test_unreachable_server_is_a_clear_error(
    make_settings: Callable[..., Settings], minilm: MiniLMEmbedder
) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    settings = make_settings(qdrant={"url": f"http://127.0.0.1:{port}"})
    with pytest.raises(MemoryUnavailableError, match=f"Qdrant server at http://127.0.0.1:{port}"):
        await VectorMemory.open(settings, minilm)


async def test_openai_embedder_round_trip_and_query_cache(
    make_settings: Callable[..., Settings], embeddings_server: ScriptedOpenAI
) -> None:
    embedder = OpenAIEmbedder(embeddings_server.base_url, "scripted-embed")
    try:
        async with await VectorMemory.open(make_settings(), embedder, location=":memory:") as memory:
            await memory.upsert("111", FACTS)
            await memory.upsert(REFERENCE_NAMESPACE, FACTS)
            before = len(embeddings_server.requests)
            hits = [await memory.search(ns, FACTS[2].text, limit=1) for ns in ("111", REFERENCE_NAMESPACE)]
            assert [h[0].item.text for h in hits] == [FACTS[2].text] * 2
            assert hits[0][0].score == pytest.approx(1.0)
            assert len(embeddings_server.requests) == before + 1  # the query was embedded once
    finally:
        await embedder.close()
