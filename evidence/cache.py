"""A content-addressed JSON cache with a TTL for evidence: search answers, pages, robots.txt.

Entries are addressed by `sha256(namespace, kind, key)`, so any string (a URL, a query) is a
safe key. Redis holds them when `REDIS_URL` is set (`SET key value EX ttl`, shared by the bot
and every worker); otherwise one JSON file per entry under
`<data_dir>/evidence-cache/<hash[:2]>/<hash>.json` holding `{"expires": epoch, "value": ...}`,
written atomically (temporary file + `os.replace`). An expired file is a miss and is deleted.

The cache never fails a fact-check: a backend error (Redis down, disk full) is logged and
reads as a miss (or a skipped write). Values must be JSON-serialisable; anything else is a
programming error and raises `TypeError`.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from redis.exceptions import RedisError

from observability.metrics import CACHE_LOOKUPS
from settings import Settings

log = logging.getLogger(__name__)

NAMESPACE = "autointel:evidence:v1"
REDIS_PREFIX = "autointel:evidence:"
DIRECTORY = "evidence-cache"
# What a backend may raise (Redis down or timing out, disk full, a corrupt Redis value).
BACKEND_ERRORS = (OSError, RedisError, ValueError)


def entry_hash(kind: str, key: str) -> str:
    """The hex SHA-256 address of an entry (the namespace and kind keep caches apart)."""
    return hashlib.sha256(f"{NAMESPACE}\0{kind}\0{key}".encode()).hexdigest()


class EvidenceCache:
    """JSON values by (kind, key) with expiry, in Redis or in files; counts hits and misses."""

    def __init__(
        self,
        *,
        ttl: int,
        redis_url: str | None = None,
        directory: Path | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        """Use Redis at `redis_url` (connects lazily) or else files under `directory`."""
        if redis_url is None and directory is None:
            raise ValueError("EvidenceCache needs a Redis URL or a directory")
        self.ttl = ttl
        self.directory = directory
        self.clock = clock
        self.hits = 0
        self.misses = 0
        self._redis: Any = None
        if redis_url is not None:
            from redis.asyncio import Redis

            self._redis = Redis.from_url(redis_url, socket_timeout=5, socket_connect_timeout=5)

    @classmethod
    def open(cls, settings: Settings) -> EvidenceCache:
        """The cache the settings describe: Redis when REDIS_URL is set, else files in the data dir."""
        ttl = settings.evidence.cache_ttl_seconds
        if settings.redis.url is not None:
            return cls(ttl=ttl, redis_url=settings.redis.url.get_secret_value())
        return cls(ttl=ttl, directory=settings.pipeline.data_dir / DIRECTORY)

    @property
    def backend(self) -> str:
        """ "redis" or "files"."""
        return "redis" if self._redis is not None else "files"

    def path_of(self, kind: str, key: str) -> Path:
        """The file holding an entry (file backend only)."""
        if self.directory is None:
            raise ValueError("the Redis backend keeps no files")
        digest = entry_hash(kind, key)
        return self.directory / digest[:2] / f"{digest}.json"

    async def get(self, kind: str, key: str) -> Any | None:
        """The cached value, or None when absent, expired or unreadable."""
        try:
            value = await (
                self._redis_get(kind, key) if self._redis is not None else self._file_get(kind, key)
            )
        except BACKEND_ERRORS as exc:  # a broken cache must not fail a fact-check: read as a miss
            log.warning("evidence cache read failed (%s): %s", self.backend, exc)
            value = None
        self._count(value is not None)
        return value

    async def put(self, kind: str, key: str, value: Any, ttl: int | None = None) -> None:
        """Store a JSON-serialisable value for `ttl` seconds (default: the cache's TTL)."""
        seconds = max(1, int(ttl if ttl is not None else self.ttl))
        try:
            if self._redis is not None:
                blob = json.dumps(value, ensure_ascii=False)  # TypeError for a value JSON cannot hold
                await self._redis.set(REDIS_PREFIX + entry_hash(kind, key), blob, ex=seconds)
            else:
                entry = {"expires": self.clock() + seconds, "value": value}
                blob = json.dumps(entry, ensure_ascii=False)
                await asyncio.to_thread(self._write, self.path_of(kind, key), blob)
        except BACKEND_ERRORS as exc:
            log.warning("evidence cache write failed (%s): %s", self.backend, exc)

    async def close(self) -> None:
        """Release the Redis connection pool (nothing to do for files)."""
        if self._redis is not None:
            await self._redis.aclose()

    def _count(self, hit: bool) -> None:
        if hit:
            self.hits += 1
        else:
            self.misses += 1
        CACHE_LOOKUPS.labels(cache="evidence", result="hit" if hit else "miss").inc()

    async def _redis_get(self, kind: str, key: str) -> Any | None:
        raw = await self._redis.get(REDIS_PREFIX + entry_hash(kind, key))
        if raw is None:
            return None
        return json.loads(raw)

    async def _file_get(self, kind: str, key: str) -> Any | None:
        return await asyncio.to_thread(self._read, self.path_of(kind, key))

    def _read(self, path: Path) -> Any | None:
        """The value of a fresh entry; expired or corrupt entries are deleted."""
        try:
            blob = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        try:
            entry = json.loads(blob)
            fresh = float(entry["expires"]) > self.clock()
            value = entry["value"]
        except (ValueError, TypeError, KeyError):
            fresh, value = False, None
        if not fresh:
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
            return None
        return value

    @staticmethod
    def _write(path: Path, blob: str) -> None:
        """Write `blob` to `path` atomically: readers see the old entry or the new one, never half."""
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".json")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(blob)
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
