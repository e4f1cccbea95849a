"""The data dir's disk full (a real ENOSPC on a small tmpfs): while the media downloads (everything
embedded in the data dir), and while the vector store is written (the run store on PostgreSQL).
Each ends in one clear message, leaves nothing half-written behind, and the same request works
once space is back (a degraded result is not served again from the store)."""

from __future__ import annotations

import asyncio

import pytest

from e2e.discord_emulator import RecordedMessage
from e2e.harness import BotWorld, all_text, footer, run_id_of
from fakes.media_server import MediaServer
from fakes.openai_server import ScriptedOpenAI
from faults.fleet import stage_records, stage_running
from faults.services import SmallDisk, until
from memory.embeddings import build_embedder
from memory.vector import VectorMemory
from pipelines.errors import DISK_FULL_MESSAGE
from pipelines.models import MemoryReport
from pipelines.store import RunStore
from settings import load_settings

pytestmark = pytest.mark.slow


def _posted(world: BotWorld, run_id: str) -> list[RecordedMessage]:
    """Messages about the run other than its progress message."""
    return [
        m
        for m in world.emulator.messages
        if run_id in footer(m) and m.via != "interaction_response" and not m.deleted
    ]


async def test_disk_full_while_downloading(world: BotWorld, media: MediaServer, disk: SmallDisk) -> None:
    world.env("AUTOINTEL_DATA_DIR", str(disk.path))  # the SQLite run store and Qdrant live there too
    await world.start()
    disk.fill(leave=256 * 1024)  # the 1.1 MB clip does not fit
    url = media.url("jfk.flac?disk=1")
    interaction = await world.command("autointel", url=url, depth="quick")
    run_id = await run_id_of(world, interaction)
    failure = await world.emulator.wait_for(lambda: _posted(world, run_id), timeout=90)
    await asyncio.sleep(0.5)
    assert len(_posted(world, run_id)) == 1 and "disk is full" in all_text(failure[0])
    assert interaction.original_message is not None
    assert "disk is full" in all_text(interaction.original_message)  # the progress says the same
    assert not [p for p in (disk.path / "runs").rglob("*") if p.is_file()]  # no partial media left
    async with await RunStore.open(load_settings().database_url) as store:  # the store is intact
        run = await store.get_run(run_id)
        assert (run.status, run.error_code, run.error_message) == ("failed", "disk_full", DISK_FULL_MESSAGE)

    disk.empty()
    again = await world.command("autointel", url=url, depth="quick")
    later = await run_id_of(world, again)
    assert later != run_id
    briefing = await world.briefing(later)
    assert "Ask not" in all_text(briefing)


@pytest.mark.parametrize("store_url", ["postgresql"], indirect=True)
async def test_disk_full_while_writing_the_vector_store(
    world: BotWorld, media: MediaServer, scripted_llm: ScriptedOpenAI, disk: SmallDisk, store_url: str
) -> None:
    world.env("AUTOINTEL_DATA_DIR", str(disk.path))  # Qdrant local mode and the media
    world.env("DATABASE_URL", store_url)
    await world.start()
    scripted_llm.hold = True
    url = media.url("claims.ogg?disk=2")
    interaction = await world.command("autointel", url=url, depth="quick")
    run_id = await run_id_of(world, interaction)
    await until(lambda: stage_running(store_url, run_id, "analyze"), 120, "the analysis")
    disk.fill(leave=0)  # full by the time the memory is written
    scripted_llm.hold = False
    first = await world.briefing(run_id)
    assert "data disk is full" in all_text(first)  # the caveat says why the memory is missing
    stored = (await stage_records(store_url, run_id))["remember"].output_json
    report = MemoryReport.model_validate_json(stored or "")
    assert [f.reason for f in report.failures] == [DISK_FULL_MESSAGE]

    disk.empty()
    again = await world.command("autointel", url=url, depth="quick")  # the same request, space back
    later = await run_id_of(world, again)
    assert later != run_id  # the degraded briefing is not served from the store: the run is redone
    second = await world.briefing(later)
    records = await stage_records(store_url, later)
    assert records["transcribe"].reused_from == run_id  # what was complete is reused ...
    done = MemoryReport.model_validate_json(records["remember"].output_json or "")
    assert done.failures == [] and done.vectors > 0  # ... and the memory is written this time
    assert "disk is full" not in all_text(second)
    await world.stop()
    settings = load_settings()
    embedder = build_embedder(settings)
    try:  # the vector store on the once-full disk opens and holds the memory
        async with await VectorMemory.open(settings, embedder) as memory:
            assert await memory.count(report.namespace) >= done.vectors
    finally:
        await embedder.close()
