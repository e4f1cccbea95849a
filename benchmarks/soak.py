"""Soak: N /autointel runs through the real bot and two real workers while faults keep coming.

The bot (`autointel bot`) and two workers (`autointel worker`) run as processes against the
Discord emulator, the scripted model server (its own process), a private Redis and a private
PostgreSQL cluster (tests/faults/services), on short real media (tests/data/claims.ogg, one
distinct URL per run; the transcript is cached after the first). The model answers after
`--model-delay` seconds (2 s, a small model server's pace). Commands keep `--window` runs in
flight, plus one burst of 20 concurrent commands. Faults, on a schedule: worker 0 is SIGKILLed
every `--kill-every` seconds and started again; Redis restarts once (a third of the way) and
PostgreSQL once (two thirds); 10 % of model calls answer HTTP 500 (the catalogue's second entry
takes over); every 45 s Discord answers a burst of 429s to followups and progress edits.
Worker 1 is never killed, so its memory is measured over the whole soak.

Printed JSON: runs lost (no outcome), duplicate posts, orphaned leases, deliveries and jobs
(all must be 0), run latency p50/p95 (command to briefing), ack p99 of the 20-command burst,
RSS growth of the bot and worker 1 after warm-up, peak Redis clients and PostgreSQL sessions.

    .venv/bin/python benchmarks/soak.py [--runs 200] [--kill-every 60]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]  # the repo first: tests/ mirrors its package names

from e2e.discord_emulator import DiscordEmulator, EmulatedInteraction, RecordedMessage  # noqa: E402
from e2e.harness import footer, is_briefing  # noqa: E402
from fakes.media_server import serve_media  # noqa: E402
from faults.services import (  # noqa: E402
    ModelServerProcess,
    PrivatePostgres,
    PrivateRedis,
    ServiceProcess,
    bot_process,
    child_env,
    worker_process,
)
from pipelines.queue import WATCH_JOB_NAME  # noqa: E402

FOLLOWUPS = r"^/webhooks/\d+/[^/]+$"
EDITS = r"^/webhooks/\d+/[^/]+/messages/"
LEASE_SECONDS = 5


def _pct(values: list[float], q: float) -> float | None:
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))], 3) if ordered else None


@dataclass
class Run:
    """One command and what became of it."""

    n: int
    sent: float
    interaction: EmulatedInteraction
    run_id: str | None = None
    outcome: str | None = None  # "briefing" or "failure"
    done_at: float | None = None


@dataclass
class Soak:
    """The world under test and what the soak saw."""

    emu: DiscordEmulator
    guild: int
    channel: int
    users: list[int]
    media_url: Any
    bot: ServiceProcess
    workers: list[ServiceProcess]
    redis: PrivateRedis
    pg: PrivatePostgres
    model: ModelServerProcess
    runs: list[Run] = field(default_factory=list)
    events: list[str] = field(default_factory=list)
    samples: list[dict[str, Any]] = field(default_factory=list)
    started: float = field(default_factory=time.monotonic)

    def log(self, what: str) -> None:
        """Record a fault or milestone with its time since the start."""
        self.events.append(f"{time.monotonic() - self.started:7.1f}s {what}")
        print(self.events[-1], file=sys.stderr, flush=True)

    def finished(self) -> int:
        """Runs with an outcome."""
        return sum(run.outcome is not None for run in self.runs)

    async def command(self) -> Run:
        """One /autointel command with a URL of its own."""
        n = len(self.runs)
        url = self.media_url(f"claims.ogg?soak={n}")
        user = self.users[n % len(self.users)]
        sent = time.monotonic()
        interaction = await self.emu.invoke(
            self.guild, self.channel, user, "autointel", options={"url": url, "depth": "quick"}
        )
        run = Run(n, sent, interaction)
        self.runs.append(run)
        try:
            await interaction.wait_ack(timeout=30)
        except TimeoutError:
            self.log(f"command {n} was not acknowledged within 30 s")
        return run

    def scan(self) -> None:
        """Match run ids and outcomes from what the emulator recorded."""
        for run in self.runs:
            if run.run_id is None and run.interaction.original_message is not None:
                run.run_id = _run_of(run.interaction.original_message)
        waiting = {run.run_id: run for run in self.runs if run.run_id and run.outcome is None}
        for message in self.emu.messages:
            owner = waiting.get(_run_of(message) or "")
            if owner is None or message.via == "interaction_response":
                continue
            if is_briefing(message) or (message.embeds and "✗" in str(message.embeds[0].get("title"))):
                owner.outcome = "briefing" if is_briefing(message) else "failure"
                owner.done_at = message.created_at
                waiting.pop(owner.run_id or "")


def _run_of(message: RecordedMessage) -> str | None:
    text = footer(message)
    return text.split("run ", 1)[1].split()[0] if "run " in text else None


async def _monitor(soak: Soak) -> None:
    while True:
        soak.scan()
        await asyncio.sleep(0.5)


async def _sample(soak: Soak) -> None:
    """Every 5 s: memory of the bot and the workers, Redis clients, PostgreSQL sessions."""
    while True:
        sample: dict[str, Any] = {"t": round(time.monotonic() - soak.started, 1), "done": soak.finished()}
        sample["bot_rss"] = soak.bot.rss()
        sample["worker_rss"] = [w.rss() for w in soak.workers]
        with contextlib.suppress(OSError, StopIteration, ValueError):
            sample["redis_clients"] = await asyncio.to_thread(soak.redis.clients)
        with contextlib.suppress(Exception):  # PostgreSQL may be restarting
            sample["pg_sessions"] = await soak.pg.connections("soak")
        soak.samples.append(sample)
        await asyncio.sleep(5)


async def _faults(soak: Soak, total: int, kill_every: float) -> None:
    """The fault schedule (see the module doc)."""
    next_kill = time.monotonic() + kill_every
    next_burst = time.monotonic() + 45
    redis_done = pg_done = False
    while True:
        await asyncio.sleep(1)
        now = time.monotonic()
        if now >= next_kill:
            soak.workers[0].kill()
            soak.workers[0].start()
            soak.log(f"worker 0 SIGKILLed and restarted (pid {soak.workers[0].pid})")
            next_kill = now + kill_every
        if now >= next_burst:
            soak.emu.inject_rate_limit(FOLLOWUPS, method="POST", retry_after=1.0, times=5)
            soak.emu.inject_rate_limit(EDITS, method="PATCH", retry_after=1.0, times=5)
            soak.log("Discord: a burst of 429s on followups and edits")
            next_burst = now + 45
        if not redis_done and soak.finished() >= total // 3:
            await asyncio.to_thread(soak.redis.restart, down_for=2.0)
            soak.log("Redis restarted (down 2 s)")
            redis_done = True
        if not pg_done and soak.finished() >= 2 * total // 3:
            await asyncio.to_thread(soak.pg.restart, down_for=3.0)
            soak.log("PostgreSQL restarted (down 3 s)")
            pg_done = True


async def _submit(soak: Soak, total: int, window: int, burst: int) -> list[float]:
    """Keep `window` runs in flight; one burst of `burst` concurrent commands after warm-up."""
    acks: list[float] = []
    burst_at = max(window, total // 4)
    while len(soak.runs) < total:
        if len(soak.runs) == burst_at and burst:
            size = min(burst, total - len(soak.runs))
            sent = await asyncio.gather(*(soak.command() for _ in range(size)))
            acks = [run.interaction.ack_latency or 0.0 for run in sent]
            soak.log(f"burst of {size} concurrent commands acknowledged")
            continue
        if len(soak.runs) - soak.finished() < window:
            await soak.command()
        else:
            await asyncio.sleep(0.2)
    return acks


async def _orphans(soak: Soak) -> dict[str, int]:
    """What is left behind once everything is quiet: leases, owed deliveries, jobs."""
    sql = {
        "leases_held": "SELECT count(*) FROM runs WHERE lease_owner IS NOT NULL",
        "deliveries_not_delivered": "SELECT count(*) FROM deliveries WHERE state <> 'delivered'",
        "runs_unfinished": "SELECT count(*) FROM runs WHERE status NOT IN ('succeeded','failed','cancelled')",
    }
    found = {name: int(await soak.pg.execute(query, "soak")) for name, query in sql.items()}
    keys = "\"return table.concat(redis.call('keys', ARGV[1]), ' ')\""
    for name, pattern in (("arq_jobs_left", "arq:job:*"), ("arq_in_progress_left", "arq:in-progress:*")):
        left = soak.redis.command("EVAL", keys, "0", pattern).split()
        # arq keeps a finished cron tick's in-progress key for a minute on purpose (no other
        # worker runs the same tick): watch ticks are counted apart from runs.
        found[name] = sum(WATCH_JOB_NAME not in key for key in left)
        found[name.replace("arq", "watch_ticks")] = len(left) - found[name]
        if left:
            soak.log(f"left in Redis: {' '.join(left)}")
    return found


def _growth(samples: list[dict[str, Any]], key: str, warm: int, index: int | None = None) -> dict[str, Any]:
    def value(sample: dict[str, Any]) -> int:
        found = sample.get(key, 0)
        return int(found[index] if index is not None else found)

    series = [value(s) for s in samples if s["done"] >= warm and value(s)]
    if len(series) < 4:
        return {"warm_mb": None, "end_mb": None, "growth_pct": None}
    start, end = statistics.median(series[:3]), statistics.median(series[-3:])
    return {
        "warm_mb": round(start / 2**20, 1),
        "end_mb": round(end / 2**20, 1),
        "growth_pct": round(100 * (end - start) / start, 1),
    }


def _report(soak: Soak, acks: list[float], wall: float, orphans: dict[str, int]) -> dict[str, Any]:
    per_run: dict[str, int] = {}
    files: dict[tuple[str, str], int] = {}
    for message in soak.emu.messages:
        run_id = _run_of(message)
        if run_id and is_briefing(message):
            per_run[run_id] = per_run.get(run_id, 0) + 1
        for attachment in message.attachments:
            key = (run_id or "", attachment.filename)
            files[key] = files.get(key, 0) + 1
    latencies = [r.done_at - r.sent for r in soak.runs if r.done_at is not None]
    warm = max(10, len(soak.runs) // 5)
    all_acks = [r.interaction.ack_latency for r in soak.runs if r.interaction.ack_latency is not None]
    return {
        "runs": len(soak.runs),
        "briefings": sum(r.outcome == "briefing" for r in soak.runs),
        "failure_messages": sum(r.outcome == "failure" for r in soak.runs),
        "runs_lost": sum(r.outcome is None for r in soak.runs),
        "duplicate_posts": sum(n - 1 for n in per_run.values() if n > 1)
        + sum(n - 1 for n in files.values() if n > 1),
        "orphans": orphans,
        "wall_seconds": round(wall, 1),
        "run_latency_p50_s": _pct(latencies, 0.5),
        "run_latency_p95_s": _pct(latencies, 0.95),
        "ack_p99_burst_of_20_ms": round(1000 * (_pct(acks, 0.99) or 0), 1) if acks else None,
        "ack_p99_all_ms": round(1000 * (_pct(all_acks, 0.99) or 0), 1),
        "rss_bot": _growth(soak.samples, "bot_rss", warm),
        "rss_worker_1_never_killed": _growth(soak.samples, "worker_rss", warm, 1),
        "rss_worker_0_max_mb": round(max((s["worker_rss"][0] for s in soak.samples), default=0) / 2**20, 1),
        "redis_clients_max": max((s.get("redis_clients", 0) for s in soak.samples), default=0),
        "pg_sessions_max": max((s.get("pg_sessions", 0) for s in soak.samples), default=0),
        "worker_0_kills": soak.workers[0].kills,
        "model_calls": soak.model.stats()["requests"],
        "model_delay_s": soak.model.switches.get("delay"),
        "faults": soak.events,
        "cpu_cores": os.cpu_count(),
    }


def _environment(emu: DiscordEmulator, guild: int, redis: PrivateRedis, pg_url: str, model: str) -> dict:
    catalogue = [
        {"name": "scripted-a", "base_url": model, "model": "scripted"},
        {"name": "scripted-b", "base_url": model, "model": "scripted"},
    ]
    return {
        "DISCORD_BOT_TOKEN": emu.bot_token,
        "DISCORD_API_BASE_URL": emu.api_base_url,
        "DISCORD_GATEWAY_URL": emu.gateway_url,
        "DISCORD_GUILD_IDS": str(guild),
        "DISCORD_USER_RUNS_PER_HOUR": "10000",
        "DISCORD_GUILD_RUNS_PER_HOUR": "10000",
        "DISCORD_MAX_ACTIVE_RUNS_PER_GUILD": "1000",
        "DISCORD_PROGRESS_EDIT_INTERVAL_SECONDS": "1",
        "REDIS_URL": redis.url(0),
        "REDIS_QUEUE_NAME": "soak",
        "DATABASE_URL": pg_url,
        "LLM_BASE_URL": model,
        "LLM_MODEL": "scripted",
        "EMBEDDINGS_BASE_URL": model,
        "EMBEDDINGS_MODEL": "scripted",
        "ROUTER_MODELS": json.dumps(catalogue),
        "ALLOW_PRIVATE_URLS": "true",
        "WORKER_LEASE_SECONDS": str(LEASE_SECONDS),
        "METRICS_PORT": "0",
        "LOG_LEVEL": "WARNING",
        "EVIDENCE_SOURCES": "memory",
        "CACHE_ENABLED": "false",  # every run calls the model (the runs share one transcript)
    }


async def soak(args: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    """Start everything, run the soak, stop everything; the report."""
    redis, pg, model = PrivateRedis().start(), PrivatePostgres().start(), ModelServerProcess().start()
    emu = await DiscordEmulator().start()
    processes: list[ServiceProcess] = []
    try:
        with serve_media() as media:
            pg_url = await pg.create_database("soak")
            guild = emu.add_guild("soak")
            channel = emu.default_channel_id(guild)
            users = [emu.add_member(guild, f"user{n}") for n in range(5)]
            env = _environment(emu, guild, redis, pg_url, model.base_url)
            bot = bot_process(child_env(**env, AUTOINTEL_DATA_DIR=str(tmp / "bot")), tmp / "bot.log")
            processes.append(bot.start())
            await emu.wait_for(lambda: emu.gateway_connected and emu.registered_commands(guild), timeout=120)
            await asyncio.sleep(1.0)  # READY and GUILD_CREATE processed
            for n in range(2):
                data = str(tmp / f"worker{n}")
                worker_env = child_env(**{**env, "LOG_LEVEL": "INFO"}, AUTOINTEL_DATA_DIR=data)
                processes.append(worker_process(worker_env, tmp / f"worker{n}.log").start())
            for worker in processes[1:]:
                await worker.wait_for_log("ready on queue", timeout=180)
            model.set(failure_rate=0.1, delay=args.model_delay)
            state = Soak(emu, guild, channel, users, media.url, bot, processes[1:], redis, pg, model)
            state.log("bot and workers ready; soak starts")
            background = [
                asyncio.create_task(_monitor(state)),
                asyncio.create_task(_sample(state)),
                asyncio.create_task(_faults(state, args.runs, args.kill_every)),
            ]
            began = time.monotonic()
            try:
                acks = await _submit(state, args.runs, args.window, args.burst)
                for _second in range(int(args.drain_minutes * 60)):  # the last runs finish
                    if state.finished() == len(state.runs):
                        break
                    await asyncio.sleep(1)
                wall = time.monotonic() - began
            finally:
                for task in background:
                    task.cancel()
            state.scan()
            await asyncio.sleep(3 * LEASE_SECONDS)  # leases and claims of the last runs are released
            await asyncio.sleep(35)  # and the bot's delivery sweep has had its turn
            report = _report(state, acks, wall, await _orphans(state))
            report["internal_emulator_errors"] = len(emu.internal_errors)
            return report
    finally:
        for process in processes:
            process.stop(timeout=30)
        await emu.stop()
        model.close()
        pg.close()
        redis.close()


def main() -> None:
    """Parse the options, soak, print one JSON object."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--kill-every", type=float, default=60.0, help="seconds between worker SIGKILLs")
    parser.add_argument("--window", type=int, default=6, help="runs kept in flight")
    parser.add_argument("--burst", type=int, default=20, help="size of the concurrent command burst")
    parser.add_argument("--drain-minutes", type=float, default=10.0, help="wait for the last runs")
    parser.add_argument("--keep", action="store_true", help="keep the processes' logs and data dirs")
    parser.add_argument("--model-delay", type=float, default=2.0, help="seconds per model answer")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="autointel-soak-"))
    print(f"soak: logs in {tmp}", file=sys.stderr)
    report = asyncio.run(soak(args, tmp))
    if not args.keep:
        shutil.rmtree(tmp, ignore_errors=True)
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
