"""The delivery chain end to end: token expiry → channel webhook, no Manage Webhooks → channel
message, results owed across a restart, and 20 concurrent commands — each briefing exactly once."""

from __future__ import annotations

import asyncio

from prometheus_client import REGISTRY

from e2e.harness import BotWorld, all_text, embed_titles, is_briefing, run_id_of
from fakes.media_server import MediaServer
from fakes.openai_server import ScriptedOpenAI
from pipelines.runner import execute
from pipelines.service import open_services
from settings import load_settings


def _fallbacks(reason: str) -> float:
    labels = {"from_route": "interaction", "reason": reason}
    return REGISTRY.get_sample_value("autointel_delivery_fallbacks_total", labels) or 0.0


def _refused_tokens(world: BotWorld) -> int:
    return sum(1 for r in world.emulator.requests if r.status == 401 and r.code == 50027)


async def test_token_expiry_mid_run_moves_to_the_channel_webhook(
    world: BotWorld, media: MediaServer, scripted_llm: ScriptedOpenAI
) -> None:
    world.emulator.token_ttl = 1.0
    scripted_llm.delay = 0.6  # the analysis outlives the token
    refused_before = _fallbacks("token_refused")
    await world.start()
    interaction = await world.command("autointel", url=media.url("jfk.flac"), depth="quick")
    run_id = await run_id_of(world, interaction)
    briefing = await world.briefing(run_id)
    assert briefing.via == "channel_webhook"
    assert _refused_tokens(world) >= 1  # Discord said 401/50027 once; the bot switched at once
    assert _fallbacks("token_refused") == refused_before + 1  # logged and counted once per run
    hooks = world.emulator.webhooks[world.channel_id]
    assert [h.name for h in hooks] == ["AutoIntel"] and briefing.webhook_id == hooks[0].id
    progress = [m for m in world.emulator.messages if m.via == "channel_webhook" and not is_briefing(m)]
    assert len(progress) == 1 and embed_titles(progress[0])[0] == "✓ Analysis done"  # one message, edited
    await asyncio.sleep(0.5)
    assert len(world.briefings(run_id)) == 1


async def test_switch_before_the_token_expires(world: BotWorld, media: MediaServer) -> None:
    await world.start(DISCORD_TOKEN_MARGIN_SECONDS="0.3")
    world.emulator.token_ttl = 900
    interaction = await world.command("autointel", url=media.url("jfk.flac"), depth="quick")
    run_id = await run_id_of(world, interaction)
    briefing = await world.briefing(run_id)
    assert briefing.via == "channel_webhook" and _refused_tokens(world) == 0


async def test_without_manage_webhooks_it_posts_channel_messages(
    world: BotWorld, media: MediaServer, scripted_llm: ScriptedOpenAI
) -> None:
    world.emulator.set_bot_permissions(world.channel_id, manage_webhooks=False)
    world.emulator.token_ttl = 1.0
    scripted_llm.delay = 0.6
    await world.start()
    interaction = await world.command("autointel", url=media.url("jfk.flac"), depth="quick")
    run_id = await run_id_of(world, interaction)
    briefing = await world.briefing(run_id)
    assert briefing.via == "channel" and not world.emulator.webhooks.get(world.channel_id)
    webhook_calls = [r for r in world.emulator.requests if r.path.endswith("/webhooks")]
    assert len(webhook_calls) == 1 and webhook_calls[0].status == 403  # asked once, then remembered
    await asyncio.sleep(0.5)
    assert len(world.briefings(run_id)) == 1


async def test_a_result_finished_while_the_bot_was_down_is_delivered_once_on_start(
    world: BotWorld, media: MediaServer, scripted_llm: ScriptedOpenAI
) -> None:
    scripted_llm.delay = 5.0  # the run cannot finish before the bot stops
    await world.start()
    interaction = await world.command("autointel", url=media.url("jfk.flac"), depth="quick")
    run_id = await run_id_of(world, interaction)
    await world.stop()
    scripted_llm.delay = 0.0
    settings = load_settings()
    async with open_services(settings) as (store, resources):  # another process finishes the run
        assert (await store.get_run(run_id)).status in ("queued", "running", "interrupted")
        result = await execute(store, resources, run_id)
        assert result.run.status == "succeeded"
    assert world.briefings(run_id) == []
    await world.start()
    briefing = await world.briefing(run_id)
    assert "Ask not" in all_text(briefing)
    await world.stop()
    await world.start()  # a second restart owes nothing
    await asyncio.sleep(0.5)
    assert len(world.briefings(run_id)) == 1


async def test_an_interrupted_run_resumes_after_a_restart(
    world: BotWorld, media: MediaServer, scripted_llm: ScriptedOpenAI
) -> None:
    scripted_llm.delay = 5.0
    await world.start()
    interaction = await world.command("autointel", url=media.url("jfk.flac"), depth="quick")
    run_id = await run_id_of(world, interaction)
    await world.stop()
    scripted_llm.delay = 0.0
    await world.start()
    await world.briefing(run_id)
    await asyncio.sleep(0.5)
    assert len(world.briefings(run_id)) == 1


async def test_twenty_concurrent_commands_are_acknowledged_and_delivered_once(
    world: BotWorld, media: MediaServer
) -> None:
    await world.start(
        DISCORD_USER_RUNS_PER_HOUR="100",
        DISCORD_GUILD_RUNS_PER_HOUR="100",
        DISCORD_MAX_ACTIVE_RUNS_PER_GUILD="100",
    )
    emu = world.emulator
    interactions = await asyncio.gather(
        *(
            emu.invoke(
                world.guild_id,
                world.channel_id,
                world.alice,
                "autointel",
                options={"url": media.url("jfk.flac"), "depth": "quick"},
            )
            for _ in range(20)
        )
    )
    await asyncio.gather(*(i.wait_ack(timeout=10) for i in interactions))
    assert not any(i.deadline_missed for i in interactions)
    run_ids = await asyncio.gather(*(run_id_of(world, i) for i in interactions))
    assert len(set(run_ids)) == 20
    await emu.wait_for(lambda: all(world.briefings(r) for r in run_ids), timeout=180)
    await asyncio.sleep(0.5)
    assert all(len(world.briefings(r)) == 1 for r in run_ids)
