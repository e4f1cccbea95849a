"""Benchmark: watch polling — the CPU cost of a round over unchanged feeds, and duplicates under races.

1. Unchanged poll: 100 watches of RSS feeds served by another process (tests/fakes/feed_server.py,
   so its CPU is not counted), polled once to learn each feed and its ETag, then polled again
   with nothing new: every feed answers 304 to the conditional request. Reports this process's
   CPU seconds (`time.process_time`) and the wall time of that second round
   (target: ≤ 1 CPU second beyond network waits).
2. Races: two pollers with their own database connections poll the same watches at the same
   moments, 50 times, while every feed gains two episodes per round. Reports entries and runs
   submitted and the runs submitted twice for one (watch, entry) (target 0).

Both on SQLite, and on PostgreSQL when it answers (AUTOINTEL_BENCH_POSTGRES).

    .venv/bin/python benchmarks/watch.py [--watches 100] [--polls 50] [--race-watches 10]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
import uuid
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]  # the repo first: tests/ mirrors its package names

from fakes.feed_server import serve_feed  # noqa: E402
from pipelines.models import Depth, Source  # noqa: E402
from pipelines.runner import submit  # noqa: E402
from pipelines.store import RunStore  # noqa: E402
from pipelines.tables import utcnow  # noqa: E402
from pipelines.watch import WatchPoller  # noqa: E402
from pipelines.watch_store import WatchRecord, WatchStore  # noqa: E402
from settings import Settings, load_settings  # noqa: E402

POSTGRES = os.environ.get("AUTOINTEL_BENCH_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres")
SERVER = """
import sys
sys.path[:0] = [{root!r}, {tests!r}]
from fakes.feed_server import serve_feed
with serve_feed() as feed:
    feed.add_old(10)
    print(feed.base_url, flush=True)
    sys.stdin.read()
"""


class Clock:
    """The pollers' shared clock, moved forward one interval per round."""

    def __init__(self) -> None:
        self.now = utcnow()

    def __call__(self) -> datetime:
        return self.now


def _settings(data: Path) -> Settings:
    return load_settings(
        pipeline={"data_dir": data, "allow_private_urls": True},
        watch={"interval_minutes": 10, "max_runs_per_day": 1_000_000, "max_per_guild": 1000},
    )


def _submitter(store: RunStore, log: list[tuple[int, str]]) -> Any:
    async def run(watch: WatchRecord, source: Source) -> str:
        record = await submit(store, source, Depth(watch.depth), requester=f"watch:{watch.id}", namespace="1")
        log.append((watch.id, source.key))
        return record.id

    return run


async def _add_watches(store: RunStore, urls: list[str]) -> None:
    watches = WatchStore(store.engine)
    for n, url in enumerate(urls):
        await watches.add(guild_id="1", channel_id=str(n), url=url, depth="quick", max_per_guild=len(urls))


async def unchanged_poll(url: str, data: Path, count: int) -> dict[str, Any]:
    """CPU and wall time of a round of `count` watches whose feeds did not change."""
    server = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        SERVER.format(root=str(ROOT), tests=str(ROOT / "tests")),
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
    )
    assert server.stdin is not None and server.stdout is not None
    try:
        base = (await server.stdout.readline()).decode().strip()
        settings, clock = _settings(data), Clock()
        async with await RunStore.open(url) as store:
            await _add_watches(store, [f"{base}/feed.xml?w={n}" for n in range(count)])
            clock.now = utcnow()  # the watches are due
            async with WatchPoller(
                settings, WatchStore(store.engine), _submitter(store, []), clock=clock
            ) as poller:
                cpu, wall = time.process_time(), time.perf_counter()
                first = await poller.poll_due()
                first_cpu = time.process_time() - cpu
                clock.now += timedelta(minutes=10)
                cpu, wall = time.process_time(), time.perf_counter()
                second = await poller.poll_due()
                cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
            for watch in await WatchStore(store.engine).watches():  # leave the store to the race
                await WatchStore(store.engine).remove(watch.id)
    finally:
        server.stdin.close()
        await server.wait()
    return {
        "watches": count,
        "first_poll_cpu_seconds": round(first_cpu, 3),
        "first_poll_runs": len(first.runs),
        "unchanged": second.unchanged,
        "cpu_seconds": round(cpu, 3),
        "wall_seconds": round(wall, 3),
        "target_cpu_seconds": 1.0,
    }


async def race(url: str, data: Path, watches: int, polls: int) -> dict[str, Any]:
    """Runs submitted per (watch, entry) by two pollers polling together `polls` times."""
    settings, clock = _settings(data), Clock()
    logs: tuple[list[tuple[int, str]], list[tuple[int, str]]] = ([], [])
    with serve_feed() as feed:
        feed.add_old(3)
        async with await RunStore.open(url) as one, await RunStore.open(url) as two:
            await _add_watches(one, [f"{feed.feed_url}?w={n}" for n in range(watches)])
            clock.now = utcnow()
            async with (
                WatchPoller(settings, WatchStore(one.engine), _submitter(one, logs[0]), clock=clock) as first,
                WatchPoller(
                    settings, WatchStore(two.engine), _submitter(two, logs[1]), clock=clock
                ) as second,
            ):
                await first.poll_due()  # the baseline: the back catalogue is not analysed
                for round_ in range(polls):
                    feed.add(f"Episode {round_}a")
                    feed.add(f"Episode {round_}b")
                    clock.now += timedelta(minutes=10)
                    await asyncio.gather(first.poll_due(), second.poll_due())
    submitted = Counter(logs[0] + logs[1])
    return {
        "pollers": 2,
        "polls": polls,
        "watches": watches,
        "entries_expected": watches * polls * 2,
        "runs": sum(submitted.values()),
        "runs_by_poller": [len(logs[0]), len(logs[1])],
        "duplicate_runs": sum(count - 1 for count in submitted.values() if count > 1),
        "target_duplicate_runs": 0,
    }


async def _postgres() -> tuple[str, str] | None:
    try:
        import asyncpg

        conn = await asyncio.wait_for(asyncpg.connect(POSTGRES), timeout=5)
    except Exception:  # no server: the benchmark reports SQLite only
        return None
    name = f"autointel_bench_{uuid.uuid4().hex[:8]}"
    await conn.execute(f'CREATE DATABASE "{name}"')
    await conn.close()
    base = POSTGRES.replace("postgresql://", "postgresql+asyncpg://").rsplit("/", 1)[0]
    return name, f"{base}/{name}"


async def _drop(name: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(POSTGRES)
    await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    await conn.close()


async def main(args: argparse.Namespace) -> dict[str, Any]:
    """Both measurements on each available backend."""
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp)
        backends: dict[str, tuple[str | None, str]] = {
            "sqlite": (None, f"sqlite+aiosqlite:///{data / 'bench.db'}")
        }
        postgres = await _postgres()
        if postgres is not None:
            backends["postgresql"] = postgres
        for backend, (database, url) in backends.items():
            try:
                results[backend] = {
                    "unchanged_poll": await unchanged_poll(url, data, args.watches),
                    "race": await race(url, data, args.race_watches, args.polls),
                }
            finally:
                if database is not None:
                    await _drop(database)
    return results


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--watches", type=int, default=100)
    parser.add_argument("--polls", type=int, default=50)
    parser.add_argument("--race-watches", type=int, default=10)
    print(json.dumps(asyncio.run(main(parser.parse_args())), indent=2))
