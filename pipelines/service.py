"""Opening everything a run needs, once per process, under one `async with`.

Entry points (the CLI, the bot, workers) call `open_services(settings)` and pass the yielded
store and resources to the runner; nothing connects at import time.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from pipelines.stage import Resources
from pipelines.store import RunStore
from settings import Settings


@asynccontextmanager
async def open_services(
    settings: Settings, *, memory: bool = True
) -> AsyncIterator[tuple[RunStore, Resources]]:
    """The run store and the process resources (vector and graph memory when `memory`)."""
    store = await RunStore.open(
        settings.database_url, echo=settings.database.echo, pool_size=settings.database.pool_size
    )
    resources = Resources(settings)
    embedder = None
    try:
        if memory:
            from memory.embeddings import build_embedder
            from memory.graph import GraphMemory
            from memory.vector import VectorMemory

            embedder = build_embedder(settings)
            resources.memory = await VectorMemory.open(settings, embedder)
            resources.graph = GraphMemory(store.engine)
        yield store, resources
    finally:
        if resources.memory is not None:
            await resources.memory.close()
        if embedder is not None:
            await embedder.close()
        await store.close()
