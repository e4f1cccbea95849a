"""Benchmark: the bot under concurrent slash commands, against the local Discord emulator.

Starts `run_bot` (what `autointel bot` runs) against the emulator from tests/e2e, the scripted
model server and a local media server, then:
1. fires N concurrent `/autointel` commands and reports interaction → acknowledgement (defer)
   latency and interaction → first progress edit, p50/p99/max, and the time until every briefing
   was delivered;
2. repeats N runs with interaction tokens that expire after `--ttl` seconds while the runs are
   still working, and counts how many briefings arrived exactly once (and by which route).

    .venv/bin/python benchmarks/discord_bot.py [--runs 20] [--ttl 1.0] [--delay 0.3]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]  # the repo first: tests/ mirrors its package names

from e2e.discord_emulator import DiscordEmulator, EmulatedInteraction  # noqa: E402
from e2e.harness import BotWorld, footer  # noqa: E402
from fakes.media_server import serve_media  # noqa: E402
from fakes.openai_server import ScriptedOpenAI, point_settings_at  # noqa: E402
from fakes.scripted_flow import REPLIES  # noqa: E402
from observability.logs import setup_logging  # noqa: E402

LIMITS = {
    "DISCORD_USER_RUNS_PER_HOUR": "1000",
    "DISCORD_GUILD_RUNS_PER_HOUR": "1000",
    "DISCORD_MAX_ACTIVE_RUNS_PER_GUILD": "1000",
}


def _percentiles(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    p99 = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]
    return {
        "p50_ms": round(statistics.median(ordered) * 1000, 2),
        "p99_ms": round(p99 * 1000, 2),
        "max_ms": round(ordered[-1] * 1000, 2),
    }


async def _single_defers(world: BotWorld, url: str, count: int) -> list[float]:
    """Interaction → defer latency of `count` commands sent one at a time (each run left to finish)."""
    latencies = []
    for _ in range(count):
        interaction = await world.emulator.invoke(
            world.guild_id, world.channel_id, world.alice, "autointel", options={"url": url, "depth": "quick"}
        )
        await interaction.wait_ack(timeout=10)
        latencies.append(interaction.ack_latency or 0.0)
        await asyncio.sleep(0.2)
    return latencies


async def _round(runs: int, ttl: float, delay: float, distinct: bool, data_dir: Path) -> dict[str, Any]:
    """One bot, `runs` concurrent commands; latencies and delivery counts."""
    server = ScriptedOpenAI(replies=dict(REPLIES), delay=delay)
    point_settings_at(server.start_in_thread(), os.environ.__setitem__)
    os.environ.update({"AUTOINTEL_DATA_DIR": str(data_dir), "ALLOW_PRIVATE_URLS": "true", **LIMITS})
    emulator = await DiscordEmulator(token_ttl=ttl).start()
    world = BotWorld(emulator, os.environ.__setitem__)
    world.build()
    try:
        with serve_media() as media:
            await world.start()
            single = await _single_defers(world, media.url("jfk.flac?single=1"), 5) if not distinct else []
            urls = [media.url(f"jfk.flac?n={n}" if distinct else "jfk.flac") for n in range(runs)]
            loop = asyncio.get_running_loop()
            started = loop.time()
            interactions: list[EmulatedInteraction] = await asyncio.gather(
                *(
                    emulator.invoke(
                        world.guild_id,
                        world.channel_id,
                        world.alice,
                        "autointel",
                        options={"url": u, "depth": "quick"},
                    )
                    for u in urls
                )
            )
            await asyncio.gather(*(i.wait_ack(timeout=10) for i in interactions))

            def briefed() -> set[str]:
                return {footer(m).split("run ", 1)[1] for m in world.briefings() if "run " in footer(m)}

            await emulator.wait_for(lambda: len(briefed()) >= runs + len(single), timeout=600)
            all_delivered = loop.time() - started
            await asyncio.sleep(1.0)  # anything posted twice would show up now
            run_ids = briefed()
            counts = [len(world.briefings(r)) for r in run_ids]
            routes: dict[str, int] = {}
            for run_id in run_ids:
                for message in world.briefings(run_id):
                    routes[message.via] = routes.get(message.via, 0) + 1
            first_edit = [
                i.original_message.edits[0].at - i.created_at
                for i in interactions
                if i.original_message is not None and i.original_message.edits
            ]
            return {
                "runs": runs,
                "sequential_commands_before": len(single),
                "token_ttl_seconds": ttl,
                "ack_deadline_missed": sum(i.deadline_missed for i in interactions),
                "defer": _percentiles([i.ack_latency or 0.0 for i in interactions]),
                **({"defer_one_at_a_time": _percentiles(single)} if single else {}),
                "first_progress_edit": _percentiles(first_edit),
                "all_briefings_delivered_seconds": round(all_delivered, 2),
                "runs_briefed": len(run_ids),
                "delivered_exactly_once": sum(c == 1 for c in counts),
                "delivered_more_than_once": sum(c > 1 for c in counts),
                "routes": routes,
                "refused_tokens_401_50027": sum(
                    1 for r in emulator.requests if r.status == 401 and r.code == 50027
                ),
            }
    finally:
        await world.stop()
        await emulator.stop()
        server.stop_thread()


async def main() -> None:
    """Run both rounds and print one JSON object."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--ttl", type=float, default=1.0, help="token lifetime in the expiry round (s)")
    parser.add_argument("--delay", type=float, default=0.3, help="scripted model delay per request (s)")
    args = parser.parse_args()
    setup_logging("ERROR", False)
    with tempfile.TemporaryDirectory() as tmp:
        concurrent = await _round(args.runs, 900.0, 0.0, False, Path(tmp) / "concurrent")
        expiry = await _round(args.runs, args.ttl, args.delay, True, Path(tmp) / "expiry")
    print(json.dumps({"concurrent_commands": concurrent, "token_expiry": expiry}, indent=2))


if __name__ == "__main__":
    asyncio.run(main())
