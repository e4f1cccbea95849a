"""`autointel bot` and `autointel worker`: run the Discord bot, or a worker, until interrupted."""

from __future__ import annotations

import asyncio
import logging
import os
import sys
import threading

import discord

from bot.client import run_bot
from pipelines.errors import PipelineError, describe
from settings import Settings, SettingsError

log = logging.getLogger(__name__)


def start_bot(settings: Settings) -> int:
    """Run the bot; return the exit code (2 for missing settings, 1 when it cannot log in or start)."""
    try:
        asyncio.run(run_bot(settings))
    except SettingsError as exc:
        print(f"autointel: {exc}", file=sys.stderr)
        return 2
    except discord.LoginFailure:
        print("autointel: Discord refused the bot token (DISCORD_BOT_TOKEN)", file=sys.stderr)
        return 1
    except (discord.HTTPException, discord.GatewayNotFound, OSError) as exc:
        print(f"autointel: cannot reach Discord at {settings.discord.api_base_url}: {exc}", file=sys.stderr)
        return 1
    except PipelineError as exc:
        print(f"autointel: {describe(exc)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 0
    return 0


def start_worker(settings: Settings, *, burst: bool = False) -> int:
    """Run an arq worker; return the exit code (1 when Redis is not configured or not reachable)."""
    from redis.exceptions import RedisError

    from bot.worker import build_worker

    try:
        worker = build_worker(settings, burst=burst)
        worker.run()
    except PipelineError as exc:
        print(f"autointel: {describe(exc)}", file=sys.stderr)
        return 1
    except (RedisError, OSError) as exc:
        print(f"autointel: cannot reach Redis at REDIS_URL: {exc}", file=sys.stderr)
        return 1
    except discord.LoginFailure:
        print("autointel: Discord refused the bot token (DISCORD_BOT_TOKEN)", file=sys.stderr)
        return 1
    return _exit_now_if_calls_linger()


def _exit_now_if_calls_linger() -> int:
    """Exit a stopped worker at once, even when a cancelled model call still blocks a thread.

    CrewAI runs synchronous model calls in executor threads; cancelling the job does not stop
    them, and the interpreter would join them at exit, holding the process until the request
    times out (up to the model's timeout). By now every run is checkpointed and the services
    are closed, so the answers they wait for are discarded anyway.
    """
    lingering = [t for t in threading.enumerate() if t is not threading.main_thread() and not t.daemon]
    if lingering:
        log.info("worker stopped; abandoning %d thread(s) of cancelled model calls", len(lingering))
        logging.shutdown()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(0)
    return 0
