"""Fixtures for the end-to-end tests: the Discord emulator first, the bot fixtures below it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from discord.gateway import DiscordWebSocket
from discord.http import Route

from bot.endpoints import use_discord_endpoints
from e2e.discord_emulator import DiscordEmulator
from e2e.harness import BotWorld
from e2e.minimal_bot import MakeBot, MinimalBot, start_minimal_bot
from fakes.media_server import MediaServer, serve_media
from fakes.openai_server import ScriptedOpenAI, point_settings_at
from fakes.scripted_flow import REPLIES

# --- Discord emulator ----------------------------------------------------------------------------
# A started emulator on 127.0.0.1 (random port), stopped after the test. The test fails if the
# emulator itself raised (its handlers answer 500 then, and keep the exception).


@pytest.fixture
async def discord_emulator() -> AsyncIterator[DiscordEmulator]:
    """A started DiscordEmulator with default settings (3 s ack deadline, 15 min tokens)."""
    emulator = DiscordEmulator()
    await emulator.start()
    try:
        yield emulator
    finally:
        await emulator.stop()
    assert not emulator.internal_errors, (
        f"the Discord emulator failed internally: {emulator.internal_errors!r}"
    )


@pytest.fixture
def discord_endpoints() -> Iterator[None]:
    """Put discord.py's REST base and gateway (class attributes) back after the test."""
    saved = (Route.BASE, DiscordWebSocket.DEFAULT_GATEWAY)
    yield
    Route.BASE, DiscordWebSocket.DEFAULT_GATEWAY = saved


# --- The emulator's own tests: a minimal discord.py bot (no project code) ------------------------


@pytest.fixture
async def make_mini_bot(discord_endpoints: None) -> AsyncIterator[MakeBot]:
    """Start an emulator with the given settings and the minimal bot on it; close both afterwards."""
    bots: list[MinimalBot] = []
    emulators: list[DiscordEmulator] = []

    async def make(**settings: Any) -> MinimalBot:
        emulator = await DiscordEmulator(**settings).start()
        emulators.append(emulator)
        use_discord_endpoints(emulator.api_base_url, emulator.gateway_url)
        bots.append(await start_minimal_bot(emulator))
        return bots[-1]

    yield make
    for started in bots:
        await started.close()
    for emulator in emulators:
        await emulator.stop()
        assert not emulator.internal_errors, (
            f"the Discord emulator failed internally: {emulator.internal_errors!r}"
        )


@pytest.fixture
async def mini_bot(make_mini_bot: MakeBot) -> MinimalBot:
    """The minimal bot on an emulator with Discord's default timings."""
    return await make_mini_bot()


# --- Bot fixtures --------------------------------------------------------------------------------
# `world`: the emulator with a guild, channel and members, the scripted model server, a local
# media server, a data dir in tmp, and the bot (started by the test with `await world.start()`).


@pytest.fixture
def scripted_llm() -> Iterator[ScriptedOpenAI]:
    """The scripted OpenAI-compatible server, in a thread."""
    server = ScriptedOpenAI(replies=dict(REPLIES))
    server.start_in_thread()
    yield server
    server.stop_thread()


@pytest.fixture
def media() -> Iterator[MediaServer]:
    """The local media server."""
    with serve_media() as server:
        yield server


@pytest.fixture
async def world(
    discord_endpoints: None,
    discord_emulator: DiscordEmulator,
    scripted_llm: ScriptedOpenAI,
    media: MediaServer,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> AsyncIterator[BotWorld]:
    """An emulated server, configured environment, and the bot stopped at the end."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("AUTOINTEL_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("ALLOW_PRIVATE_URLS", "true")  # the media server is on 127.0.0.1
    monkeypatch.setenv("DISCORD_PROGRESS_EDIT_INTERVAL_SECONDS", "0.2")
    monkeypatch.setenv("METRICS_PORT", "0")
    point_settings_at(scripted_llm.base_url, monkeypatch.setenv)
    world = BotWorld(discord_emulator, monkeypatch.setenv)
    world.build()
    try:
        yield world
    finally:
        await world.stop()
