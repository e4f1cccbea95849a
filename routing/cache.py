"""The LLM response cache: exact answers by (model, messages, parameters), never errors.

Keys are SHA-256 hashes of the model's endpoint and id, the messages the task sends and the
sampling parameters, so any change of prompt, schema or parameters misses. Redis holds the
answers when `REDIS_URL` is set (shared by the bot and every worker, TTL by task); otherwise an
in-process LRU with the same TTLs. `get_or_compute` is single-flight: concurrent identical
requests wait for one model call (in-process with a future; across processes with a Redis
lock that the computing process renews, so it lapses within seconds if that process dies),
and a failed call caches nothing.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from observability.metrics import CACHE_LOOKUPS
from settings import Settings

log = logging.getLogger(__name__)

ANALYSIS_TASKS = frozenset({"summary", "claims", "fallacies", "perspectives", "summary_reduce"})
LOCK_SECONDS = 15.0  # a fill lock not renewed for this long belongs to a dead process
POLL_SECONDS = 0.05


def cache_key(*parts: Any) -> str:
    """A stable hash of the JSON-serialisable parts of a request."""
    blob = json.dumps(parts, sort_keys=True, ensure_ascii=False, default=str)
    return "autointel:llm:" + hashlib.sha256(blob.encode("utf-8")).hexdigest()


def ttl_for(task: str, settings: Settings) -> int:
    """How long an answer stays valid: long for transcript analysis, shorter for fact checks."""
    config = settings.cache
    return config.analysis_ttl_seconds if task in ANALYSIS_TASKS else config.fact_check_ttl_seconds


class Backend(Protocol):
    """Where cached answers live."""

    async def get(self, key: str) -> str | None:
        """The cached value, or None."""

    async def set(self, key: str, value: str, ttl: int) -> None:
        """Store a value for `ttl` seconds."""

    async def lock(self, key: str) -> bool:
        """Take the cross-process fill lock of a key (True when taken)."""

    async def renew(self, key: str) -> None:
        """Extend the fill lock this process holds."""

    async def unlock(self, key: str) -> None:
        """Release the fill lock."""

    async def close(self) -> None:
        """Release connections."""


class MemoryBackend:
    """An in-process LRU with per-entry expiry."""

    def __init__(self, max_entries: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.max_entries = max_entries
        self.clock = clock
        self.entries: OrderedDict[str, tuple[float, str]] = OrderedDict()

    async def get(self, key: str) -> str | None:
        """The value while it is fresh (and mark it recently used)."""
        found = self.entries.get(key)
        if found is None:
            return None
        if found[0] <= self.clock():
            del self.entries[key]
            return None
        self.entries.move_to_end(key)
        return found[1]

    async def set(self, key: str, value: str, ttl: int) -> None:
        """Store, evicting the least recently used entries beyond the size limit."""
        self.entries[key] = (self.clock() + ttl, value)
        self.entries.move_to_end(key)
        while len(self.entries) > self.max_entries:
            self.entries.popitem(last=False)

    async def lock(self, key: str) -> bool:
        """In-process single flight needs no lock beyond the futures."""
        return True

    async def renew(self, key: str) -> None:
        """Nothing to extend."""

    async def unlock(self, key: str) -> None:
        """Nothing to release."""

    async def close(self) -> None:
        """Nothing to close."""


class RedisBackend:
    """Answers in Redis with TTLs; fill locks are `SET NX PX` keys."""

    def __init__(self, client: Any) -> None:
        self.client = client

    @classmethod
    def connect(cls, url: str) -> RedisBackend:
        """A client for `url` (connects lazily, on first use)."""
        from redis.asyncio import Redis

        return cls(Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5))

    async def get(self, key: str) -> str | None:
        """The cached value, or None."""
        value = await self.client.get(key)
        return value.decode("utf-8") if isinstance(value, bytes) else value

    async def set(self, key: str, value: str, ttl: int) -> None:
        """Store with expiry."""
        await self.client.set(key, value, ex=ttl)

    async def lock(self, key: str) -> bool:
        """Take the fill lock unless another process holds it."""
        return bool(await self.client.set(key + ":lock", "1", nx=True, px=int(LOCK_SECONDS * 1000)))

    async def renew(self, key: str) -> None:
        """Extend the fill lock while the model call runs."""
        await self.client.pexpire(key + ":lock", int(LOCK_SECONDS * 1000))

    async def unlock(self, key: str) -> None:
        """Release the fill lock."""
        await self.client.delete(key + ":lock")

    async def close(self) -> None:
        """Close the connection pool."""
        await self.client.aclose()


class ResponseCache:
    """Single-flight get-or-compute over a backend; counts hits, misses and shared waits."""

    def __init__(self, backend: Backend) -> None:
        self.backend = backend
        self._inflight: dict[str, asyncio.Future[str]] = {}

    async def peek(self, key: str) -> str | None:
        """A cached answer without computing anything (a backend failure reads as a miss)."""
        try:
            return await self.backend.get(key)
        except Exception as exc:  # the cache boundary: Redis trouble must not fail a run
            log.warning("response cache read failed: %s", exc)
            return None

    async def get_or_compute(
        self, key: str, ttl: int, compute: Callable[[], Awaitable[str]]
    ) -> tuple[str, str]:
        """The cached value or `compute()`'s, and how it came: "hit", "miss" or "shared"."""
        cached = await self.peek(key)
        if cached is not None:
            CACHE_LOOKUPS.labels(cache="response", result="hit").inc()
            return cached, "hit"
        waiting = self._inflight.get(key)
        if waiting is not None:
            CACHE_LOOKUPS.labels(cache="response", result="shared").inc()
            return await asyncio.shield(waiting), "shared"
        future: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self._inflight[key] = future
        try:
            value, how = await self._fill(key, ttl, compute)
            future.set_result(value)
            return value, how
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # retrieved here, so a future nobody waits on logs nothing
            raise
        finally:
            del self._inflight[key]

    async def _fill(self, key: str, ttl: int, compute: Callable[[], Awaitable[str]]) -> tuple[str, str]:
        """Compute under the cross-process lock, or wait for the process that holds it."""
        locked = await self._try(self.backend.lock(key), default=True)
        while not locked:  # another process is computing it: wait for its answer or its lock to lapse
            await asyncio.sleep(POLL_SECONDS)
            value = await self.peek(key)
            if value is not None:
                CACHE_LOOKUPS.labels(cache="response", result="shared").inc()
                return value, "shared"
            locked = await self._try(self.backend.lock(key), default=True)
        CACHE_LOOKUPS.labels(cache="response", result="miss").inc()
        keeper = asyncio.create_task(self._keep_lock(key))
        try:
            value = await compute()
            await self._try(self.backend.set(key, value, ttl), default=None)
            return value, "miss"
        finally:
            keeper.cancel()
            await self._try(self.backend.unlock(key), default=None)

    async def _keep_lock(self, key: str) -> None:
        """Renew the fill lock while this process computes (it lapses soon after a crash)."""
        while True:
            await asyncio.sleep(LOCK_SECONDS / 3)
            await self._try(self.backend.renew(key), default=None)

    async def _try(self, call: Awaitable[Any], default: Any) -> Any:
        try:
            return await call
        except Exception as exc:  # the cache boundary: Redis trouble must not fail a run
            log.warning("response cache unavailable: %s", exc)
            return default

    async def close(self) -> None:
        """Close the backend."""
        await self.backend.close()


def open_cache(settings: Settings) -> ResponseCache | None:
    """Redis when `REDIS_URL` is set, else the in-process LRU; None when `CACHE_ENABLED=false`."""
    if not settings.cache.enabled:
        return None
    if settings.redis.url is not None:
        return ResponseCache(RedisBackend.connect(settings.redis.url.get_secret_value()))
    return ResponseCache(MemoryBackend(settings.cache.max_entries))
