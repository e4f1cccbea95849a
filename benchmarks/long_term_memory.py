"""Measure long-term memory: embedding throughput, ingest time and search latency; print JSON.

Texts are the evidence sentences of tests/data/climate_fever_dev.jsonl (real Wikipedia
sentences), stored twice — once as "reference", once as "transcript" items of two runs — so
the collection holds ~1,600 points. Qdrant runs in local mode in a temporary folder (the
embedded default), with the bundled MiniLM embedder unless EMBEDDINGS_BASE_URL is set.

    .venv/bin/python benchmarks/long_term_memory.py [--searches 200]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

# the repo first: benchmarks/ has its own routing.py and observability.py
sys.path[:0] = [str(Path(__file__).resolve().parent.parent)]

from memory.corpus import load_corpus  # noqa: E402
from memory.embeddings import build_embedder  # noqa: E402
from memory.vector import MemoryItem, VectorMemory  # noqa: E402
from settings import load_settings  # noqa: E402

CORPUS = Path(__file__).resolve().parent.parent / "tests" / "data" / "climate_fever_dev.jsonl"


def _percentiles(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {
        "median_ms": round(statistics.median(ordered) * 1000, 2),
        "p95_ms": round(ordered[int(0.95 * (len(ordered) - 1))] * 1000, 2),
    }


async def run(searches: int) -> dict[str, Any]:
    """Embed, ingest and search once; return the measurements."""
    with tempfile.TemporaryDirectory() as tmp:
        settings = load_settings(pipeline={"data_dir": Path(tmp)})
        embedder = build_embedder(settings)
        reference = list({item.id: item for item in load_corpus(CORPUS)}.values())
        texts = [item.text for item in reference]
        await embedder.embed(texts[:8])  # load the weights / open the connection
        started = time.perf_counter()
        await embedder.embed(texts)
        embed_seconds = time.perf_counter() - started

        transcript = [
            MemoryItem(item.text, "transcript", run_id=f"run-{i % 2}", start=float(i))
            for i, item in enumerate(reference)
        ]
        queries = [json.loads(line)["claim"] for line in CORPUS.read_text(encoding="utf-8").splitlines()]
        async with await VectorMemory.open(settings, embedder) as memory:
            started = time.perf_counter()
            await memory.upsert("bench", reference + transcript)
            ingest_seconds = time.perf_counter() - started
            points = await memory.count("bench")
            query_vectors: list[float] = []
            plain: list[float] = []
            filtered: list[float] = []
            for i in range(searches):
                query = queries[i % len(queries)]
                t0 = time.perf_counter()
                await embedder.embed([query])
                t1 = time.perf_counter()
                await memory.search("bench", query, limit=5)
                t2 = time.perf_counter()
                await memory.search("bench", query, limit=5, kinds=["transcript"], exclude_run="run-0")
                t3 = time.perf_counter()
                query_vectors.append(t1 - t0)
                plain.append(t2 - t1)
                filtered.append(t3 - t2)
        close = getattr(embedder, "close", None)
        if close is not None:
            await close()
    return {
        "embedder": embedder.name,
        "cpu_count": os.cpu_count(),
        "embedding": {
            "sentences": len(texts),
            "batch_size": settings.llm.embeddings_batch_size,
            "seconds": round(embed_seconds, 3),
            "sentences_per_second": round(len(texts) / embed_seconds, 1),
        },
        "ingest_local_mode": {
            "points": points,
            "seconds": round(ingest_seconds, 3),
            "points_per_second": round(points / ingest_seconds, 1),
        },
        "search_local_mode": {
            "points": points,
            "searches": searches,
            "embed_one_query": _percentiles(query_vectors),
            "search_including_query_embedding": _percentiles(plain),
            "filtered_search_including_query_embedding": _percentiles(filtered),
        },
    }


def main() -> None:
    """Parse arguments, run, print JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--searches", type=int, default=200)
    args = parser.parse_args()
    print(json.dumps(asyncio.run(run(args.searches)), indent=2))


if __name__ == "__main__":
    main()
