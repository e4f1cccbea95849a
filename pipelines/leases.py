"""Run leases: at most one process executes a run, and a run whose process died is found.

A process takes a run's lease before executing it (`take`), renews it on a heartbeat while it
works (`hold`), and releases it when done. A lease that was not renewed for its duration
belongs to a process that died or hung: `expired` lists those runs so they can be handed to
another worker, which can then take the lease. Works the same on SQLite and PostgreSQL (a
conditional UPDATE is atomic on both). Expiry is written and judged on the database's clock
(pipelines.clock), so a worker whose wall clock is skewed neither steals live runs nor keeps
dead ones.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker

from pipelines.clock import database_now
from pipelines.dbretry import retrying
from pipelines.errors import RunError, RunNotFoundError
from pipelines.tables import RunRow

log = logging.getLogger(__name__)


class RunBusyError(RunError):
    """Another live process holds the run's lease."""

    code = "run_busy"


def process_identity() -> str:
    """A lease owner name for this process: host, pid and a random suffix."""
    return f"{socket.gethostname()[:32]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class RunLeases:
    """Lease operations on the runs table."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._sessions = async_sessionmaker(engine, expire_on_commit=False)

    async def _update(self, run_id: str, where: object, **values: object) -> bool:
        async with self._sessions.begin() as session:
            result = await session.execute(
                update(RunRow).where(RunRow.id == run_id, where).values(**values)  # type: ignore[arg-type]
            )
        return bool(getattr(result, "rowcount", 0) == 1)

    @retrying
    async def take(self, run_id: str, owner: str, seconds: float) -> bool:
        """Take the lease if it is free, expired or already ours."""
        now = await database_now(self._engine)
        free = (
            (RunRow.lease_owner.is_(None)) | (RunRow.lease_owner == owner) | (RunRow.lease_expires_at < now)
        )
        return await self._update(
            run_id, free, lease_owner=owner, lease_expires_at=now + timedelta(seconds=seconds)
        )

    @retrying
    async def renew(self, run_id: str, owner: str, seconds: float) -> bool:
        """Extend our lease; False when it was taken over (we must stop)."""
        expires = await database_now(self._engine) + timedelta(seconds=seconds)
        return await self._update(run_id, RunRow.lease_owner == owner, lease_expires_at=expires)

    @retrying
    async def release(self, run_id: str, owner: str) -> None:
        """Give the lease back."""
        await self._update(run_id, RunRow.lease_owner == owner, lease_owner=None, lease_expires_at=None)

    @retrying
    async def expired(self, *, exclude_owner: str | None = None) -> list[str]:
        """Runs whose lease ran out (their process died or hung), oldest first: unfinished ones
        to resume, and finished ones whose process died before it delivered and released.

        `exclude_owner` leaves out the caller's own leases: a live process renews them as soon
        as it can (they lapse only while the database is unreachable).
        """
        query = (
            select(RunRow.id)
            .where(
                RunRow.lease_owner.is_not(None), RunRow.lease_expires_at < await database_now(self._engine)
            )
            .order_by(RunRow.created_at)
        )
        if exclude_owner is not None:
            query = query.where(RunRow.lease_owner != exclude_owner)
        async with self._sessions() as session:
            return list(await session.scalars(query))

    @contextlib.asynccontextmanager
    async def hold(self, run_id: str, owner: str, seconds: float) -> AsyncIterator[None]:
        """Hold the lease while the body runs, renewing it every third of `seconds`.

        Raises `RunBusyError` when another process holds it (`RunNotFoundError` when this store
        has no such run: a worker pointed at another database). If the lease is lost while the
        body runs (this process stalled and another took over), the body is cancelled.
        """
        if not await self.take(run_id, owner, seconds):
            async with self._sessions() as session:
                if await session.get(RunRow, run_id) is None:
                    raise RunNotFoundError(f"no run with id {run_id!r} in this run store")
            raise RunBusyError(f"run {run_id} is being executed by another process")
        body = asyncio.current_task()
        lost = False

        async def heartbeat() -> None:
            nonlocal lost
            while True:
                await asyncio.sleep(seconds / 3)
                try:
                    if not await self.renew(run_id, owner, seconds):
                        lost = True
                        log.error("run %s: lease lost to another process; stopping here", run_id)
                        if body is not None:
                            body.cancel()
                        return
                except Exception:  # the database blinked: try again on the next beat
                    log.warning("run %s: could not renew the lease", run_id, exc_info=True)

        beat = asyncio.create_task(heartbeat(), name=f"lease-{run_id}")
        try:
            yield
        finally:
            beat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await beat
            if not lost:
                await self.release(run_id, owner)
