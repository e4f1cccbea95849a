"""Fixtures of the fault suite: private services to break, and a fleet (the bot under test in this
process, `autointel worker` processes beside it) wired to them.

The e2e fixtures (the Discord emulator, the scripted model, the media server, `world`) are
reused as they are. A private service that cannot start skips the test with the reason, or
fails it under AUTOINTEL_TEST_REQUIRE_SERVICES=1 (CI).
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import TypeVar

import pytest
from conftest import service_unavailable

from e2e.conftest import (  # noqa: F401  (fixtures shared with the e2e suite)
    discord_emulator,
    discord_endpoints,
    media,
    scripted_llm,
    world,
)
from e2e.harness import BotWorld
from faults.fleet import Fleet, MakeFleet
from faults.services import ModelServerProcess, PrivatePostgres, PrivateRedis, ServiceUnavailable, SmallDisk

S = TypeVar("S")
LEASE_SECONDS = "2"  # a killed worker's runs are taken over within seconds


def started(name: str, start: Callable[[], S]) -> S:
    """`start()`, or skip/fail the test (see module doc) when the service cannot start."""
    try:
        return start()
    except ServiceUnavailable as exc:
        service_unavailable(name, str(exc))
        raise  # not reached: service_unavailable skips or fails


@pytest.fixture
def private_redis() -> Iterator[PrivateRedis]:
    """A redis-server of our own (append-only file), to restart at will."""
    server = PrivateRedis()
    try:
        yield started("a private Redis", server.start)
    finally:
        server.close()


@pytest.fixture
def private_postgres() -> Iterator[PrivatePostgres]:
    """A PostgreSQL cluster of our own, to restart at will."""
    cluster = PrivatePostgres()
    try:
        yield started("a private PostgreSQL", cluster.start)
    finally:
        cluster.close()


@pytest.fixture
def model_process() -> Iterator[ModelServerProcess]:
    """The scripted model server in its own process (to kill mid-call)."""
    server = ModelServerProcess()
    try:
        yield started("the model server process", server.start)
    finally:
        server.close()


@pytest.fixture
async def make_fleet(world: BotWorld, tmp_path: Path) -> AsyncIterator[MakeFleet]:  # noqa: F811
    """`make_fleet(redis_url, database_url)`: point the bot and its workers at these services
    (a fresh queue name, short leases); start the bot and the workers with the returned fleet."""
    fleets: list[Fleet] = []

    def make(redis_url: str, database_url: str) -> Fleet:
        world.env("REDIS_URL", redis_url)
        world.env("REDIS_QUEUE_NAME", f"faults-{uuid.uuid4().hex[:8]}")
        world.env("DATABASE_URL", database_url)
        world.env("WORKER_LEASE_SECONDS", LEASE_SECONDS)
        fleets.append(Fleet(world, tmp_path))
        return fleets[-1]

    yield make
    await world.stop()
    for fleet in fleets:
        for process in fleet.workers:
            process.kill()


@pytest.fixture
def disk(tmp_path: Path) -> Iterator[SmallDisk]:
    """A 32 MiB tmpfs for a data dir (real ENOSPC once `fill`ed), unmounted afterwards."""
    small = SmallDisk(tmp_path / "disk", size=32 * 1024 * 1024)
    try:
        yield started("a small tmpfs (mount needs root or CAP_SYS_ADMIN)", small.mount)
    finally:
        small.unmount()
