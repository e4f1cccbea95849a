"""Benchmark: analysis + verification wall time with the parallel flags on vs off.

Runs the whole flow at depth `deep` (four analysis tasks, three claims to check) against the
scripted OpenAI-compatible server from tests/fakes configured with a fixed per-request delay
and LLM_CONCURRENCY slots, once with every ENABLE_PARALLEL_* flag on and once with all off,
each in a fresh data dir. Prints JSON with the stage times and the speed-up.

    .venv/bin/python benchmarks/crew_parallel.py [--delay 0.5] [--slots 4]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]  # the repo first: tests/ mirrors its package names

from fakes.openai_server import ScriptedOpenAI  # noqa: E402
from fakes.scripted_flow import REPLIES, run_flow  # noqa: E402
from observability.logs import setup_logging  # noqa: E402
from pipelines.models import Depth  # noqa: E402
from settings import load_settings  # noqa: E402


async def measure(delay: float, slots: int) -> dict[str, object]:
    """Both runs against one scripted server; stage seconds and the ratio."""
    import crews.runtime  # noqa: F401  (import CrewAI before timing: it takes seconds)

    server = ScriptedOpenAI(replies=dict(REPLIES), delay=delay)
    base = await server.start()
    figures: dict[str, object] = {"delay_seconds": delay, "slots": slots, "depth": "deep"}
    try:
        with tempfile.TemporaryDirectory() as tmp:
            for label, flag in (("flags_on", True), ("flags_off", False)):
                server.peak_active = 0
                settings = load_settings(
                    pipeline={"data_dir": Path(tmp) / label},
                    llm={
                        "base_url": base,
                        "model": "scripted",
                        "embeddings_base_url": base,
                        "embeddings_model": "scripted",
                        "concurrency": slots,
                    },
                    flags={
                        "parallel_analysis": flag,
                        "parallel_fact_checking": flag,
                        "parallel_memory_ops": flag,
                    },
                )
                result = await run_flow(settings, Depth.DEEP)
                times = {s.stage: round(s.duration_seconds or 0.0, 3) for s in result.stages}
                figures[label] = {
                    "stages": times,
                    "analysis_plus_verification_seconds": round(times["analyze"] + times["verify"], 3),
                    "peak_concurrent_requests": server.peak_active,
                }
    finally:
        await server.stop()
    on = figures["flags_on"]["analysis_plus_verification_seconds"]  # type: ignore[index]
    off = figures["flags_off"]["analysis_plus_verification_seconds"]  # type: ignore[index]
    figures["speedup"] = round(off / on, 2)
    return figures


def main() -> None:
    """Parse arguments, run, print JSON."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--delay", type=float, default=1.0)
    parser.add_argument("--slots", type=int, default=4)
    args = parser.parse_args()
    setup_logging("ERROR")
    print(json.dumps(asyncio.run(measure(args.delay, args.slots)), indent=2))


if __name__ == "__main__":
    main()
