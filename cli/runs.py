"""`autointel runs`: recent runs with the status of each stage."""

from __future__ import annotations

import sys

from rich.console import Console
from rich.table import Table

from cli.progress import SYMBOLS
from pipelines.errors import PipelineError, describe
from pipelines.store import RunStore
from settings import Settings


async def list_runs(settings: Settings, limit: int) -> int:
    """Print the newest runs; return the exit code."""
    try:
        async with await RunStore.open(settings.database_url) as store:
            runs = await store.list_runs(limit)
            stages = {run.id: await store.stages(run.id) for run in runs}
    except PipelineError as exc:
        print(f"autointel: {describe(exc)}", file=sys.stderr)
        return 1
    console = Console(highlight=False, width=None if sys.stdout.isatty() else 240)
    if not runs:
        console.print("no runs yet")
        return 0
    table = Table("run", "created (UTC)", "depth", "status", "stages", "source")
    for run in runs:
        marks = " ".join(f"{SYMBOLS.get(s.status, '?')}{s.stage}" for s in stages[run.id])
        status = run.status if not run.error_code else f"{run.status}: {run.error_code}"
        table.add_row(
            run.id[:12],
            run.created_at.strftime("%Y-%m-%d %H:%M:%S"),
            run.depth.value,
            status,
            marks,
            run.source.location,
        )
    console.print(table)
    return 0
