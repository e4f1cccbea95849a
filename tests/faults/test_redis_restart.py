"""Redis restarted while a worker runs a job: the bot and the worker reconnect, the run completes
and is delivered once, and a command after the restart is queued and delivered too."""

from __future__ import annotations

import asyncio

import pytest

from e2e.harness import run_id_of
from fakes.media_server import MediaServer
from fakes.openai_server import ScriptedOpenAI
from faults.fleet import MakeFleet, failed_items, stage_running
from faults.services import PrivateRedis, until

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("store_url", ["postgresql"], indirect=True)
async def test_redis_restarted_mid_run(
    private_redis: PrivateRedis,  # first: it stops after the bot and the worker
    make_fleet: MakeFleet,
    store_url: str,
    media: MediaServer,
    scripted_llm: ScriptedOpenAI,
) -> None:
    fleet = make_fleet(private_redis.url(), store_url)
    world = fleet.world
    scripted_llm.delay = 1.0  # the analysis outlasts the restart
    await world.start()
    worker = fleet.worker()
    first = await world.command("autointel", url=media.url("claims.ogg?run=1"), depth="quick")
    run_id = await run_id_of(world, first)
    await until(lambda: stage_running(store_url, run_id, "analyze"), 120, "the analysis to start")
    await asyncio.to_thread(private_redis.restart, down_for=2.0)
    scripted_llm.delay = 0.0
    await world.briefing(run_id)
    second = await world.command("autointel", url=media.url("claims.ogg?run=2"), depth="quick")
    later = await run_id_of(world, second)
    await world.briefing(later)
    await asyncio.sleep(1.0)
    assert len(world.briefings(run_id)) == 1 and len(world.briefings(later)) == 1
    assert worker.alive and worker.starts == 1, fleet.logs()  # it reconnected instead of dying
    assert await failed_items(store_url, run_id) == []  # no model call failed for want of Redis
