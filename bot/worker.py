"""`autointel worker`: an arq worker on Redis that executes runs and delivers their results.

Each job is one run (job id = run id). The worker preloads the Whisper model and the LLM
client at start-up, runs `RunService.run_job` under the run's lease (so two workers never
execute the same run), and delivers to Discord through a REST-only client — the interaction
webhook, then the channel webhook, then a channel message — when DISCORD_BOT_TOKEN is set
(otherwise the bot delivers). A reaper task re-queues runs whose worker died (their lease
expired) at once instead of after arq's job timeout, finished runs too when that worker died
before it delivered (the job then only delivers). Redis commands ride out a Redis restart.
On SIGTERM, running jobs get WORKER_SHUTDOWN_GRACE_SECONDS to finish; the rest are cancelled
at a stage boundary and arq runs them again (resuming at the first unfinished stage). An arq
cron job polls the due watches and sends the daily digests (bot.watches; arq runs each tick
in one worker only).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from contextlib import AsyncExitStack
from typing import Any

import discord

from bot.delivery import Deliverer
from bot.endpoints import use_discord_endpoints
from bot.service import RunService
from bot.watches import WatchDesk, tick_interval
from observability.server import metrics_server, readiness_of
from pipelines.deliveries import DeliveryStore
from pipelines.errors import QueueUnavailableError
from pipelines.leases import process_identity
from pipelines.queue import JOB_NAME, WATCH_JOB_NAME, ArqQueue, ride_out_restarts
from pipelines.service import open_services
from settings import Settings

log = logging.getLogger(__name__)

MAX_TRIES = 20  # arq re-runs an interrupted job; each try resumes where the last one stopped
WATCH_TICK_TIMEOUT = 15 * 60  # one round of listing every due watch


async def discord_client(settings: Settings) -> discord.Client | None:
    """A logged-in REST-only client (no gateway), or None without a token."""
    token = settings.discord.bot_token
    if token is None or not token.get_secret_value().strip():
        log.warning("DISCORD_BOT_TOKEN is not set: results are left for the bot to deliver")
        return None
    use_discord_endpoints(settings.discord.api_base_url, settings.discord.gateway_url)
    client = discord.Client(intents=discord.Intents.none())
    await client.login(token.get_secret_value().strip())
    return client


def _import_crewai() -> None:
    import crews.builder  # noqa: F401  (CrewAI takes seconds to import: not on a job's clock)


async def _preload(service: RunService) -> None:
    """Load the Whisper model, import CrewAI and build every catalogue model's client before the first job."""
    from pipelines.transcribe import load_whisper
    from routing.catalog import catalogue
    from routing.dispatch import llm_of

    await asyncio.gather(
        asyncio.to_thread(load_whisper, service.resources), asyncio.to_thread(_import_crewai)
    )
    for spec in catalogue(service.settings):
        llm_of(service.resources, spec)


async def _reap(service: RunService, queue: ArqQueue, every: float) -> None:
    """Re-queue runs whose lease expired (their worker died or hung)."""
    while True:
        await asyncio.sleep(every)
        try:
            await queue.waiting()  # refreshes the queue depth gauge
            for run_id in await service.leases.expired(exclude_owner=service.lease_owner):
                log.warning("run %s: its worker stopped renewing the lease; re-queueing it", run_id)
                await queue.requeue_stale(run_id)
        except Exception:
            log.exception("the reaper failed; trying again later")


async def startup(ctx: dict[str, Any]) -> None:
    """arq on_startup: open the services, preload models, log in to Discord, start the reaper."""
    settings: Settings = ctx["settings"]
    await ride_out_restarts(ctx["redis"])  # a Redis restart pauses the worker instead of ending it
    stack = AsyncExitStack()
    ctx["stack"] = stack
    await stack.enter_async_context(
        metrics_server(settings.observability.metrics_port, readiness=readiness_of(settings))
    )
    store, resources = await stack.enter_async_context(open_services(settings))
    client = await discord_client(settings)
    if client is not None:
        stack.push_async_callback(client.close)
    deliverer = (
        Deliverer(
            client, DeliveryStore(store.engine), settings.discord, claim_seconds=settings.worker.lease_seconds
        )
        if client
        else None
    )
    service = RunService(settings, store, resources, deliverer, lease_owner=process_identity())
    queue = ArqQueue(ctx["redis"], settings.redis.queue_name)
    service.queue = queue
    ctx["service"] = service
    desk = WatchDesk(service)
    ctx["watch_desk"] = desk
    ctx["watch_poller"] = await stack.enter_async_context(desk.poller())
    if ctx.get("preload", True):
        await _preload(service)
    reaper = asyncio.create_task(_reap(service, queue, settings.worker.lease_seconds / 4), name="reaper")
    ctx["reaper"] = reaper
    log.info("worker %s ready on queue %s", service.lease_owner, settings.redis.queue_name)


async def shutdown(ctx: dict[str, Any]) -> None:
    """arq on_shutdown: stop the reaper, close Discord and the services."""
    reaper: asyncio.Task[None] | None = ctx.get("reaper")
    if reaper is not None:
        reaper.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await reaper
    stack: AsyncExitStack | None = ctx.get("stack")
    if stack is not None:
        await stack.aclose()


async def run_job(ctx: dict[str, Any], run_id: str) -> None:
    """The arq job: execute (or resume) one run and deliver its outcome."""
    service: RunService = ctx["service"]
    await service.run_job(run_id)


async def watch_tick(ctx: dict[str, Any]) -> None:
    """The arq cron job: poll every due watch once and send the digests that are due."""
    desk: WatchDesk = ctx["watch_desk"]
    await desk.tick(ctx["watch_poller"])


def _tick_seconds(settings: Settings) -> set[int]:
    """The seconds of each minute at which the watch cron ticks (every WATCH_INTERVAL_MINUTES,
    at most once a minute: each watch keeps its own next poll time)."""
    every = max(1, int(tick_interval(settings.watch.interval_minutes).total_seconds()))
    step = max(divisor for divisor in range(1, 61) if 60 % divisor == 0 and divisor <= every)
    return set(range(0, 60, step))


def build_worker(
    settings: Settings, *, burst: bool = False, preload: bool = True, handle_signals: bool = True
) -> Any:
    """An arq `Worker` for this deployment (REDIS_URL required); `burst` stops when the queue is empty
    (and polls no watches)."""
    from arq import Worker, cron, func
    from arq.connections import RedisSettings

    if settings.redis.url is None:
        raise QueueUnavailableError(
            "REDIS_URL is not set: workers need Redis (the bot runs jobs itself without)"
        )
    redis_settings = RedisSettings.from_dsn(settings.redis.url.get_secret_value())
    redis_settings.conn_retries = 2
    ticks = [
        cron(
            watch_tick,
            name=WATCH_JOB_NAME,
            second=_tick_seconds(settings),
            timeout=WATCH_TICK_TIMEOUT,
            keep_result=0,
            max_tries=1,
        )
    ]
    return Worker(
        functions=[
            func(
                run_job,
                name=JOB_NAME,
                timeout=settings.worker.job_timeout_seconds,
                keep_result=0,
                max_tries=MAX_TRIES,
            )
        ],
        cron_jobs=[] if burst else ticks,  # a burst worker empties the queue and exits: no schedule
        queue_name=settings.redis.queue_name,
        redis_settings=redis_settings,
        max_jobs=settings.worker.concurrency,
        job_timeout=settings.worker.job_timeout_seconds,
        on_startup=startup,
        on_shutdown=shutdown,
        allow_abort_jobs=True,
        burst=burst,
        poll_delay=0.2,
        job_completion_wait=settings.worker.shutdown_grace_seconds,
        ctx={"settings": settings, "preload": preload},
        keep_result=0,
        max_tries=MAX_TRIES,
        handle_signals=handle_signals,
    )
