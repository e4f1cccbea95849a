"""Benchmark: arq workers on Redis with PostgreSQL — throughput, queue wait, and the cost of a crash.

1. Throughput: N short jobs (the JFK clip under N distinct URLs, the scripted model server with
   a fixed delay per request) enqueued at once, executed by 1 and then 2 `autointel worker
   --burst` processes. Reports wall time, runs per minute, queue wait (started - created) and
   latency (finished - created) p50/p99.
2. Crash: one run executed uninterrupted, then again with its worker SIGKILLed in the middle of
   the analysis while a second worker idles; reports the time lost against the interrupted
   stage's duration (target: lost ≤ that stage + 10%).

    .venv/bin/python benchmarks/workers.py [--jobs 20] [--delay 0.3] [--crash-delay 2.0]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]  # the repo first: tests/ mirrors its package names

from fakes.media_server import serve_media  # noqa: E402
from fakes.openai_server import ScriptedOpenAI  # noqa: E402
from fakes.scripted_flow import REPLIES  # noqa: E402
from pipelines.models import Depth  # noqa: E402
from pipelines.queue import ArqQueue  # noqa: E402
from pipelines.runner import submit  # noqa: E402
from pipelines.sources import normalise_source  # noqa: E402
from pipelines.store import RunStore  # noqa: E402

POSTGRES = os.environ.get("AUTOINTEL_BENCH_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres")
REDIS = os.environ.get("AUTOINTEL_BENCH_REDIS", "redis://127.0.0.1:6379/14")
LEASE_SECONDS = 2.0


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))], 3)


async def _database() -> str:
    import asyncpg

    name = f"autointel_bench_{uuid.uuid4().hex[:8]}"
    conn = await asyncpg.connect(POSTGRES)
    await conn.execute(f'CREATE DATABASE "{name}"')
    await conn.close()
    return name


async def _drop(name: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(POSTGRES)
    await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    await conn.close()


def _env(base: dict[str, str], data_dir: Path) -> dict[str, str]:
    return {**os.environ, **base, "AUTOINTEL_DATA_DIR": str(data_dir)}


def _worker(env: dict[str, str], burst: bool = True) -> subprocess.Popen[bytes]:
    args = [sys.executable, "-m", "cli", "worker"] + (["--burst"] if burst else [])
    return subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


async def _enqueue(store: RunStore, urls: list[str], queue_name: str) -> list[str]:
    queue = await ArqQueue.connect(REDIS, queue_name)
    try:
        ids = []
        for url in urls:
            run = await submit(store, normalise_source(url), Depth.QUICK, fresh=True)
            await queue.enqueue(run.id)
            ids.append(run.id)
        return ids
    finally:
        await queue.close()


async def _flush() -> None:
    from redis.asyncio import Redis

    client = Redis.from_url(REDIS)
    await client.flushdb()
    await client.aclose()


async def throughput(base: dict[str, str], tmp: Path, media: Any, jobs: int, workers: int) -> dict[str, Any]:
    """N jobs, `workers` burst workers: wall time and per-run queue wait / latency."""
    await _flush()
    queue_name = f"bench-{uuid.uuid4().hex[:6]}"
    env = {**base, "REDIS_QUEUE_NAME": queue_name}
    async with await RunStore.open(base["DATABASE_URL"]) as store:
        urls = [media.url(f"jfk.flac?w={workers}&n={n}") for n in range(jobs)]
        ids = await _enqueue(store, urls, queue_name)
        started = time.monotonic()
        procs = [_worker(_env(env, tmp / f"w{workers}-{n}")) for n in range(workers)]
        await asyncio.gather(*(asyncio.to_thread(p.wait) for p in procs))
        wall = time.monotonic() - started
        runs = [await store.get_run(run_id) for run_id in ids]
    done = [r for r in runs if r.status == "succeeded" and r.started_at and r.finished_at]
    waits = [(r.started_at - r.created_at).total_seconds() for r in done if r.started_at]
    latencies = [(r.finished_at - r.created_at).total_seconds() for r in done if r.finished_at]
    return {
        "workers": workers,
        "jobs": jobs,
        "succeeded": len(done),
        "wall_seconds": round(wall, 2),
        "runs_per_minute": round(60 * len(done) / wall, 1),
        "queue_wait_p50_s": _pct(waits, 0.5),
        "queue_wait_p99_s": _pct(waits, 0.99),
        "latency_p50_s": _pct(latencies, 0.5),
        "latency_p99_s": _pct(latencies, 0.99),
    }


async def _wait_stage(store: RunStore, run_id: str, stage: str, status: str) -> float:
    while True:
        records = {r.stage: r for r in await store.stages(run_id)}
        record = records.get(stage)
        if record is not None and record.status == status:
            return time.monotonic()
        await asyncio.sleep(0.05)


async def _wait_finished(store: RunStore, run_id: str) -> None:
    while True:
        if (await store.get_run(run_id)).status in ("succeeded", "failed"):
            return
        await asyncio.sleep(0.05)


async def crash(base: dict[str, str], tmp: Path, media: Any) -> dict[str, Any]:
    """One run uninterrupted vs. SIGKILLed mid-analysis with a second worker idling."""
    results: dict[str, Any] = {}
    async with await RunStore.open(base["DATABASE_URL"]) as store:
        for label in ("uninterrupted", "sigkill"):
            await _flush()
            queue_name = f"crash-{label}"
            env = {**base, "REDIS_QUEUE_NAME": queue_name}
            standby = _worker(_env(env, tmp / f"{label}-b"), burst=False) if label == "sigkill" else None
            [run_id] = await _enqueue(store, [media.url(f"jfk.flac?crash={label}")], queue_name)
            began = time.monotonic()
            first = _worker(_env(env, tmp / f"{label}-a"), burst=label == "uninterrupted")
            if standby is not None:
                analyze_began = await _wait_stage(store, run_id, "analyze", "running")
                await asyncio.sleep(2.0)  # halfway into the analysis
                first.send_signal(signal.SIGKILL)
                killed_after = time.monotonic() - analyze_began
            await _wait_finished(store, run_id)
            total = time.monotonic() - began
            stages = {r.stage: r for r in await store.stages(run_id)}
            for proc in (first, standby):
                if proc is not None and proc.poll() is None:
                    proc.send_signal(signal.SIGTERM)
                    await asyncio.to_thread(proc.wait)
            results[label] = {
                "total_seconds": round(total, 2),
                "analyze_seconds": round(stages["analyze"].duration_seconds or 0, 2),
                "attempts": {name: r.attempts for name, r in stages.items()},
            }
            if label == "sigkill":
                results[label]["killed_after_analyze_seconds"] = round(killed_after, 2)
    lost = results["sigkill"]["total_seconds"] - results["uninterrupted"]["total_seconds"]
    stage = results["uninterrupted"]["analyze_seconds"]
    results["time_lost_seconds"] = round(lost, 2)
    results["lost_over_interrupted_stage"] = round(lost / stage, 2) if stage else None
    results["lease_seconds"] = LEASE_SECONDS
    return results


async def main() -> None:
    """Run both measurements and print one JSON object."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=20)
    parser.add_argument("--delay", type=float, default=0.3, help="scripted model delay per request (s)")
    parser.add_argument("--crash-delay", type=float, default=2.0, help="model delay in the crash test (s)")
    args = parser.parse_args()
    server = ScriptedOpenAI(replies=dict(REPLIES), delay=args.delay)
    base_url = server.start_in_thread()
    database = await _database()
    base = {
        "DATABASE_URL": f"postgresql+asyncpg://{POSTGRES.split('://', 1)[1].rsplit('/', 1)[0]}/{database}",
        "REDIS_URL": REDIS,
        "LLM_BASE_URL": base_url,
        "LLM_MODEL": "scripted",
        "EMBEDDINGS_BASE_URL": base_url,
        "EMBEDDINGS_MODEL": "scripted",
        "ALLOW_PRIVATE_URLS": "true",
        "METRICS_PORT": "0",
        "LOG_LEVEL": "ERROR",
        "WORKER_LEASE_SECONDS": str(LEASE_SECONDS),
        "WORKER_CONCURRENCY": "1",
    }
    try:
        with tempfile.TemporaryDirectory() as tmp, serve_media() as media:
            figures: dict[str, Any] = {"model_delay_seconds": args.delay, "cpu_cores": os.cpu_count()}
            figures["one_worker"] = await throughput(base, Path(tmp), media, args.jobs, 1)
            figures["two_workers"] = await throughput(base, Path(tmp), media, args.jobs, 2)
            one, two = figures["one_worker"]["wall_seconds"], figures["two_workers"]["wall_seconds"]
            figures["speedup_two_vs_one"] = round(one / two, 2) if two else None
            server.delay = args.crash_delay
            figures["crash"] = await crash(base, Path(tmp), media)
            figures["crash"]["model_delay_seconds"] = args.crash_delay
    finally:
        server.stop_thread()
        await _drop(database)
        await _flush()
    print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    asyncio.run(main())
