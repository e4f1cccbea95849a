"""The bot with REDIS_URL: it only acknowledges and enqueues; a worker runs the job and delivers
the briefing over REST (interaction webhook, then channel webhook) exactly once."""

from __future__ import annotations

import asyncio
from pathlib import Path

from bot.worker import build_worker
from e2e.harness import BotWorld, all_text, run_id_of
from fakes.media_server import MediaServer
from fakes.openai_server import ScriptedOpenAI
from pipelines.store import RunStore
from settings import load_settings


async def test_a_worker_runs_the_job_and_delivers_once(
    world: BotWorld, media: MediaServer, scripted_llm: ScriptedOpenAI, redis_url: str, tmp_path: Path
) -> None:
    world.env("REDIS_URL", redis_url)
    world.env("REDIS_QUEUE_NAME", "autointel-e2e")
    world.env("DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'shared.db'}")  # one store for bot and worker
    world.emulator.token_ttl = 1.5  # the token dies while the worker works: the webhook takes over
    scripted_llm.delay = 0.8
    await world.start()
    interaction = await world.command("autointel", url=media.url("jfk.flac"), depth="quick")
    run_id = await run_id_of(world, interaction)
    worker_settings = load_settings(pipeline={"data_dir": tmp_path / "worker"})  # its own Qdrant files
    worker = build_worker(worker_settings, preload=False, handle_signals=False)
    running = asyncio.create_task(worker.async_run())
    try:
        briefing = await world.briefing(run_id)
        assert "Ask not" in all_text(briefing) and briefing.via == "channel_webhook"
        status = interaction.original_message
        assert status is not None and status.edits  # progress was shown
        await asyncio.sleep(1.0)
        assert len(world.briefings(run_id)) == 1 and worker.jobs_complete >= 1  # (+ watch cron ticks)
        async with await RunStore.open(worker_settings.database_url) as store:
            assert all(record.attempts == 1 for record in await store.stages(run_id))  # the run ran once
    finally:
        running.cancel()
        await worker.close()
