"""A worker SIGKILLed between posting part 1 and part 2 of a multi-part briefing: another worker
takes the delivery over and posts the remaining parts once; no part is posted twice."""

from __future__ import annotations

import asyncio
import re
from collections import Counter

import pytest

from bot.render import render_briefing
from e2e.harness import is_briefing, run_id_of
from fakes.media_server import MediaServer
from faults.fleet import MakeFleet, holder, lease_owner, stage_records
from faults.services import until
from pipelines.models import Briefing

pytestmark = pytest.mark.slow

FOLLOWUP = r"^/webhooks/\d+/[^/]+$"  # POST: a followup on the interaction token (or a channel webhook)
ATTACHMENT_LIMIT = 120  # the report goes out as many small files: a briefing of several messages


@pytest.mark.parametrize("store_url", ["postgresql"], indirect=True)
async def test_a_worker_killed_between_two_parts(
    make_fleet: MakeFleet, redis_url: str, store_url: str, media: MediaServer
) -> None:
    fleet = make_fleet(redis_url, store_url)
    world, emu = fleet.world, fleet.world.emulator
    await world.start()
    fleet.worker()
    fleet.worker()
    # Part 1 goes out; part 2 is answered 429 "retry in a minute", and its worker dies waiting.
    emu.inject_rate_limit(FOLLOWUP, method="POST", retry_after=60, after=1)
    interaction = await emu.invoke(
        world.guild_id,
        world.channel_id,
        world.alice,
        "autointel",
        options={"url": media.url("claims.ogg?kill=1"), "depth": "quick"},
        attachment_size_limit=ATTACHMENT_LIMIT,
    )
    await interaction.wait_ack(timeout=10)
    run_id = await run_id_of(world, interaction)
    await emu.wait_for(lambda: _rate_limited(emu.requests), timeout=120)
    victim = holder(fleet, await lease_owner(store_url, run_id))
    assert victim is not None, fleet.logs()
    victim.kill()
    assert len(_posted(world, run_id)) == 1  # only part 1 made it

    brief = (await stage_records(store_url, run_id))["brief"]
    briefing = Briefing.model_validate_json(brief.output_json or "")
    expected = render_briefing(briefing, run_id, attachment_limit=ATTACHMENT_LIMIT)
    assert len(expected) >= 3
    await until(lambda: len(_posted(world, run_id)) >= len(expected), 120, "the rest\n" + fleet.logs())
    await asyncio.sleep(1.5)
    posted = _posted(world, run_id)
    assert len(posted) == len(expected) and len(world.briefings(run_id)) == 1
    names = Counter(a.filename for m in posted for a in m.attachments)
    assert set(names) == {name for part in expected for name, _ in part.files}
    assert max(names.values()) == 1  # no file posted twice


def _rate_limited(requests: list) -> bool:
    return any(r.method == "POST" and r.status == 429 and re.match(FOLLOWUP, r.path) for r in requests)


def _posted(world, run_id: str) -> list:
    """The messages of the run's briefing: its first part and the parts carrying its report."""
    prefix = f"autointel-{run_id[:8]}"
    return [
        m
        for m in world.emulator.messages
        if not m.deleted
        and (is_briefing(m, run_id) or any(a.filename.startswith(prefix) for a in m.attachments))
    ]
