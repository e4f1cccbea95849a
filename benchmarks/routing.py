"""Benchmark: learning router, routing cost, response and transcript caches, repeated CLI runs.

Prints one JSON object:
- `learning`: two scripted models with equal priors, `steady` (fast, never fails) and `flaky`
  (slower, 30 % HTTP 500); fact-check tasks over several runs, each run in a restarted router
  that reloads what was learnt from the store; the share of calls routed to `steady` per run.
- `cost`: the whole flow at depth standard with a free local model and a priced hosted model in
  the catalogue, against always using the hosted (largest) one; estimated dollars of each.
- `fresh_repeat`: the whole flow, then again with `fresh` (every stage recomputed) in a new
  set of services: model requests (by answer schema) and seconds of each, and the transcript
  cache's verdict. Fact checks of the repeat miss by design: their evidence now includes the
  first run's summary and verdicts, so their prompts differ.
  The response cache is Redis when REDIS_URL (or --redis) is reachable, else in-process.
- `cli_repeat`: whole `autointel analyze` invocations of samples/facts.ogg on the default
  (embedded) model: the first run and repeats, and the ratio (skip with --no-cli).

    .venv/bin/python benchmarks/routing.py [--runs 8] [--tasks 6] [--redis URL] [--no-cli]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]  # the repo first: tests/ mirrors its package names

from fakes.openai_server import ScriptedOpenAI  # noqa: E402
from fakes.scripted_flow import REFERENCE, REPLIES  # noqa: E402
from pipelines.models import Depth  # noqa: E402
from settings import Settings, load_settings  # noqa: E402

SAMPLE = ROOT / "samples" / "facts.ogg"
JFK = ROOT / "tests" / "data" / "jfk.flac"


def _settings(tmp: Path, models: list[dict[str, Any]], base: str, **sections: Any) -> Settings:
    return load_settings(
        pipeline={"data_dir": tmp},
        llm={"embeddings_base_url": base, "embeddings_model": "scripted"},
        router={"models": models, "seed": 11, **sections.pop("router", {})},
        **sections,
    )


async def learning(runs: int, tasks: int) -> dict[str, Any]:
    """Share of calls to the better model per run, as the router learns across restarts."""
    from crews.builder import run_task, task_text
    from crews.schemas import VerdictOutput
    from pipelines.stage import Resources
    from pipelines.store import RunStore
    from routing.budget import Budget, TaskFailed
    from routing.router import Router
    from routing.stats import StatsStore

    steady = ScriptedOpenAI(replies=dict(REPLIES), delay=0.05)
    flaky = ScriptedOpenAI(replies=dict(REPLIES), delay=0.25, failure_rate=0.3)
    bases = [await steady.start(), await flaky.start()]
    shares, failed = [], 0
    try:
        with tempfile.TemporaryDirectory() as tmp:
            models = [
                {"name": name, "base_url": base, "model": name, "latency_seconds": 1.0, "quality": 0.7}
                for name, base in zip(("steady", "flaky"), bases, strict=True)
            ]
            settings = _settings(Path(tmp), models, bases[0], router={"exploration": 0.05})
            store = await RunStore.open(settings.database_url)
            try:
                for run in range(runs):
                    router = Router(settings, StatsStore(store.engine))  # a restarted process
                    await router.refresh(force=True)
                    resources = Resources(settings, router=router)
                    chosen = []
                    for task in range(tasks):
                        claim = f"Run {run} claim {task}: the tower is 330 metres tall."
                        prompt = task_text("fact_check", claim=claim, evidence="[1] It is 330 m tall.")
                        try:
                            answer = await run_task(
                                "fact_check", resources, prompt, VerdictOutput, Budget(10**6)
                            )
                            chosen.append(answer.model)
                        except TaskFailed:
                            failed += 1
                    shares.append(round(chosen.count("steady") / max(len(chosen), 1), 3))
            finally:
                await store.close()
    finally:
        await steady.stop()
        await flaky.stop()
    return {
        "models": {"steady": "0.05 s, 0 % errors", "flaky": "0.25 s, 30 % HTTP 500"},
        "runs": runs,
        "tasks_per_run": tasks,
        "share_to_steady_per_run": shares,
        "share_to_steady_last_half": round(statistics.mean(shares[runs // 2 :]), 3),
        "tasks_failed_after_fallback": failed,
    }


async def _flow(settings: Settings, fresh: bool) -> tuple[Any, float]:
    from memory.vector import REFERENCE_NAMESPACE, MemoryItem
    from pipelines.runner import execute, submit
    from pipelines.service import open_services
    from pipelines.sources import normalise_source

    started = time.perf_counter()
    async with open_services(settings) as (store, resources):
        items = [MemoryItem(text=t, kind="reference", source=s) for t, s in REFERENCE]
        await resources.memory.upsert(REFERENCE_NAMESPACE, items)
        run = await submit(store, normalise_source(str(JFK)), Depth.STANDARD, fresh=fresh)
        result = await execute(store, resources, run.id)
    return result, time.perf_counter() - started


def _spent(result: Any) -> float:
    return float(result.outputs["analyze"].cost_usd + result.outputs["verify"].cost_usd)


async def cost() -> dict[str, Any]:
    """Estimated dollars of one standard run: routed catalogue vs always the hosted model."""
    local = ScriptedOpenAI(replies=dict(REPLIES), delay=0.05)
    hosted = ScriptedOpenAI(replies=dict(REPLIES), delay=0.05)
    bases = [await local.start(), await hosted.start()]
    hosted_spec = {
        "name": "hosted",
        "base_url": bases[1],
        "model": "large",
        "cost_per_1k_input": 0.0025,
        "cost_per_1k_output": 0.01,
        "latency_seconds": 3.0,
        "quality": 0.9,
        "context_tokens": 128000,
    }
    local_spec = {
        "name": "local",
        "base_url": bases[0],
        "model": "small",
        "latency_seconds": 1.0,
        "quality": 0.7,
    }
    figures: dict[str, Any] = {}
    try:
        with tempfile.TemporaryDirectory() as tmp:
            for label, models in (("routed", [local_spec, hosted_spec]), ("always_largest", [hosted_spec])):
                settings = _settings(Path(tmp) / label, models, bases[0], cache={"enabled": False})
                result, _ = await _flow(settings, fresh=True)
                figures[label] = {
                    "cost_usd": round(_spent(result), 5),
                    "analysis_models": result.outputs["analyze"].model,
                    "fact_check_models": result.outputs["verify"].model,
                }
    finally:
        await local.stop()
        await hosted.stop()
    largest = figures["always_largest"]["cost_usd"]
    figures["saved_fraction"] = round(1 - figures["routed"]["cost_usd"] / largest, 3) if largest else None
    return figures


async def fresh_repeat(redis_url: str | None) -> dict[str, Any]:
    """The flow, then a fresh re-run in new services: model requests and seconds of each."""
    server = ScriptedOpenAI(replies=dict(REPLIES), delay=0.2)
    base = await server.start()
    figures: dict[str, Any] = {"response_cache": "redis" if redis_url else "in-process (one process)"}
    try:
        with tempfile.TemporaryDirectory() as tmp:
            model = [{"name": "scripted", "base_url": base, "model": "scripted"}]
            extra = {"redis": {"url": redis_url}} if redis_url else {}
            settings = _settings(Path(tmp), model, base, **extra)
            for label, fresh in (("first", False), ("fresh_repeat", True)):
                before = len(server.schema_names())
                result, seconds = await _flow(settings, fresh)
                asked = [name for name in server.schema_names()[before:] if name]
                figures[label] = {
                    "seconds": round(seconds, 2),
                    "model_requests": len(asked),
                    "by_schema": {name: asked.count(name) for name in sorted(set(asked))},
                    "transcript_cached": result.outputs["transcribe"].cached,
                }
    finally:
        await server.stop()
    first, repeat = figures["first"]["model_requests"], figures["fresh_repeat"]["model_requests"]
    figures["response_hit_rate"] = round(1 - repeat / first, 3) if first else None
    figures["seconds_saved"] = round(figures["first"]["seconds"] - figures["fresh_repeat"]["seconds"], 2)
    return figures


def cli_repeat(repeats: int = 3) -> dict[str, Any]:
    """Whole `autointel analyze` invocations: the first run and cached repeats."""
    cli = ROOT / ".venv" / "bin" / "autointel"
    with tempfile.TemporaryDirectory() as tmp:
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("LLM_", "REDIS_", "DATABASE_", "ROUTER_"))
        }
        env["AUTOINTEL_DATA_DIR"] = str(Path(tmp) / "data")
        command = [str(cli), "analyze", str(SAMPLE), "--depth", "standard"]
        times = []
        for _ in range(1 + repeats):
            started = time.perf_counter()
            subprocess.run(command, cwd=tmp, env=env, check=True, capture_output=True)
            times.append(time.perf_counter() - started)
    first, repeat = times[0], statistics.median(times[1:])
    return {
        "model": "embedded",
        "depth": "standard",
        "first_seconds": round(first, 2),
        "repeat_seconds": [round(t, 2) for t in times[1:]],
        "speedup": round(first / repeat, 1),
    }


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=8)
    parser.add_argument("--tasks", type=int, default=6)
    parser.add_argument("--redis", default=os.environ.get("REDIS_URL"), help="Redis for the response cache")
    parser.add_argument("--no-cli", action="store_true", help="skip the whole-CLI repeat measurement")
    args = parser.parse_args()
    import crews.runtime  # noqa: F401  (import CrewAI before timing: it takes seconds)

    report: dict[str, Any] = {
        "learning": await learning(args.runs, args.tasks),
        "cost": await cost(),
        "fresh_repeat": await fresh_repeat(args.redis),
    }
    if not args.no_cli:
        report["cli_repeat"] = await asyncio.to_thread(cli_repeat)
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    asyncio.run(main())
