"""`autointel memory search` and `autointel memory ingest`: the vector memory from the command line.

An ingest reads and checks the whole file before it writes anything: a JSON Lines file with
malformed lines is reported line by line ("line 7: not valid JSON (…)") on stderr, followed
by a one-line summary, and nothing of it is stored (exit status 1). Item ids are derived from
their content, so ingesting a file again (for instance after an interrupted write) stores
each item once.
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from memory.errors import CorpusError, MemoryStoreError
from settings import Settings

PREVIEW_CHARS = 100


def _clock(seconds: float | None) -> str:
    """mm:ss (h:mm:ss past an hour), or '-' without a timestamp."""
    if seconds is None:
        return "-"
    whole = int(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes:02d}:{secs:02d}"


def _preview(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= PREVIEW_CHARS else flat[: PREVIEW_CHARS - 1] + "…"


def _fail(exc: MemoryStoreError) -> int:
    """Report `exc` on stderr (a corpus's malformed lines one per line, then the summary); 1."""
    if isinstance(exc, CorpusError) and exc.problems:
        print("\n".join(exc.problems), file=sys.stderr)
        print(f"autointel: {exc.message}; nothing was ingested", file=sys.stderr)
        return 1
    print(f"autointel: {exc.message}", file=sys.stderr)
    return 1


async def search(
    settings: Settings, query: str, namespace: str, limit: int, kinds: Sequence[str] | None
) -> int:
    """Print the best matches for `query` in `namespace`; 1 on a memory error."""
    from memory.embeddings import build_embedder
    from memory.vector import VectorMemory

    try:
        embedder = build_embedder(settings)
        try:
            async with await VectorMemory.open(settings, embedder) as memory:
                hits = await memory.search(namespace, query, limit=limit, kinds=kinds)
        finally:
            await embedder.close()
    except MemoryStoreError as exc:
        return _fail(exc)
    if not hits:
        print(f"no matches in memory namespace {namespace!r}")
        return 0
    print(f"{len(hits)} matches in {namespace!r}:")
    for hit in hits:
        item = hit.item
        run = (item.run_id or "-")[:8]
        print(
            f"{hit.score:6.3f}  {item.kind:<10}  {_clock(item.start):>7}  run {run:<8}  "
            f"{item.source or '-'}\n        {_preview(item.text)}"
        )
    return 0


async def ingest(settings: Settings, path: Path, namespace: str) -> int:
    """Load a reference corpus file into `namespace` and print how many items were stored."""
    from memory.corpus import load_corpus
    from memory.embeddings import build_embedder
    from memory.namespaces import validate_namespace
    from memory.vector import VectorMemory

    started = time.perf_counter()
    try:
        validate_namespace(namespace)
        items = await asyncio.to_thread(load_corpus, path)
        embedder = build_embedder(settings)
        try:
            async with await VectorMemory.open(settings, embedder) as memory:
                stored = await memory.upsert(namespace, items)
                total = await memory.count(namespace)
        finally:
            await embedder.close()
    except MemoryStoreError as exc:
        return _fail(exc)
    elapsed = time.perf_counter() - started
    print(
        f"stored {stored} items from {path.name} in memory namespace {namespace!r} "
        f"({total} in total, {elapsed:.1f}s)"
    )
    return 0
