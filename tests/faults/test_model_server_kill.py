"""The model server killed (SIGKILL) while it answers and started again: the interrupted calls
fall back to another model when the catalogue has one, and otherwise become degraded items
that the briefing says are missing; the run completes and is delivered once either way."""

from __future__ import annotations

import asyncio
import json

import pytest

from e2e.harness import BotWorld, all_text, run_id_of
from fakes.media_server import MediaServer
from fakes.openai_server import ScriptedOpenAI
from faults.fleet import failed_items
from faults.services import ModelServerProcess
from settings import load_settings

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("fallback", [True, False], ids=["with-fallback", "single-model"])
async def test_the_model_server_killed_mid_call(
    world: BotWorld,
    media: MediaServer,
    scripted_llm: ScriptedOpenAI,
    model_process: ModelServerProcess,
    fallback: bool,
) -> None:
    world.env("LLM_BASE_URL", model_process.base_url)  # embeddings stay on the in-thread server
    if fallback:
        models = [
            {"name": "primary", "base_url": model_process.base_url, "model": "scripted", "quality": 0.9},
            {"name": "spare", "base_url": scripted_llm.base_url, "model": "scripted", "quality": 0.1},
        ]
        world.env("ROUTER_MODELS", json.dumps(models))
    model_process.set(delay=30.0)  # calls hang until the server dies
    await world.start()
    interaction = await world.command("autointel", url=media.url("claims.ogg?model=1"), depth="quick")
    run_id = await run_id_of(world, interaction)
    await asyncio.to_thread(model_process.wait_active)
    model_process.set(delay=0.0)
    await asyncio.to_thread(model_process.restart, down_for=1.0)
    briefing = await world.briefing(run_id)
    failed = await failed_items(load_settings().database_url, run_id)
    if fallback:
        assert failed == [] and scripted_llm.schema_names()  # the spare model answered instead
    else:
        assert failed and all("request failed" in item for item in failed)
        assert "failed" in all_text(briefing)  # the briefing says what is missing
    # The server is back: the next run is complete.
    again = await world.command("autointel", url=media.url("claims.ogg?model=2"), depth="quick")
    later = await run_id_of(world, again)
    await world.briefing(later)
    assert await failed_items(load_settings().database_url, later) == []
    await asyncio.sleep(0.5)
    assert len(world.briefings(run_id)) == 1 and len(world.briefings(later)) == 1
