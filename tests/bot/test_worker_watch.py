"""Watches in worker mode (real Redis, real run store): the arq cron job polls, each new entry's run
is queued and executed once even with two workers ticking, and a burst worker polls nothing."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from bot.worker import _tick_seconds, build_worker
from fakes.feed_server import FeedServer, serve_feed
from fakes.openai_server import ScriptedOpenAI, point_settings_at
from fakes.scripted_flow import REPLIES
from pipelines.store import RunStore
from pipelines.watch_store import WatchStore
from settings import Settings, load_settings


@pytest.fixture
def feed() -> Iterator[FeedServer]:
    """The local feed server."""
    with serve_feed() as server:
        yield server


@pytest.fixture
def settings(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, redis_url: str, store_url: str
) -> Iterator[Settings]:
    """Workers on this test's Redis and store, ticking every second, models scripted."""
    llm = ScriptedOpenAI(replies=dict(REPLIES))
    llm.start_in_thread()
    monkeypatch.chdir(tmp_path)
    for name, value in {
        "REDIS_URL": redis_url,
        "DATABASE_URL": store_url,
        "REDIS_QUEUE_NAME": "autointel-watch-test",
        "METRICS_PORT": "0",
        "ALLOW_PRIVATE_URLS": "true",
        "WATCH_INTERVAL_MINUTES": "0.02",
        "AUTOINTEL_DATA_DIR": str(tmp_path / "data"),
    }.items():
        monkeypatch.setenv(name, value)
    point_settings_at(llm.base_url, monkeypatch.setenv)
    yield load_settings()
    llm.stop_thread()


def test_the_tick_follows_the_interval(make_settings: Callable[..., Settings]) -> None:
    assert _tick_seconds(make_settings(watch={"interval_minutes": 15})) == {0}
    assert _tick_seconds(make_settings(watch={"interval_minutes": 0.02})) == set(range(60))
    assert _tick_seconds(make_settings(watch={"interval_minutes": 0.1})) == set(range(0, 60, 6))
    assert _tick_seconds(make_settings(watch={"interval_minutes": 0.12})) == set(range(0, 60, 6))


async def _succeeded(url: str, count: int, within: float = 90) -> list[str]:
    deadline = time.monotonic() + within
    async with await RunStore.open(url) as store:
        while time.monotonic() < deadline:
            runs = [run for run in await store.list_runs() if run.status == "succeeded"]
            if len(runs) >= count:
                return [run.id for run in runs]
            await asyncio.sleep(0.3)
    raise AssertionError(f"{count} watch runs did not succeed in {within} s")


async def test_the_cron_polls_and_each_new_entry_runs_once(
    settings: Settings, feed: FeedServer, tmp_path: Path
) -> None:
    feed.add_old(2)
    async with await RunStore.open(settings.database_url) as store:
        watches = WatchStore(store.engine)
        watch = await watches.add(
            guild_id="5", channel_id="6", url=feed.feed_url, depth="quick", backfill=1, max_per_guild=5
        )
    burst = build_worker(settings, burst=True, preload=False, handle_signals=False)
    try:
        await burst.async_run()
    finally:
        await burst.close()
    assert feed.requests == []  # a burst worker only empties the queue
    workers = [
        build_worker(
            load_settings(pipeline={"data_dir": tmp_path / name}), preload=False, handle_signals=False
        )
        for name in ("one", "two")
    ]
    running = [asyncio.create_task(worker.async_run()) for worker in workers]
    try:
        [backfilled] = await _succeeded(settings.database_url, 1)
        feed.add("New upload")
        both = await _succeeded(settings.database_url, 2)
        await asyncio.sleep(2.5)  # more ticks on both workers: nothing new
    finally:
        for task in running:
            task.cancel()
        for worker in workers:
            await worker.close()
    async with await RunStore.open(settings.database_url) as store:
        runs = await store.list_runs()
        sources = sorted(run.source.location.rsplit("/", 1)[1] for run in runs)
        assert sources == ["episode-2.ogg", "episode-3.ogg"] and backfilled in both
        assert {run.namespace for run in runs} == {"5"} and {run.requester for run in runs} == {
            f"watch:{watch.id}"
        }
        stored = await WatchStore(store.engine).get(watch.id)
    assert stored is not None and stored.error_count == 0 and feed.not_modified >= 1
