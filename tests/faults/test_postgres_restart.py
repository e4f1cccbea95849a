"""PostgreSQL restarted while a stage's result is being written: the write waits and retries with
backoff, the run resumes where it was, no finished stage is computed twice, one briefing. And a
command that arrives while PostgreSQL is down is still acknowledged within Discord's 3 s."""

from __future__ import annotations

import asyncio

import pytest

from e2e.harness import BotWorld, run_id_of
from fakes.media_server import MediaServer
from fakes.openai_server import ScriptedOpenAI
from faults.fleet import MakeFleet, stage_records, stage_running
from faults.services import PrivatePostgres, until

pytestmark = pytest.mark.slow

DOWN_SECONDS = 4.0


async def test_postgres_restarted_during_a_stage_write(
    private_postgres: PrivatePostgres,  # first: it stops after the bot and the workers
    make_fleet: MakeFleet,
    redis_url: str,
    media: MediaServer,
    scripted_llm: ScriptedOpenAI,
) -> None:
    database_url = await private_postgres.create_database("autointel")
    fleet = make_fleet(redis_url, database_url)
    world = fleet.world
    scripted_llm.delay = 2.0
    await world.start()
    fleet.worker()
    interaction = await world.command("autointel", url=media.url("claims.ogg?pg=1"), depth="quick")
    run_id = await run_id_of(world, interaction)
    await until(lambda: stage_running(database_url, run_id, "analyze"), 120, "the analysis to start")
    answered = len(scripted_llm.requests)
    await asyncio.to_thread(private_postgres.stop)  # down while the analysis still runs ...
    await until(lambda: len(scripted_llm.requests) > answered and not scripted_llm.active, 60, "answers")
    await asyncio.sleep(DOWN_SECONDS)  # ... and while its result is written
    scripted_llm.delay = 0.0
    await asyncio.to_thread(private_postgres.start)
    await world.briefing(run_id)
    await asyncio.sleep(1.0)
    assert len(world.briefings(run_id)) == 1
    records = await stage_records(database_url, run_id)
    assert {name: r.attempts for name, r in records.items()} == dict.fromkeys(records, 1), fleet.logs()
    assert all(r.status == "succeeded" for r in records.values())


async def test_a_command_while_postgres_is_down_is_acknowledged_in_time(
    private_postgres: PrivatePostgres, world: BotWorld, media: MediaServer
) -> None:
    database_url = await private_postgres.create_database("autointel")
    await world.start(DATABASE_URL=database_url)
    await asyncio.to_thread(private_postgres.stop)
    interaction = await world.emulator.invoke(
        world.guild_id,
        world.channel_id,
        world.alice,
        "autointel",
        options={"url": media.url("claims.ogg?pg=2"), "depth": "quick"},
    )
    await asyncio.sleep(DOWN_SECONDS)  # longer than Discord's 3 s for the acknowledgement
    await asyncio.to_thread(private_postgres.start)
    await interaction.wait_ack(timeout=10)
    assert not interaction.deadline_missed  # deferred at once; the quota check finished later
    run_id = await run_id_of(world, interaction)
    await world.briefing(run_id)
