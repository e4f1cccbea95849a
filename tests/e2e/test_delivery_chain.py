"""The delivery chain against the emulator with a REST-only client (as a worker would have one):
a channel full of other webhooks, and a delivery resumed after a crash between two parts."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import discord
import pytest

from bot.delivery import Deliverer
from bot.render import MessagePart
from e2e.discord_emulator import DiscordEmulator, Webhook
from pipelines.deliveries import DeliveryStore
from pipelines.flow import PIPELINE_VERSION
from pipelines.models import Depth, Source
from pipelines.store import RunStore
from settings import load_settings


@dataclass
class Chain:
    """A logged-in REST client, the deliverer, and one run's delivery record."""

    emulator: DiscordEmulator
    deliverer: Deliverer
    deliveries: DeliveryStore
    run_id: str
    channel_id: int


@pytest.fixture
async def chain(
    discord_endpoints: None, discord_emulator: DiscordEmulator, tmp_path: Path
) -> AsyncIterator[Chain]:
    from bot.endpoints import use_discord_endpoints

    emu = discord_emulator
    use_discord_endpoints(emu.api_base_url, emu.gateway_url)
    guild_id = emu.add_guild("chain")
    channel_id = emu.default_channel_id(guild_id)
    store = await RunStore.open(f"sqlite+aiosqlite:///{tmp_path / 'runs.db'}")
    source = Source(kind="url", location="https://example.com/a.mp3", key="https://example.com/a.mp3")
    run = await store.create_run(source, Depth.QUICK, PIPELINE_VERSION)
    client = discord.Client(intents=discord.Intents.none())
    await client.login(emu.bot_token)  # REST only, no gateway
    deliveries = DeliveryStore(store.engine)
    settings = load_settings()
    try:
        yield Chain(emu, Deliverer(client, deliveries, settings.discord), deliveries, run.id, channel_id)
    finally:
        await client.close()
        await store.close()


def _parts(n: int) -> list[MessagePart]:
    return [MessagePart(embeds=[discord.Embed(title=f"part {i}")]) for i in range(1, n + 1)]


def _titles(emu: DiscordEmulator) -> list[str]:
    return [m.embeds[0]["title"] for m in emu.messages if m.embeds]


async def test_a_channel_full_of_other_webhooks_falls_back_to_channel_messages(chain: Chain) -> None:
    emu = chain.emulator
    guild_id = next(iter(emu.guilds))
    for n in range(15):  # another integration's webhooks fill the channel
        hook = Webhook(
            id=emu.state.ids.next(),
            guild_id=guild_id,
            channel_id=chain.channel_id,
            name=f"other-{n}",
            token=secrets.token_urlsafe(20),
            application_id=None,
            creator_id=next(iter(emu.guilds[guild_id].members)),
        )
        emu.state.webhooks[hook.id] = hook
    record = await chain.deliveries.add(chain.run_id, "channel:x", channel_id=str(chain.channel_id))
    assert await chain.deliverer.deliver(record, _parts(2))
    assert [m.via for m in emu.messages] == ["channel", "channel"]
    refused = [r for r in emu.requests if r.method == "POST" and r.path.endswith("/webhooks")]
    assert [(r.status, r.code) for r in refused] == [(400, 30007)]
    done = await chain.deliveries.get(chain.run_id, "channel:x")
    assert done is not None and (done.state, done.route, done.parts_sent) == ("delivered", "channel", 2)


async def test_a_crashed_delivery_resumes_after_the_last_posted_part(chain: Chain) -> None:
    record = await chain.deliveries.add(chain.run_id, "channel:y", channel_id=str(chain.channel_id))
    # A previous process claimed the delivery, posted part 1 and died.
    assert await chain.deliveries.claim(record.id, stale_after=timedelta(minutes=10))
    await chain.deliveries.part_sent(record.id, 1, "webhook", "123")
    assert not await chain.deliverer.deliver(record, _parts(3))  # its claim is still fresh
    assert chain.emulator.messages == []
    await chain.deliveries.claim(record.id, stale_after=timedelta(seconds=-1))  # ... until it goes stale
    await chain.deliveries.failed(record.id, "worker died")
    assert await chain.deliverer.deliver(record, _parts(3))
    assert _titles(chain.emulator) == ["part 2", "part 3"]
    assert not await chain.deliverer.deliver(record, _parts(3))  # delivered: never again
    assert _titles(chain.emulator) == ["part 2", "part 3"]
    hooks = chain.emulator.webhooks[chain.channel_id]
    assert [h.name for h in hooks] == ["AutoIntel"]  # created once, reused for both parts
