"""Workers on real Redis and the real run store (SQLite and PostgreSQL): enqueue once, run once,
resume after SIGKILL without recomputing, checkpoint on SIGTERM, cancel from another process,
two workers racing for one run, and a clear error when Redis is down."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from arq.worker import Worker

from bot.worker import build_worker
from cli import main
from fakes.openai_server import ScriptedOpenAI, point_settings_at
from fakes.scripted_flow import REPLIES
from pipelines.models import Depth
from pipelines.queue import ArqQueue
from pipelines.runner import submit
from pipelines.service import open_services
from pipelines.sources import normalise_source
from pipelines.store import RunStore, StageRecord
from settings import Settings, load_settings

JFK = Path(__file__).parent.parent / "data" / "jfk.flac"
ROOT = Path(__file__).parent.parent.parent


@pytest.fixture
def llm() -> Iterator[ScriptedOpenAI]:
    """The scripted model server (tests set `delay` to make a stage last)."""
    server = ScriptedOpenAI(replies=dict(REPLIES))
    server.start_in_thread()
    yield server
    server.stop_thread()


@pytest.fixture
def make(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, redis_url: str, store_url: str, llm: ScriptedOpenAI
) -> Callable[..., Settings]:
    """Settings for this test's Redis, store and model server; `data` names a worker's own data dir."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("REDIS_URL", redis_url)
    monkeypatch.setenv("DATABASE_URL", store_url)
    monkeypatch.setenv("REDIS_QUEUE_NAME", "autointel-test")
    monkeypatch.setenv("WORKER_LEASE_SECONDS", "2")
    monkeypatch.setenv("METRICS_PORT", "0")
    monkeypatch.setenv("AUTOINTEL_DATA_DIR", str(tmp_path / "data"))
    point_settings_at(llm.base_url, monkeypatch.setenv)

    def build(data: str = "data") -> Settings:
        return load_settings(pipeline={"data_dir": tmp_path / data})

    return build


async def _submit(settings: Settings) -> str:
    async with open_services(settings, memory=False) as (store, _):
        return (await submit(store, normalise_source(str(JFK)), Depth.QUICK)).id


async def _enqueue(settings: Settings, run_id: str) -> int:
    assert settings.redis.url is not None
    queue = await ArqQueue.connect(settings.redis.url.get_secret_value(), settings.redis.queue_name)
    try:
        return await queue.enqueue(run_id)
    finally:
        await queue.close()


async def _burst(settings: Settings) -> Any:
    worker = build_worker(settings, burst=True, preload=False, handle_signals=False)
    try:
        await worker.async_run()
    finally:
        await worker.close()
    return worker


async def _stop(worker: Worker, running: asyncio.Task[None], within: float = 30) -> None:
    """Stop a worker started with `async_run` once the job it may still be writing back is done
    (arq's `close()` cancels a job in flight and re-raises its CancelledError)."""
    in_flight = [task for task in worker.tasks.values() if not task.done()]
    if in_flight:
        await asyncio.wait(in_flight, timeout=within)
    running.cancel()
    await worker.close()


async def _stages(settings: Settings, run_id: str) -> tuple[str, dict[str, StageRecord]]:
    async with await RunStore.open(settings.database_url) as store:
        run = await store.get_run(run_id)
        return run.status, {record.stage: record for record in await store.stages(run_id)}


async def _wait_stage(settings: Settings, run_id: str, stage: str, status: str, within: float = 90) -> None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        record = (await _stages(settings, run_id))[1].get(stage)
        if record is not None and record.status == status:
            return
        await asyncio.sleep(0.2)
    raise AssertionError(f"stage {stage} never reached {status}")


def _spawn_worker(**env: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "cli", "worker"],
        env={**os.environ, **env},
        cwd=os.getcwd(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


async def test_enqueued_twice_runs_once(make: Callable[..., Settings]) -> None:
    settings = make()
    run_id = await _submit(settings)
    assert await _enqueue(settings, run_id) == 1
    assert await _enqueue(settings, run_id) == 1  # job id = run id: a no-op
    worker = await _burst(settings)
    assert worker.jobs_complete == 1 and worker.jobs_failed == 0
    status, stages = await _stages(settings, run_id)
    assert status == "succeeded"
    assert {name: record.attempts for name, record in stages.items()} == dict.fromkeys(stages, 1)


async def test_cli_analyze_enqueues_and_follows_the_worker(
    make: Callable[..., Settings], capsys: pytest.CaptureFixture[str]
) -> None:
    worker = build_worker(make("worker-data"), preload=False, handle_signals=False)
    running = asyncio.create_task(worker.async_run())
    try:
        code = await asyncio.to_thread(main, ["analyze", str(JFK), "--depth", "quick"])
    finally:
        await _stop(worker, running)
    out = capsys.readouterr()
    assert code == 0, out.err
    assert "queued for a worker" in out.err
    assert "[5/5] brief" in out.out and "Ask not" in out.out and "succeeded" in out.out


async def test_sigkill_mid_stage_resumes_without_recomputing(
    make: Callable[..., Settings], llm: ScriptedOpenAI
) -> None:
    settings = make()
    run_id = await _submit(settings)
    await _enqueue(settings, run_id)
    llm.delay = 30.0  # the analysis hangs until the worker dies
    victim = _spawn_worker()
    try:
        await _wait_stage(settings, run_id, "analyze", "running")
    finally:
        victim.send_signal(signal.SIGKILL)
        victim.wait(timeout=30)
    llm.delay = 0.0
    await _burst(settings)  # its reaper sees the dead worker's lease expire and takes the run over
    status, stages = await _stages(settings, run_id)
    assert status == "succeeded"
    assert stages["acquire"].attempts == 1 and stages["transcribe"].attempts == 1  # not recomputed
    assert stages["analyze"].attempts == 2


async def test_sigterm_checkpoints_and_another_worker_finishes(
    make: Callable[..., Settings], llm: ScriptedOpenAI
) -> None:
    settings = make()
    run_id = await _submit(settings)
    await _enqueue(settings, run_id)
    llm.delay = 30.0
    worker = _spawn_worker(WORKER_SHUTDOWN_GRACE_SECONDS="0")
    await _wait_stage(settings, run_id, "analyze", "running")
    worker.send_signal(signal.SIGTERM)
    assert worker.wait(timeout=30) == 0, worker.stderr.read().decode() if worker.stderr else ""
    status, stages = await _stages(settings, run_id)
    assert status == "interrupted" and stages["analyze"].error_code == "interrupted"
    llm.delay = 0.0
    done = await _burst(settings)  # arq kept the job: it runs again and resumes
    assert done.jobs_complete == 1
    status, stages = await _stages(settings, run_id)
    assert status == "succeeded" and stages["transcribe"].attempts == 1


async def test_cancel_from_another_process(
    make: Callable[..., Settings], llm: ScriptedOpenAI, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = make()
    run_id = await _submit(settings)
    await _enqueue(settings, run_id)
    llm.delay = 30.0
    worker = build_worker(make("worker-data"), preload=False, handle_signals=False)
    running = asyncio.create_task(worker.async_run())
    try:
        await _wait_stage(settings, run_id, "analyze", "running")
        assert await asyncio.to_thread(main, ["runs", "cancel", run_id[:10]]) == 0
        await _wait_stage(settings, run_id, "analyze", "failed", within=30)
    finally:
        await _stop(worker, running)
    status, stages = await _stages(settings, run_id)
    assert status == "cancelled" and stages["analyze"].error_code == "cancelled"
    assert f"cancelled run {run_id}" in capsys.readouterr().out
    assert await asyncio.to_thread(main, ["runs", "cancel", run_id]) == 1  # already finished


async def test_two_workers_racing_for_one_run(make: Callable[..., Settings]) -> None:
    settings = make()
    run_id = await _submit(settings)
    await _enqueue(settings, run_id)
    first, second = await asyncio.gather(_burst(make("one")), _burst(make("two")))
    assert first.jobs_complete + second.jobs_complete == 1
    status, stages = await _stages(settings, run_id)
    assert status == "succeeded" and all(record.attempts == 1 for record in stages.values())


def test_redis_down_is_a_clear_error_and_embedded_mode_is_unaffected(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str], llm: ScriptedOpenAI
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("AUTOINTEL_DATA_DIR", str(tmp_path / "data"))
    point_settings_at(llm.base_url, monkeypatch.setenv)
    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:1/0")
    assert main(["analyze", str(JFK), "--depth", "quick"]) == 1
    assert "cannot reach Redis at REDIS_URL" in capsys.readouterr().err
    assert main(["worker", "--burst"]) == 1
    assert "cannot reach Redis" in capsys.readouterr().err
    monkeypatch.delenv("REDIS_URL")
    assert main(["worker", "--burst"]) == 1
    assert "REDIS_URL is not set" in capsys.readouterr().err
    assert main(["analyze", str(JFK), "--depth", "quick"]) == 0
