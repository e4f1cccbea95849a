"""The in-process run queue: bounded concurrency, idempotent enqueue, positions, cancellation.

`LocalQueue(job, concurrency)` runs `await job(run_id)` for each enqueued run, at most
`concurrency` at a time, in arrival order. Enqueueing a run that is already waiting or
running is a no-op that returns its position. `cancel` drops a waiting run or cancels the
running task; `close` cancels what runs (a shutdown: those runs resume on the next start,
since every finished stage is stored) and forgets what waits or arrives later (still queued
in the store).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

log = logging.getLogger(__name__)

Job = Callable[[str], Awaitable[None]]


class LocalQueue:
    """Runs jobs in this process's event loop."""

    def __init__(self, job: Job, concurrency: int) -> None:
        self._job = job
        self._concurrency = concurrency
        self._waiting: list[str] = []
        self._running: dict[str, asyncio.Task[None]] = {}
        self._idle = asyncio.Event()
        self._idle.set()
        self._closed = False

    def enqueue(self, run_id: str) -> int:
        """Queue a run (no-op if queued or running); returns its position (0 = running now)."""
        if self._closed:  # shutting down: the run stays queued in the store and starts next time
            log.info("queue closed; run %s stays queued", run_id)
            return 0
        if run_id not in self._running and run_id not in self._waiting:
            self._waiting.append(run_id)
            self._idle.clear()
            self._dispatch()
        return self.position(run_id) or 0

    def position(self, run_id: str) -> int | None:
        """0 while running, 1.. while waiting, None when not in the queue."""
        if run_id in self._running:
            return 0
        if run_id in self._waiting:
            return self._waiting.index(run_id) + 1
        return None

    def next_position(self) -> int:
        """The position a run enqueued now would get."""
        return len(self._waiting) + 1 if len(self._running) >= self._concurrency else 0

    def cancel(self, run_id: str) -> bool:
        """Stop a waiting or running run; False when it is not in this queue."""
        if run_id in self._waiting:
            self._waiting.remove(run_id)
            self._settle()
            return True
        task = self._running.get(run_id)
        if task is None:
            return False
        task.cancel()
        return True

    async def join(self) -> None:
        """Wait until nothing waits or runs."""
        await self._idle.wait()

    async def close(self) -> None:
        """Cancel the running jobs and wait for them to stop; waiting runs are left to the store."""
        self._closed = True
        self._waiting.clear()
        tasks = list(self._running.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def _dispatch(self) -> None:
        while self._waiting and len(self._running) < self._concurrency:
            run_id = self._waiting.pop(0)
            task = asyncio.create_task(self._run(run_id), name=f"run-{run_id}")
            self._running[run_id] = task

    async def _run(self, run_id: str) -> None:
        try:
            await self._job(run_id)
        except asyncio.CancelledError:
            log.info("run %s stopped", run_id)
        except Exception:
            log.exception("run %s crashed outside its stages", run_id)
        finally:
            self._running.pop(run_id, None)
            if not self._closed:
                self._dispatch()
            self._settle()

    def _settle(self) -> None:
        if not self._waiting and not self._running:
            self._idle.set()
