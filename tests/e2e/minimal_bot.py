"""A minimal discord.py bot (no project code) used to check the Discord emulator against the real client.

It defines `/autointel url depth [attachment]` and the group `/runs status|cancel run`. What a
command does is set per test in `MinimalBot.handlers`; each handler's return value, or the
exception it raised, lands in `MinimalBot.results`.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import discord
from discord import app_commands

from e2e.discord_emulator import DiscordEmulator

Handler = Callable[..., Awaitable[Any]]
MakeBot = Callable[..., Awaitable["MinimalBot"]]


async def _unset(interaction: discord.Interaction, **_: Any) -> None:
    raise AssertionError(
        f"no handler set for /{interaction.command.qualified_name if interaction.command else '?'}"
    )


@dataclass
class MinimalBot:
    """A started client plus the guild, channel and member the emulator created for it."""

    emu: DiscordEmulator
    client: discord.Client
    tree: app_commands.CommandTree[discord.Client]
    guild_id: int
    channel_id: int
    user_id: int
    task: asyncio.Task[None] | None = None
    handlers: dict[str, Handler] = field(default_factory=dict)
    results: asyncio.Queue[Any] = field(default_factory=asyncio.Queue)

    async def result(self) -> Any:
        """The next handler outcome (a value, or the exception it raised), within 5 s."""
        return await asyncio.wait_for(self.results.get(), 5.0)

    async def close(self) -> None:
        """Close the client cleanly and wait for its task."""
        await self.client.close()
        if self.task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.wait_for(self.task, 5)


def _define_commands(bot: MinimalBot) -> None:
    tree = bot.tree

    async def dispatch(name: str, interaction: discord.Interaction, **kwargs: Any) -> None:
        try:
            outcome = await bot.handlers.get(name, _unset)(interaction, **kwargs)
        except Exception as exc:
            outcome = exc
        bot.results.put_nowait(outcome)

    @tree.command(name="autointel", description="Analyse a video")
    @app_commands.describe(url="Link to the video", depth="How deep", attachment="A file instead of a link")
    @app_commands.choices(
        depth=[
            app_commands.Choice(name="Quick", value="quick"),
            app_commands.Choice(name="Deep", value="deep"),
        ]
    )
    async def autointel(
        interaction: discord.Interaction,
        url: str,
        depth: app_commands.Choice[str] | None = None,
        attachment: discord.Attachment | None = None,
    ) -> None:
        await dispatch("autointel", interaction, url=url, depth=depth, attachment=attachment)

    runs = app_commands.Group(name="runs", description="Manage runs")

    @runs.command(name="status", description="Show a run")
    async def status(interaction: discord.Interaction, run: str) -> None:
        await dispatch("runs status", interaction, run=run)

    @runs.command(name="cancel", description="Cancel a run")
    async def cancel(interaction: discord.Interaction, run: str, force: bool = False) -> None:
        await dispatch("runs cancel", interaction, run=run, force=force)

    tree.add_command(runs)


async def start_minimal_bot(emu: DiscordEmulator, *, sync_globally: bool = False) -> MinimalBot:
    """Create a guild with a member, start the client against the emulator and wait until it is ready."""
    guild_id = emu.add_guild("Test guild")
    channel_id = emu.default_channel_id(guild_id)
    user_id = emu.add_member(guild_id, "alice")
    client = discord.Client(intents=discord.Intents.default(), guild_ready_timeout=0.05)
    tree: app_commands.CommandTree[discord.Client] = app_commands.CommandTree(client)

    async def setup_hook() -> None:
        if sync_globally:
            await tree.sync()
        else:
            tree.copy_global_to(guild=discord.Object(guild_id))
            await tree.sync(guild=discord.Object(guild_id))

    client.setup_hook = setup_hook  # type: ignore[method-assign]
    bot = MinimalBot(emu, client, tree, guild_id, channel_id, user_id)
    _define_commands(bot)
    bot.task = asyncio.create_task(client.start(emu.bot_token))
    ready = asyncio.create_task(client.wait_until_ready())
    done, _ = await asyncio.wait({ready, bot.task}, timeout=10, return_when=asyncio.FIRST_COMPLETED)
    if ready not in done:
        ready.cancel()
        await bot.close()
        raise RuntimeError("the client did not become ready against the emulator")
    return bot
