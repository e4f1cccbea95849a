"""The in-process queue: bounded concurrency, arrival order, idempotent enqueue, cancellation."""

from __future__ import annotations

import asyncio

from pipelines.queue import LocalQueue


async def test_runs_in_order_with_bounded_concurrency() -> None:
    started: list[str] = []
    active = peak = 0
    gate = asyncio.Event()

    async def job(run_id: str) -> None:
        nonlocal active, peak
        started.append(run_id)
        active += 1
        peak = max(peak, active)
        await gate.wait()
        active -= 1

    queue = LocalQueue(job, concurrency=2)
    positions = [await queue.enqueue(f"r{n}") for n in range(5)]
    assert positions == [0, 0, 1, 2, 3]
    assert await queue.enqueue("r3") == 2  # already waiting: no second copy
    await asyncio.sleep(0)
    assert await queue.next_position() == 4
    gate.set()
    await queue.join()
    assert started == ["r0", "r1", "r2", "r3", "r4"] and peak == 2


async def test_cancel_waiting_and_running() -> None:
    stopped: list[str] = []

    async def job(run_id: str) -> None:
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            stopped.append(run_id)
            raise

    queue = LocalQueue(job, concurrency=1)
    await queue.enqueue("a")
    await queue.enqueue("b")
    await asyncio.sleep(0)
    assert await queue.cancel("b") and queue.position("b") is None
    assert await queue.cancel("a")
    await queue.join()
    assert stopped == ["a"]
    assert not await queue.cancel("a")


async def test_close_stops_running_jobs() -> None:
    async def job(run_id: str) -> None:
        await asyncio.sleep(30)

    queue = LocalQueue(job, concurrency=1)
    await queue.enqueue("a")
    await queue.enqueue("b")
    await asyncio.sleep(0)
    await queue.close()
    assert queue.position("a") is None and queue.position("b") is None
