"""`autointel models`: the model catalogue with what the router has learnt about each model."""

from __future__ import annotations

import json
import sys
from typing import Any

from rich.console import Console
from rich.table import Table

from observability.checks import hide_password
from pipelines.errors import PipelineError, describe
from pipelines.store import RunStore
from routing.catalog import catalogue, model_id
from routing.stats import ArmStats, StatsStore
from settings import ModelSpec, Settings


def _arm_json(arm: ArmStats) -> dict[str, Any]:
    return {
        "calls": arm.calls,
        "success_rate": arm.success_rate,
        "mean_latency_seconds": arm.mean_latency,
        "repair_rate": arm.repair_rate,
        "mean_quality": arm.quality_sum / arm.quality_n if arm.quality_n else None,
        "cost_usd": round(arm.cost_usd, 6),
    }


def _spec_json(spec: ModelSpec) -> dict[str, Any]:
    return {
        "name": spec.name,
        "model": model_id(spec),
        "endpoint": hide_password(spec.base_url) if spec.base_url else "embedded",
        "structured_output": spec.structured_output,
        "context_tokens": spec.context_tokens,
        "cost_per_1k_input": spec.cost_per_1k_input,
        "cost_per_1k_output": spec.cost_per_1k_output,
        "capabilities": spec.capabilities,
        "prior_latency_seconds": spec.latency_seconds,
        "prior_quality": spec.quality,
        "concurrency": spec.concurrency,
    }


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{value:.0%}"


async def list_models(settings: Settings, as_json: bool, by_task: bool) -> int:
    """Print the catalogue and each model's live statistics; return the exit code."""
    try:
        async with await RunStore.open(settings.database_url) as store:
            learnt = await StatsStore(store.engine).load()
    except PipelineError as exc:
        print(f"autointel: {describe(exc)}", file=sys.stderr)
        return 1
    specs = catalogue(settings)
    totals: dict[str, ArmStats] = {spec.name: ArmStats() for spec in specs}
    tasks: dict[str, dict[str, ArmStats]] = {spec.name: {} for spec in specs}
    for (task, name), arm in sorted(learnt.items()):
        if name in totals:
            totals[name].add(arm)
            tasks[name][task] = arm
    if as_json:
        report = [
            {
                **_spec_json(spec),
                "stats": _arm_json(totals[spec.name]),
                "tasks": {task: _arm_json(arm) for task, arm in tasks[spec.name].items()},
            }
            for spec in specs
        ]
        print(json.dumps({"models": report}, indent=2))
        return 0
    console = Console(highlight=False, width=None if sys.stdout.isatty() else 200)
    table = Table(
        "model",
        "endpoint",
        "context",
        "$/1k in/out",
        "prior L/q",
        "calls",
        "ok",
        "latency",
        "repair",
        "spent",
    )
    for spec in specs:
        rows = [("", totals[spec.name])] + (list(tasks[spec.name].items()) if by_task else [])
        for task, arm in rows:
            latency = arm.mean_latency
            first = not task
            table.add_row(
                f"{spec.name} ({model_id(spec)})" if first else f"  {task}",
                (hide_password(spec.base_url) if spec.base_url else "embedded") if first else "",
                str(spec.context_tokens) if first else "",
                f"{spec.cost_per_1k_input:g}/{spec.cost_per_1k_output:g}" if first else "",
                f"{spec.latency_seconds:g}s/{spec.quality:g}" if first else "",
                str(arm.calls),
                _percent(arm.success_rate),
                "-" if latency is None else f"{latency:.2f}s",
                _percent(arm.repair_rate),
                f"${arm.cost_usd:.4f}",
            )
    console.print(table)
    return 0
