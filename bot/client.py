"""The Discord client: built once with the run store and resources, syncs commands, recovers on start.

`run_bot(settings)` is what `autointel bot` runs: it points discord.py at DISCORD_API_BASE_URL
and DISCORD_GATEWAY_URL, opens the services and the run queue (in-process, or arq on Redis
when REDIS_URL is set, with `autointel worker` processes doing the work), and runs the client
until it is stopped.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket

import discord
from discord import app_commands

from bot.commands import Commands
from bot.delivery import NO_MENTIONS, Deliverer
from bot.endpoints import use_discord_endpoints
from bot.service import RunService
from bot.watch_commands import WatchCommands
from bot.watches import WatchDesk
from observability.server import metrics_server
from pipelines.deliveries import DeliveryStore
from pipelines.queue import open_queue
from pipelines.service import open_services
from pipelines.stage import Resources
from pipelines.store import RunStore
from settings import Settings, SettingsError

log = logging.getLogger(__name__)

SWEEP_SECONDS = 30.0  # with workers: deliver results a worker could not (e.g. it has no token)


class AutoIntelBot(discord.Client):
    """discord.py client with the AutoIntel commands, delivery chain and run service."""

    def __init__(
        self, settings: Settings, store: RunStore, resources: Resources, *, guild_ready_timeout: float = 2.0
    ) -> None:
        intents = discord.Intents.none()
        intents.guilds = True
        super().__init__(
            intents=intents, allowed_mentions=NO_MENTIONS, guild_ready_timeout=guild_ready_timeout
        )
        self.settings = settings
        self.tree: app_commands.CommandTree[discord.Client] = app_commands.CommandTree(self)
        self.deliverer = Deliverer(
            self, DeliveryStore(store.engine), settings.discord, claim_seconds=settings.worker.lease_seconds
        )
        # One bot per data dir in embedded mode: a restarted bot takes back its own leases at once.
        owner = f"bot:{socket.gethostname()[:48]}"
        self.service = RunService(settings, store, resources, self.deliverer, lease_owner=owner)
        Commands(self.service).register(self.tree)
        self.watch_desk = WatchDesk(self.service)
        WatchCommands(self.watch_desk).register(self.tree)
        self._background: list[asyncio.Task[object]] = []

    async def setup_hook(self) -> None:
        """Sync the commands (to DISCORD_GUILD_IDS, or globally), then deliver what is owed."""
        guild_ids = self.settings.discord.guild_ids
        if guild_ids:
            for guild_id in guild_ids:
                guild = discord.Object(id=guild_id)
                self.tree.copy_global_to(guild=guild)
                synced = await self.tree.sync(guild=guild)
                log.info("synced %d commands to guild %s", len(synced), guild_id)
        else:
            synced = await self.tree.sync()
            log.info("synced %d global commands", len(synced))
        self._background.append(asyncio.create_task(self.service.recover(), name="recover"))
        if self.service.queue is not None and self.service.queue.distributed:
            self._background.append(asyncio.create_task(self._sweep(), name="delivery-sweep"))
        else:  # embedded mode: this process polls the watches (workers do it with Redis)
            self._background.append(asyncio.create_task(self.watch_desk.run_loop(), name="watch-loop"))

    async def _sweep(self) -> None:
        while True:
            await asyncio.sleep(SWEEP_SECONDS)
            try:
                await self.service.deliver_owed()
                await self.watch_desk.send_digests()  # workers without a bot token cannot
            except Exception:
                log.exception("delivery sweep failed")

    async def close(self) -> None:
        """Stop background work and the local queue (runs resume on the next start), then disconnect."""
        for task in self._background:
            task.cancel()
        for task in self._background:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if self.service.queue is not None:
            await self.service.queue.close()
        await super().close()


def bot_token(settings: Settings) -> str:
    """The bot token, or a `SettingsError` saying how to set it."""
    if settings.discord.bot_token is None or not settings.discord.bot_token.get_secret_value().strip():
        raise SettingsError("DISCORD_BOT_TOKEN is not set: create a bot in the Discord developer portal")
    return settings.discord.bot_token.get_secret_value().strip()


async def run_bot(settings: Settings, *, guild_ready_timeout: float = 2.0) -> None:
    """Run the bot until it is closed or cancelled."""
    token = bot_token(settings)
    use_discord_endpoints(settings.discord.api_base_url, settings.discord.gateway_url)
    async with (
        metrics_server(settings.observability.metrics_port),
        open_services(settings) as (store, resources),
    ):
        bot = AutoIntelBot(settings, store, resources, guild_ready_timeout=guild_ready_timeout)
        async with open_queue(settings, bot.service.run_job) as queue:
            bot.service.queue = queue
            async with bot:
                await bot.start(token)
