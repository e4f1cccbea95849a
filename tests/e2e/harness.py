"""The bot under test: `run_bot(settings)` — what `autointel bot` runs — against the emulator.

`BotWorld` builds one emulated server (a guild, a channel, members with and without roles),
points the environment at the emulator, the scripted model server and a local media server,
and starts/stops the bot as a task in the test's event loop. Nothing in the bot is special
for tests: only DISCORD_API_BASE_URL, DISCORD_GATEWAY_URL and the token differ.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from bot.client import run_bot
from e2e.discord_emulator import DiscordEmulator, EmulatedInteraction, RecordedMessage
from settings import load_settings

READY_TIMEOUT = 30.0
RUN_TIMEOUT = 90.0


def footer(message: RecordedMessage) -> str:
    """The footer text of a message's first embed ("" when none)."""
    return str((message.embeds[0].get("footer") or {}).get("text", "")) if message.embeds else ""


def embed_titles(message: RecordedMessage) -> list[str]:
    """The titles of a message's embeds."""
    return [str(embed.get("title", "")) for embed in message.embeds]


def is_briefing(message: RecordedMessage, run_id: str | None = None) -> bool:
    """A briefing message (its first part: the title embed with the 📺 mark)."""
    titles = embed_titles(message)
    return bool(titles) and titles[0].startswith("📺") and (run_id is None or run_id in footer(message))


def all_text(message: RecordedMessage) -> str:
    """Content, embed titles, descriptions and field names/values of a message, joined."""
    parts = [message.content]
    for embed in message.embeds:
        parts += [str(embed.get("title", "")), str(embed.get("description", ""))]
        parts += [f"{f.get('name', '')}\n{f.get('value', '')}" for f in embed.get("fields", [])]
    return "\n".join(parts)


@dataclass
class BotWorld:
    """An emulated Discord server and the bot process under test."""

    emulator: DiscordEmulator
    env: Callable[[str, str], None]
    guild_id: int = 0
    channel_id: int = 0
    alice: int = 0  # member with the analyst role
    bob: int = 0  # member without it
    admin: int = 0
    analyst_role: int = 0
    task: asyncio.Task[None] | None = None
    starts: int = 0
    extra_env: dict[str, str] = field(default_factory=dict)

    def build(self) -> None:
        """Create the guild, channel, role and members."""
        emu = self.emulator
        self.guild_id = emu.add_guild("AutoIntel test")
        self.channel_id = emu.default_channel_id(self.guild_id)
        self.analyst_role = emu.add_role(self.guild_id, "analysts")
        self.alice = emu.add_member(self.guild_id, "alice", roles=[self.analyst_role])
        self.bob = emu.add_member(self.guild_id, "bob")
        self.admin = emu.add_member(self.guild_id, "root", admin=True)
        self.env("DISCORD_BOT_TOKEN", emu.bot_token)
        self.env("DISCORD_API_BASE_URL", emu.api_base_url)
        self.env("DISCORD_GATEWAY_URL", emu.gateway_url)
        self.env("DISCORD_GUILD_IDS", str(self.guild_id))

    async def start(self, **env: str) -> None:
        """Start `run_bot` with the current environment (plus `env`) and wait until it is connected."""
        for name, value in env.items():
            self.env(name, value)
        identified = self.emulator.gateway_identify_count
        self.task = asyncio.create_task(run_bot(load_settings(), guild_ready_timeout=0.05))
        self.starts += 1

        def ready() -> bool:
            if self.task is not None and self.task.done():
                self.task.result()  # raise the bot's start-up error in the test
            return self.emulator.gateway_identify_count > identified and bool(
                self.emulator.registered_commands(self.guild_id)
            )

        await self.emulator.wait_for(ready, timeout=READY_TIMEOUT)

    async def stop(self) -> None:
        """Stop the bot as a shutdown would (cancel `run_bot`: the client closes, runs are left to resume)."""
        if self.task is None:
            return
        self.task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self.task
        self.task = None

    async def command(self, name: str, user: int | None = None, **options: Any) -> EmulatedInteraction:
        """Invoke a slash command in the channel (as alice unless told) and wait for the acknowledgement."""
        subcommand = options.pop("subcommand", None)
        attachments = options.pop("attachments", None)
        interaction = await self.emulator.invoke(
            self.guild_id,
            self.channel_id,
            user or self.alice,
            name,
            options=options,
            attachments=attachments,
            subcommand=subcommand,
        )
        return await interaction.wait_ack(timeout=10)

    async def briefing(self, run_id: str | None = None) -> RecordedMessage:
        """The first briefing message posted (for `run_id` when given)."""
        return await self.emulator.wait_for_message(lambda m: is_briefing(m, run_id), timeout=RUN_TIMEOUT)

    def briefings(self, run_id: str | None = None) -> list[RecordedMessage]:
        """Every briefing message posted so far."""
        return [m for m in self.emulator.messages if is_briefing(m, run_id) and not m.deleted]


async def run_id_of(world: BotWorld, interaction: EmulatedInteraction) -> str:
    """The run id the bot put in its first answer to an /autointel interaction."""

    def found() -> str | None:
        message = interaction.original_message
        text = footer(message) if message is not None else ""
        return text.split("run ", 1)[1].split()[0] if "run " in text else None

    return await world.emulator.wait_for(found, timeout=10)
