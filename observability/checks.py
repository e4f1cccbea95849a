"""The doctor's result model and its service checks: Discord, database, Redis.

Each check only reads: it never migrates, creates a file or folder, or writes to a server.
Every network call gives up after `NETWORK_TIMEOUT` seconds. URLs are shown with their
password hidden (`hide_password`). Embeddings and Qdrant are checked in
`observability.memory_checks`; the model checks and the runner are in `observability.doctor`.
"""

from __future__ import annotations

import asyncio
import importlib
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

import aiohttp

from settings import Settings

NETWORK_TIMEOUT = 3.0  # seconds per request

# Discord permission bits the bot needs in each channel it posts to (README: inviting the bot).
ADMINISTRATOR = 1 << 3
VIEW_CHANNEL = 1 << 10
NEEDED_PERMISSIONS = {
    "Send Messages": 1 << 11,
    "Embed Links": 1 << 14,
    "Attach Files": 1 << 15,
    "Manage Webhooks": 1 << 29,
}
TEXT_CHANNEL_TYPES = {0, 5}  # text and announcement channels
INVITE_FIX = (
    "invite the bot (developer portal → OAuth2 → URL Generator, scopes bot + applications.commands) "
    "and give its role Send Messages, Embed Links, Attach Files and Manage Webhooks"
)


class Status(StrEnum):
    """How a check ended."""

    OK = "ok"
    WARN = "warn"
    FAIL = "fail"


@dataclass(frozen=True)
class CheckResult:
    """One line of the report: status, what was checked, what was found and how to fix it."""

    status: Status
    label: str
    details: str
    fix: str = ""


def hide_password(url: str) -> str:
    """`url` with any password replaced by `***` (postgresql://u:***@host/db)."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    userinfo, _, host = parts.netloc.rpartition("@")
    user = userinfo.partition(":")[0]
    return urlunsplit(parts._replace(netloc=f"{user}:***@{host}"))


def reason(exc: BaseException) -> str:
    """The first line of an error (unwrapping SQLAlchemy's DBAPI wrapper); a bare timeout says so."""
    text = str(getattr(exc, "orig", None) or exc).strip()
    if not text and isinstance(exc, TimeoutError):
        return f"no answer within {NETWORK_TIMEOUT:g} s"
    return text.splitlines()[0] if text else type(exc).__name__


def client_timeout(seconds: float = NETWORK_TIMEOUT) -> aiohttp.ClientTimeout:
    """An aiohttp timeout for the whole request."""
    return aiohttp.ClientTimeout(total=seconds)


def bearer(settings: Settings) -> dict[str, str]:
    """The Authorization header for OpenAI-compatible endpoints (LLM_API_KEY), if any."""
    key = settings.llm.api_key
    return {"Authorization": f"Bearer {key.get_secret_value()}"} if key else {}


async def preload(*modules: str) -> None:
    """Import `modules` in a worker thread: a slow first import must not stall the other checks' clocks."""
    await asyncio.to_thread(lambda: [importlib.import_module(name) for name in modules])


async def error_text(response: aiohttp.ClientResponse) -> str:
    """`HTTP 400: <the server's error message>` from an OpenAI- or Discord-style error body."""
    try:
        body = await response.json(content_type=None)
    except (ValueError, aiohttp.ClientError):
        return f"HTTP {response.status}"
    error = body.get("error", body) if isinstance(body, dict) else body
    message = error.get("message") if isinstance(error, dict) else error
    return f"HTTP {response.status}: {str(message)[:200]}" if message else f"HTTP {response.status}"


# --- Discord ------------------------------------------------------------------------------------


class _DiscordStatus(Exception):
    def __init__(self, status: int, text: str) -> None:
        super().__init__(text)
        self.status = status


async def _discord_get(http: aiohttp.ClientSession, url: str) -> Any:
    async with http.get(url) as response:
        if response.status != 200:
            raise _DiscordStatus(response.status, await error_text(response))
        return await response.json()


def _channel_permissions(
    base: int, channel: dict[str, Any], role_ids: set[int], guild_id: int, me: int
) -> int:
    """Discord's order: @everyone overwrite, then the member's roles' overwrites, then the member's own."""
    overwrites = {int(o["id"]): o for o in channel.get("permission_overwrites", [])}
    perms = base
    if (everyone := overwrites.get(guild_id)) is not None:
        perms = (perms & ~int(everyone["deny"])) | int(everyone["allow"])
    allow = deny = 0
    for role_id in role_ids:
        if (role := overwrites.get(role_id)) is not None and int(role["type"]) == 0:
            allow, deny = allow | int(role["allow"]), deny | int(role["deny"])
    perms = (perms & ~deny) | allow
    if (own := overwrites.get(me)) is not None and int(own["type"]) == 1:
        perms = (perms & ~int(own["deny"])) | int(own["allow"])
    return perms


def _missing(perms: int) -> list[str]:
    return [name for name, bit in NEEDED_PERMISSIONS.items() if not perms & bit]


async def _check_guild(http: aiohttp.ClientSession, base: str, guild_id: int, me: int) -> CheckResult:
    label = f"discord guild {guild_id}"
    try:
        guild, member, channels = await asyncio.gather(
            _discord_get(http, f"{base}/guilds/{guild_id}"),
            _discord_get(http, f"{base}/guilds/{guild_id}/members/{me}"),
            _discord_get(http, f"{base}/guilds/{guild_id}/channels"),
        )
    except _DiscordStatus as exc:
        if exc.status in (403, 404):
            return CheckResult(Status.WARN, label, f"the bot cannot read this guild ({exc})", INVITE_FIX)
        return CheckResult(Status.WARN, label, f"Discord answered {exc}", "run the doctor again later")
    roles = {int(r["id"]): int(r["permissions"]) for r in guild.get("roles", [])}
    role_ids = {int(r) for r in member.get("roles", [])}
    perms = roles.get(guild_id, 0)
    for role_id in role_ids:
        perms |= roles.get(role_id, 0)
    name = guild.get("name", "?")
    if perms & ADMINISTRATOR or int(guild.get("owner_id", 0)) == me:
        return CheckResult(Status.OK, label, f"{name}: the bot is an administrator")
    problems = [f"server-wide: {', '.join(missing)}"] if (missing := _missing(perms)) else []
    text_channels = [c for c in channels if c.get("type") in TEXT_CHANNEL_TYPES]
    visible = 0
    for channel in text_channels:
        in_channel = _channel_permissions(perms, channel, role_ids, guild_id, me)
        if not in_channel & VIEW_CHANNEL:
            continue
        visible += 1
        if channel_missing := _missing(in_channel):
            problems.append(f"#{channel.get('name', channel['id'])}: {', '.join(channel_missing)}")
    if problems:
        shown = "; ".join(problems[:5]) + (f"; +{len(problems) - 5} more" if len(problems) > 5 else "")
        fix = "grant the bot's role these permissions, or fix the channel overwrites"
        return CheckResult(Status.WARN, label, f"{name}: missing {shown}", fix)
    return CheckResult(
        Status.OK, label, f"{name}: all needed permissions in {visible} visible text channel(s)"
    )


async def check_discord(settings: Settings) -> list[CheckResult]:
    """The bot token (GET /users/@me) and, per DISCORD_GUILD_IDS guild, the bot's channel permissions."""
    token = settings.discord.bot_token
    if token is None or not token.get_secret_value():
        fix = "set DISCORD_BOT_TOKEN (developer portal → Bot → Reset Token) to run the bot"
        return [CheckResult(Status.WARN, "discord", "no DISCORD_BOT_TOKEN (the CLI works without it)", fix)]
    base = settings.discord.api_base_url.rstrip("/")
    headers = {"Authorization": f"Bot {token.get_secret_value()}", "User-Agent": "DiscordBot (autointel, 1)"}
    async with aiohttp.ClientSession(headers=headers, timeout=client_timeout()) as http:
        try:
            me = await _discord_get(http, f"{base}/users/@me")
        except _DiscordStatus as exc:
            if exc.status == 401:
                fix = "reset the token (developer portal → Bot → Reset Token) and set DISCORD_BOT_TOKEN"
                return [CheckResult(Status.FAIL, "discord", f"token refused ({exc})", fix)]
            return [CheckResult(Status.FAIL, "discord", f"{base}/users/@me answered {exc}", "retry later")]
        except (aiohttp.ClientError, TimeoutError) as exc:
            fix = "check the network, or DISCORD_API_BASE_URL"
            return [CheckResult(Status.FAIL, "discord", f"cannot reach {base}: {reason(exc)}", fix)]
        bot_id = int(me["id"])
        guilds = settings.discord.guild_ids
        where = f"{len(guilds)} guild(s) below" if guilds else "no DISCORD_GUILD_IDS: permissions not checked"
        results = [
            CheckResult(Status.OK, "discord", f"token accepted: {me.get('username')} ({bot_id}); {where}")
        ]
        results += await asyncio.gather(*(_check_guild(http, base, g, bot_id) for g in guilds))
    return results


# --- database and Redis ---------------------------------------------------------------------------


def _revision_check(where: str, current: str | None) -> CheckResult:
    from alembic.script import ScriptDirectory

    from pipelines.store import MIGRATIONS_DIR, head_revision

    head = head_revision()
    upgrade = "run autointel db upgrade"
    if current is None:
        return CheckResult(Status.WARN, "database", f"{where}: not migrated: {upgrade}", upgrade)
    if current == head:
        return CheckResult(Status.OK, "database", f"{where}: schema at revision {head} (current)")
    known = {rev.revision for rev in ScriptDirectory(str(MIGRATIONS_DIR)).walk_revisions()}
    if current in known:
        details = f"{where}: schema at revision {current}, this version needs {head}"
        return CheckResult(Status.WARN, "database", details, upgrade)
    details = f"{where}: schema at revision {current}, unknown to this version (head {head})"
    fix = "run the AutoIntel version that migrated this database, or restore a backup"
    return CheckResult(Status.FAIL, "database", details, fix)


async def check_database(settings: Settings) -> list[CheckResult]:
    """Connect to the run store and compare its `alembic_version` with the code's head (never migrates);
    then report the watches whose polls fail (observability.watch_checks)."""
    await preload("sqlalchemy.ext.asyncio", "pipelines.store")
    from sqlalchemy import inspect, text
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import SQLAlchemyError
    from sqlalchemy.ext.asyncio import create_async_engine
    from sqlalchemy.pool import NullPool

    from observability.watch_checks import check_watches

    url = make_url(settings.database_url)
    where = url.render_as_string(hide_password=True)
    connect_args: dict[str, Any] = {}
    if url.get_backend_name() == "sqlite":
        path = url.database or ""
        if path in ("", ":memory:"):
            details = f"{where}: an in-memory database loses every run at exit"
            return [CheckResult(Status.WARN, "database", details, "set DATABASE_URL to a file or a server")]
        if not await asyncio.to_thread(Path(path).exists):
            upgrade = "run autointel db upgrade"
            return [CheckResult(Status.WARN, "database", f"{path} does not exist: not migrated", upgrade)]
        url = url.set(database=f"file:{quote(path)}", query={"mode": "rw", "uri": "true"})  # never creates it
    else:
        connect_args["timeout"] = NETWORK_TIMEOUT
    engine = create_async_engine(url, poolclass=NullPool, connect_args=connect_args)
    try:
        async with asyncio.timeout(NETWORK_TIMEOUT), engine.connect() as conn:
            migrated = await conn.run_sync(lambda sync: inspect(sync).has_table("alembic_version"))
            query = text("SELECT version_num FROM alembic_version")
            current = (await conn.execute(query)).scalar() if migrated else None
            watches = await check_watches(conn)
    except (OSError, SQLAlchemyError, TimeoutError) as exc:
        fix = "start the database server, or fix DATABASE_URL (host, port, user, password, database)"
        return [CheckResult(Status.FAIL, "database", f"cannot open {where}: {reason(exc)}", fix)]
    finally:
        await engine.dispose()
    return [await asyncio.to_thread(_revision_check, where, current), *watches]


async def check_redis(settings: Settings) -> list[CheckResult]:
    """PING Redis when REDIS_URL is set (the arq queue); fine without it."""
    if settings.redis.url is None:
        return [CheckResult(Status.OK, "redis", "not configured (in-process queue)")]
    await preload("redis.asyncio")
    from redis.asyncio import Redis
    from redis.exceptions import RedisError

    url = settings.redis.url.get_secret_value()
    where = hide_password(url)
    try:
        client = Redis.from_url(url, socket_connect_timeout=NETWORK_TIMEOUT, socket_timeout=NETWORK_TIMEOUT)
    except ValueError as exc:
        return [CheckResult(Status.FAIL, "redis", f"bad REDIS_URL {where}: {exc}", "fix REDIS_URL")]
    try:
        async with asyncio.timeout(NETWORK_TIMEOUT):
            await client.ping()
            version = (await client.info("server")).get("redis_version", "?")
    except (OSError, RedisError, TimeoutError) as exc:
        fix = "start Redis or fix REDIS_URL (unset it to run the queue in-process)"
        return [CheckResult(Status.FAIL, "redis", f"cannot reach {where}: {reason(exc)}", fix)]
    finally:
        await client.aclose()
    return [CheckResult(Status.OK, "redis", f"{where}: PONG (Redis {version})")]
