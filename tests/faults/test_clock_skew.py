"""A worker whose wall clock is an hour off (ahead or behind): the interaction token's age, run
leases and delivery claims are judged on the database's clock and the monotonic clock, so the
skewed worker neither drops a young token nor keeps an old one, neither steals a live run nor
leaves a dead one."""

from __future__ import annotations

import asyncio

import pytest

from e2e.harness import run_id_of
from fakes.media_server import MediaServer
from fakes.openai_server import ScriptedOpenAI
from faults.fleet import MakeFleet, holder, lease_owner, stage_records, stage_running
from faults.services import until

pytestmark = pytest.mark.slow

HOUR = 3600.0


@pytest.mark.parametrize("store_url", ["postgresql"], indirect=True)
@pytest.mark.parametrize("skew", [HOUR, -HOUR], ids=["ahead", "behind"])
async def test_the_token_age_ignores_a_skewed_wall_clock(
    make_fleet: MakeFleet,
    redis_url: str,
    store_url: str,
    media: MediaServer,
    scripted_llm: ScriptedOpenAI,
    skew: float,
) -> None:
    fleet = make_fleet(redis_url, store_url)
    world = fleet.world
    scripted_llm.delay = 1.5  # the run outlives the 1 s margin given below
    await world.start()
    # Ahead: a 2-second-old token must not look an hour old (default margin: 13 minutes).
    # Behind: a token older than the margin must not look younger than zero.
    fleet.worker(clock_skew=skew, **({} if skew > 0 else {"DISCORD_TOKEN_MARGIN_SECONDS": "1"}))
    interaction = await world.command("autointel", url=media.url(f"claims.ogg?skew={skew}"), depth="quick")
    run_id = await run_id_of(world, interaction)
    briefing = await world.briefing(run_id)
    assert briefing.via == ("followup" if skew > 0 else "channel_webhook"), fleet.logs()
    refused = [r for r in world.emulator.requests if r.status == 401]
    assert refused == []  # the switch was made by age, never by Discord refusing a dead token


@pytest.mark.parametrize("store_url", ["postgresql"], indirect=True)
@pytest.mark.parametrize("skew", [HOUR, -HOUR], ids=["ahead", "behind"])
async def test_leases_ignore_a_skewed_wall_clock(
    make_fleet: MakeFleet,
    redis_url: str,
    store_url: str,
    media: MediaServer,
    scripted_llm: ScriptedOpenAI,
    skew: float,
) -> None:
    fleet = make_fleet(redis_url, store_url)
    world = fleet.world
    scripted_llm.hold = True
    await world.start()
    first = fleet.worker()
    interaction = await world.command("autointel", url=media.url(f"claims.ogg?lease={skew}"), depth="quick")
    run_id = await run_id_of(world, interaction)
    await until(lambda: stage_running(store_url, run_id, "analyze"), 120, "the analysis")
    assert holder(fleet, await lease_owner(store_url, run_id)) is first
    skewed = fleet.worker(clock_skew=skew)
    await skewed.wait_for_log("ready on queue")  # its reaper runs from now on
    if skew > 0:  # ahead: the live worker's lease must not look expired to it
        await asyncio.sleep(4.0)  # two lease periods, eight rounds of the skewed worker's reaper
        assert holder(fleet, await lease_owner(store_url, run_id)) is first
    else:  # behind: a dead worker's lease must not look an hour younger to it
        first.kill()
        await until(
            lambda: _held_by(fleet, store_url, run_id, skewed),
            60,
            "the skewed worker to resume\n" + fleet.logs(),
        )
    scripted_llm.hold = False
    await world.briefing(run_id)
    records = await stage_records(store_url, run_id)
    assert records["transcribe"].attempts == 1
    assert records["analyze"].attempts == (1 if skew > 0 else 2), fleet.logs()
    await asyncio.sleep(1.0)
    assert len(world.briefings(run_id)) == 1


async def _held_by(fleet, store_url: str, run_id: str, worker) -> bool:
    return holder(fleet, await lease_owner(store_url, run_id)) is worker
