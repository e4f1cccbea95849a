"""Run queues: in-process (the embedded default) or arq on Redis (`autointel worker` processes).

Both offer the same async interface (`RunQueue`): enqueue a run id (idempotent: the job id is
the run id), its position, cancel, close. `open_queue(settings, job)` picks one: with no
REDIS_URL a `LocalQueue`, else an `ArqQueue` (the job then runs in a worker, not here).

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
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Protocol

from observability.metrics import QUEUE_DEPTH
from pipelines.errors import QueueUnavailableError
from settings import Settings

if TYPE_CHECKING:
    from arq import ArqRedis

    from pipelines.store import RunStore

log = logging.getLogger(__name__)

Job = Callable[[str], Awaitable[None]]
JOB_NAME = "run_job"  # the arq function name workers register
WATCH_JOB_NAME = "watch_tick"  # workers' cron job polling the watches (shares the queue; not a run)
REDIS_RETRIES = 30  # with the backoff below ≈ 1 min: a Redis restart is ridden out, an outage surfaces


async def ride_out_restarts(redis: ArqRedis) -> None:
    """Retry every later command on this connection pool, reconnecting, with exponential backoff
    (0.1 s doubling to 2 s, `REDIS_RETRIES` times), so a Redis restart delays the bot and the
    workers instead of failing them. Applied after the first connect succeeded: a Redis that is
    down at start-up still fails at once with a clear error."""
    from redis.asyncio.retry import Retry
    from redis.backoff import ExponentialBackoff
    from redis.exceptions import ConnectionError, TimeoutError

    transient: list[type[Exception]] = [ConnectionError, TimeoutError, OSError]
    retry = Retry(ExponentialBackoff(cap=2.0, base=0.1), REDIS_RETRIES, tuple(transient))  # type: ignore[arg-type]
    pool = redis.connection_pool
    pool.connection_kwargs.update(retry=retry, retry_on_error=transient)
    await pool.disconnect()  # connections made before carry no retry: close and forget them
    pool.reset()


class RunQueue(Protocol):
    """What the bot and the CLI need from a queue."""

    distributed: bool

    async def enqueue(self, run_id: str) -> int:
        """Queue a run (no-op if already queued or running); its position (0 = running)."""

    async def next_position(self) -> int:
        """The position a run enqueued now would get."""

    async def cancel(self, run_id: str) -> bool:
        """Stop a queued or running run; False when the queue does not know it."""

    async def close(self) -> None:
        """Release the queue (a local queue stops its running jobs)."""


class LocalQueue:
    """Runs jobs in this process's event loop."""

    distributed = False

    def __init__(self, job: Job, concurrency: int) -> None:
        self._job = job
        self._concurrency = concurrency
        self._waiting: list[str] = []
        self._running: dict[str, asyncio.Task[None]] = {}
        self._idle = asyncio.Event()
        self._idle.set()
        self._closed = False

    async def enqueue(self, run_id: str) -> int:
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

    async def next_position(self) -> int:
        """The position a run enqueued now would get."""
        return len(self._waiting) + 1 if len(self._running) >= self._concurrency else 0

    async def cancel(self, run_id: str) -> bool:
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
        QUEUE_DEPTH.labels(queue="local").set(len(self._waiting))

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
        QUEUE_DEPTH.labels(queue="local").set(len(self._waiting))
        if not self._waiting and not self._running:
            self._idle.set()


class ArqQueue:
    """Enqueues runs as arq jobs on Redis; `autointel worker` processes execute them."""

    distributed = True

    def __init__(self, redis: ArqRedis, queue_name: str) -> None:
        self.redis = redis
        self.queue_name = queue_name
        self._closed = False

    @classmethod
    async def connect(cls, url: str, queue_name: str) -> ArqQueue:
        """Connect (one quick retry); `QueueUnavailableError` when Redis cannot be reached."""
        from arq import create_pool
        from arq.connections import RedisSettings
        from redis.exceptions import RedisError

        try:
            redis_settings = RedisSettings.from_dsn(url)
            redis_settings.conn_retries = 1
            redis_settings.conn_timeout = 2
            redis = await create_pool(redis_settings, default_queue_name=queue_name)
        except (OSError, RedisError, ValueError) as exc:
            raise QueueUnavailableError(f"cannot reach Redis at REDIS_URL: {exc}") from exc
        await ride_out_restarts(redis)
        return cls(redis, queue_name)

    async def enqueue(self, run_id: str) -> int:
        """Enqueue job `run_id` (arq ignores a second enqueue of a queued or running job)."""
        await self.redis.enqueue_job(JOB_NAME, run_id, _job_id=run_id, _queue_name=self.queue_name)
        return await self.position(run_id) or 0

    async def _running(self, run_ids: list[str]) -> list[bool]:
        from arq.constants import in_progress_key_prefix

        if not run_ids:
            return []
        async with self.redis.pipeline(transaction=False) as pipe:
            for run_id in run_ids:
                pipe.exists(in_progress_key_prefix + run_id)
            return [bool(found) for found in await pipe.execute()]

    async def _queued_runs(self) -> list[str]:
        """The ids of the queued jobs that are runs (arq also queues the watch cron's ticks here)."""
        queued = [raw.decode() for raw in await self.redis.zrange(self.queue_name, 0, -1)]
        return [job_id for job_id in queued if not job_id.startswith(f"{WATCH_JOB_NAME}:")]

    async def position(self, run_id: str) -> int | None:
        """0 while a worker runs it, 1.. while it waits, None when not queued."""
        queued = await self._queued_runs()
        if run_id not in queued:
            return None
        running = await self._running(queued)
        if running[queued.index(run_id)]:
            return 0
        waiting = [rid for rid, busy in zip(queued, running, strict=True) if not busy]
        return waiting.index(run_id) + 1

    async def next_position(self) -> int:
        """One behind the jobs that wait (workers' free slots are not known here)."""
        return await self.waiting() + 1

    async def waiting(self) -> int:
        """How many runs wait for a worker (also published as the queue depth gauge)."""
        queued = await self._queued_runs()
        count = sum(not busy for busy in await self._running(queued))
        QUEUE_DEPTH.labels(queue="arq").set(count)
        return count

    async def cancel(self, run_id: str) -> bool:
        """Ask the workers to abort the job (a queued job is dropped when picked)."""
        from arq.constants import abort_jobs_ss
        from arq.utils import timestamp_ms

        if await self.redis.zscore(self.queue_name, run_id) is None:
            return False
        await self.redis.zadd(abort_jobs_ss, {run_id: timestamp_ms()})
        return True

    async def requeue_stale(self, run_id: str) -> None:
        """Make a run whose worker died runnable again at once (not after the job timeout)."""
        from arq.constants import in_progress_key_prefix

        await self.redis.delete(in_progress_key_prefix + run_id)
        await self.enqueue(run_id)

    async def close(self) -> None:
        """Close the Redis connections (idempotent)."""
        if not self._closed:
            self._closed = True
            await self.redis.aclose()


@asynccontextmanager
async def open_queue(settings: Settings, job: Job) -> AsyncIterator[RunQueue]:
    """A `LocalQueue` running `job`, or with REDIS_URL an `ArqQueue` (workers run the job)."""
    queue: RunQueue
    if settings.redis.url is None:
        queue = LocalQueue(job, settings.pipeline.queue_concurrency)
    else:
        queue = await ArqQueue.connect(settings.redis.url.get_secret_value(), settings.redis.queue_name)
    try:
        yield queue
    finally:
        await queue.close()


async def cancel_run(store: RunStore, queue: RunQueue, run_id: str) -> bool:
    """Mark a run cancelled and stop it wherever it runs (False when it had already finished).

    The process executing it stops at the next stage boundary (it checks the store) or at once
    when its queue can reach it (a local task, or an arq abort).
    """
    run = await store.get_run(run_id)
    if run.status not in ("queued", "running", "interrupted"):
        return False
    await store.set_run_status(run.id, "cancelled", error_code="cancelled", error_message="cancelled")
    await queue.cancel(run.id)
    return True
