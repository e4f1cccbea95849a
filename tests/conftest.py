"""Shared fixtures: settings in a temporary data dir, a real run store on SQLite and PostgreSQL,
and a real Redis.

PostgreSQL (127.0.0.1:5432) and Redis (127.0.0.1:6379, database 15 by default) run on the dev
and CI machines. Without them the tests that need them skip with the reason, unless
AUTOINTEL_TEST_REQUIRE_SERVICES=1 (set by .ci/run), which turns the skip into a failure.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from pipelines.store import RunStore
from settings import Settings, load_settings

DATA = Path(__file__).parent / "data"
POSTGRES_URL = os.environ.get(
    "AUTOINTEL_TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
)
REDIS_URL = os.environ.get("AUTOINTEL_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
REQUIRE_SERVICES = os.environ.get("AUTOINTEL_TEST_REQUIRE_SERVICES") == "1"
# Hermetic by default: no test reaches Wikipedia; the evidence tests configure their local sources.
os.environ["EVIDENCE_SOURCES"] = "memory"


def service_unavailable(name: str, reason: str) -> None:
    """Skip (developer laptop) or fail (CI) when a service a test needs is down."""
    message = f"{name} is not reachable ({reason})"
    if REQUIRE_SERVICES:
        pytest.fail(message + "; AUTOINTEL_TEST_REQUIRE_SERVICES=1 requires it")
    pytest.skip(message)


@pytest.fixture
def make_settings(tmp_path: Path) -> Callable[..., Settings]:
    """Build settings with the data dir in tmp_path; keyword args are per-section overrides."""

    def build(**sections: dict[str, Any]) -> Settings:
        pipeline = {"data_dir": tmp_path / "data", **sections.pop("pipeline", {})}
        return load_settings(pipeline=pipeline, **sections)

    return build


async def _admin(sql: str) -> None:
    import asyncpg

    dsn = POSTGRES_URL.replace("postgresql+asyncpg://", "postgresql://")
    conn = await asyncio.wait_for(asyncpg.connect(dsn), timeout=5)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@pytest.fixture(params=["sqlite", "postgresql"])
async def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """The URL of an empty run store on each backend (a fresh PostgreSQL database per test)."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'store.db'}"
        return
    name = f"autointel_test_{uuid.uuid4().hex[:12]}"
    try:
        await _admin(f'CREATE DATABASE "{name}"')
    except Exception as exc:  # asyncpg's errors do not share a base with OSError
        service_unavailable("PostgreSQL", f"{type(exc).__name__}: {exc}")
    base, _, _ = POSTGRES_URL.rpartition("/")
    yield f"{base}/{name}"
    await _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
async def store(store_url: str) -> AsyncIterator[RunStore]:
    """An open, migrated run store on each backend."""
    opened = await RunStore.open(store_url)
    yield opened
    await opened.close()


@pytest.fixture
async def redis_url() -> AsyncIterator[str]:
    """A reachable Redis database, emptied before and after the test."""
    from redis.asyncio import Redis

    client = Redis.from_url(REDIS_URL)
    try:
        await asyncio.wait_for(client.flushdb(), timeout=5)
    except Exception as exc:  # redis-py raises its own ConnectionError, not OSError
        await client.aclose()
        service_unavailable("Redis", f"{type(exc).__name__}: {exc}")
    yield REDIS_URL
    await client.flushdb()
    await client.aclose()
