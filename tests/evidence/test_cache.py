"""The evidence cache on both backends: files in the data dir and a real Redis."""

from __future__ import annotations

import json
import socket
from collections.abc import Callable
from pathlib import Path

import pytest
from redis.asyncio import Redis

from evidence.cache import REDIS_PREFIX, EvidenceCache, entry_hash
from settings import Settings

URL = "https://example.org/tower"
PAGE = {"url": URL, "text": "The Eiffel Tower was completed in 1889.", "title": None}


class Clock:
    """A settable clock for expiry (the cache takes one)."""

    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def closed_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_open_picks_files_without_redis(make_settings: Callable[..., Settings]) -> None:
    settings = make_settings(evidence={"cache_ttl_seconds": 60})
    cache = EvidenceCache.open(settings)
    assert (cache.backend, cache.ttl) == ("files", 60)
    assert cache.directory == settings.pipeline.data_dir / "evidence-cache"
    await cache.close()


async def test_files_round_trip_and_layout(tmp_path: Path) -> None:
    cache = EvidenceCache(ttl=3600, directory=tmp_path)
    assert await cache.get("page", URL) is None
    await cache.put("page", URL, PAGE)
    assert await cache.get("page", URL) == PAGE
    assert await cache.get("search:wikipedia", URL) is None  # kinds are separate namespaces
    assert (cache.hits, cache.misses) == (1, 2)
    digest = entry_hash("page", URL)
    path = tmp_path / digest[:2] / f"{digest}.json"
    stored = json.loads(path.read_text())
    assert stored["value"] == PAGE and stored["expires"] > 0
    assert list(path.parent.iterdir()) == [path]  # no temporary files left


async def test_files_expire_and_are_deleted(tmp_path: Path) -> None:
    clock = Clock()
    cache = EvidenceCache(ttl=3600, directory=tmp_path, clock=clock)
    await cache.put("page", "a", "first")
    await cache.put("page", "b", "second", ttl=10)
    clock.now += 11
    assert await cache.get("page", "b") is None
    assert not cache.path_of("page", "b").exists()
    assert await cache.get("page", "a") == "first"
    clock.now += 3600
    assert await cache.get("page", "a") is None


async def test_files_overwrite_and_corrupt_entries(tmp_path: Path) -> None:
    cache = EvidenceCache(ttl=3600, directory=tmp_path)
    await cache.put("search:searxng", "eiffel tower", [1])
    await cache.put("search:searxng", "eiffel tower", [1, 2])
    assert await cache.get("search:searxng", "eiffel tower") == [1, 2]
    cache.path_of("search:searxng", "eiffel tower").write_text("{half a json")
    assert await cache.get("search:searxng", "eiffel tower") is None
    assert not cache.path_of("search:searxng", "eiffel tower").exists()


async def test_values_must_be_json(tmp_path: Path) -> None:
    cache = EvidenceCache(ttl=3600, directory=tmp_path)
    with pytest.raises(TypeError):
        await cache.put("page", "x", {"when": object()})


async def test_unwritable_directory_reads_as_misses(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("a file where the cache directory should be")
    cache = EvidenceCache(ttl=3600, directory=blocker)
    await cache.put("page", "x", "value")  # logged, not raised
    assert await cache.get("page", "x") is None


async def test_redis_round_trip_with_ttl(redis_url: str, make_settings: Callable[..., Settings]) -> None:
    cache = EvidenceCache.open(make_settings(redis={"url": redis_url}, evidence={"cache_ttl_seconds": 600}))
    assert cache.backend == "redis"
    try:
        assert await cache.get("page", URL) is None
        await cache.put("page", URL, PAGE)
        await cache.put("robots", "https://example.org:443", "User-agent: *", ttl=30)
        assert await cache.get("page", URL) == PAGE
        assert await cache.get("robots", "https://example.org:443") == "User-agent: *"
        assert (cache.hits, cache.misses) == (2, 1)
    finally:
        await cache.close()
    client = Redis.from_url(redis_url)
    try:
        assert 0 < await client.ttl(REDIS_PREFIX + entry_hash("page", URL)) <= 600
        assert 0 < await client.ttl(REDIS_PREFIX + entry_hash("robots", "https://example.org:443")) <= 30
    finally:
        await client.aclose()


async def test_unreachable_redis_reads_as_misses() -> None:
    cache = EvidenceCache(ttl=60, redis_url=f"redis://127.0.0.1:{closed_port()}/0")
    try:
        await cache.put("page", "x", "value")  # logged, not raised
        assert await cache.get("page", "x") is None
        assert cache.misses == 1
    finally:
        await cache.close()
