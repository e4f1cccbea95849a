"""Opening everything a run needs, once per process, under one `async with`.

Entry points (the CLI, the bot, workers) call `open_services(settings)` and pass the yielded
store and resources to the runner; nothing connects at import time.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from pipelines.stage import Resources
from pipelines.store import RunStore
from pipelines.transcripts import TranscriptCache
from settings import Settings


@asynccontextmanager
async def open_services(
    settings: Settings, *, memory: bool = True
) -> AsyncIterator[tuple[RunStore, Resources]]:
    """The run store and the process resources (vector and graph memory when `memory`).

    Also the model router (learning persisted in the store), the response cache (Redis when
    configured, else in-process) and the transcript cache.
    """
    from routing.cache import open_cache
    from routing.router import Router
    from routing.stats import StatsStore

    store = await RunStore.open(
        settings.database_url, echo=settings.database.echo, pool_size=settings.database.pool_size
    )
    resources = Resources(settings)
    resources.router = Router(settings, StatsStore(store.engine))
    resources.responses = open_cache(settings)
    resources.transcripts = TranscriptCache(store.engine)
    try:
        if memory:
            from memory.embeddings import build_embedder
            from memory.graph import GraphMemory
            from memory.vector import VectorMemory

            resources.embedder = build_embedder(settings)
            resources.memory = await VectorMemory.open(settings, resources.embedder)
            resources.graph = GraphMemory(store.engine)
        yield store, resources
    finally:
        if resources.memory is not None:
            await resources.memory.close()
        if resources.embedder is not None:  # also one the quality gates built on demand
            await resources.embedder.close()
        if resources.responses is not None:
            await resources.responses.close()
        await store.close()
