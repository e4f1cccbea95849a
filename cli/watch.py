"""`autointel watch add|list|remove|poll`: watchlists from the command line.

`poll` runs one round now: every due watch is listed and its new entries are submitted like the
bot does. With REDIS_URL the runs go to the workers; without, they run here (like `analyze`)
and their briefings are delivered through Discord's REST API when DISCORD_BOT_TOKEN is set,
else by the bot when it next starts.
"""

from __future__ import annotations

import sys
from urllib.parse import urlsplit

from rich.console import Console
from rich.table import Table

from pipelines.errors import PipelineError, WatchNotFoundError, describe
from pipelines.models import Depth
from pipelines.netguard import check_host
from pipelines.store import RunStore
from pipelines.watch import add_watch, watch_source
from pipelines.watch_store import WatchStore
from settings import Settings


def _fail(exc: BaseException) -> int:
    print(f"autointel: {describe(exc)}", file=sys.stderr)
    return 1


async def add(
    settings: Settings, url: str, guild: str, channel: str, depth: Depth, backfill: int, digest: str
) -> int:
    """Record a watch (the same checks as /watch add); return the exit code."""
    try:
        source = watch_source(url)
        parts = urlsplit(source.location)
        port = parts.port or (443 if parts.scheme == "https" else 80)
        await check_host(parts.hostname or "", port, settings.pipeline.allow_private_urls)
        async with await RunStore.open(settings.database_url) as store:
            watch = await add_watch(
                WatchStore(store.engine),
                settings,
                url=url,
                guild_id=guild,
                channel_id=channel,
                depth=depth,
                digest=digest,
                backfill=backfill,
                created_by="cli",
            )
    except PipelineError as exc:
        return _fail(exc)
    print(f"watch {watch.id}: {watch.url} → channel {channel} of guild {guild}, depth {watch.depth}")
    return 0


async def list_watches(settings: Settings, guild: str | None) -> int:
    """Print the watches (of one guild) with their polling state; return the exit code."""
    try:
        async with await RunStore.open(settings.database_url) as store:
            watches = await WatchStore(store.engine).watches(guild)
    except PipelineError as exc:
        return _fail(exc)
    console = Console(highlight=False, width=None if sys.stdout.isatty() else 240)
    if not watches:
        console.print("no watches")
        return 0
    table = Table("id", "guild", "channel", "depth", "digest", "next poll (UTC)", "state", "url")
    for watch in watches:
        state = f"{watch.error_count} failed: {watch.last_error}" if watch.error_count else "ok"
        if not watch.error_count and watch.last_error:
            state = f"ok ({watch.last_error})"
        table.add_row(
            str(watch.id),
            watch.guild_id,
            watch.channel_id,
            watch.depth,
            watch.digest,
            watch.next_poll_at.strftime("%Y-%m-%d %H:%M:%S"),
            state,
            watch.url,
        )
    console.print(table)
    return 0


async def remove(settings: Settings, watch_id: int) -> int:
    """Delete a watch and its seen entries; return the exit code."""
    try:
        async with await RunStore.open(settings.database_url) as store:
            if not await WatchStore(store.engine).remove(watch_id):
                raise WatchNotFoundError(f"no watch {watch_id}")
    except PipelineError as exc:
        return _fail(exc)
    print(f"removed watch {watch_id}")
    return 0


async def poll(settings: Settings) -> int:
    """One round of polling now; runs execute here without REDIS_URL. Returns the exit code."""
    from contextlib import AsyncExitStack

    from bot.delivery import Deliverer
    from bot.service import RunService
    from bot.watches import WatchDesk
    from bot.worker import discord_client
    from pipelines.deliveries import DeliveryStore
    from pipelines.leases import process_identity
    from pipelines.queue import LocalQueue, open_queue
    from pipelines.service import open_services

    try:
        async with AsyncExitStack() as stack:
            local = settings.redis.url is None
            store, resources = await stack.enter_async_context(open_services(settings, memory=local))
            client = await discord_client(settings)
            if client is not None:
                stack.push_async_callback(client.close)
            deliverer = Deliverer(client, DeliveryStore(store.engine), settings.discord) if client else None
            service = RunService(settings, store, resources, deliverer, lease_owner=process_identity())
            service.queue = await stack.enter_async_context(open_queue(settings, service.run_job))
            desk = WatchDesk(service)
            summary = await desk.tick(await stack.enter_async_context(desk.poller()))
            if isinstance(service.queue, LocalQueue):
                await service.queue.join()
            failing = await desk.watches.in_error()
    except PipelineError as exc:
        return _fail(exc)
    print(
        f"polled {summary.polled} watches: {summary.unchanged} unchanged, {summary.failed} failed, "
        f"{len(summary.runs)} runs started"
    )
    for run_id in summary.runs:
        print(f"  run {run_id}")
    for watch in failing:
        print(f"  watch {watch.id} failing ({watch.error_count}×): {watch.last_error}", file=sys.stderr)
    return 0
