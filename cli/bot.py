"""`autointel bot` and `autointel worker`: run the Discord bot, or a worker, until interrupted."""

from __future__ import annotations

import asyncio
import sys

import discord

from bot.client import run_bot
from pipelines.errors import PipelineError, describe
from settings import Settings, SettingsError


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
    return 0
