"""`autointel runs` (recent runs with the status of each stage), `runs cancel ID`, `db upgrade`."""

from __future__ import annotations

import sys

from rich.console import Console
from rich.table import Table

from cli.progress import SYMBOLS
from pipelines.errors import PipelineError, describe
from pipelines.queue import cancel_run as cancel_queued_run
from pipelines.queue import open_queue
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


async def _no_job(run_id: str) -> None:
    """The CLI never executes jobs for `runs cancel`: its local queue stays empty."""


async def cancel_run(settings: Settings, run_id: str) -> int:
    """Cancel a run in whichever process runs it; return the exit code."""
    try:
        async with (
            await RunStore.open(settings.database_url) as store,
            open_queue(settings, _no_job) as queue,
        ):
            run = await store.get_run(run_id)
            if not await cancel_queued_run(store, queue, run.id):
                print(f"autointel: run {run.id} has already finished ({run.status})", file=sys.stderr)
                return 1
    except PipelineError as exc:
        print(f"autointel: {describe(exc)}", file=sys.stderr)
        return 1
    print(f"cancelled run {run.id}")
    return 0


async def upgrade_database(settings: Settings) -> int:
    """Apply the migrations (opening the store does) and print the schema revision."""
    from sqlalchemy import text
    from sqlalchemy.engine import make_url

    try:
        async with await RunStore.open(settings.database_url) as store, store.engine.connect() as conn:
            revision = (await conn.execute(text("SELECT version_num FROM alembic_version"))).scalar_one()
    except PipelineError as exc:
        print(f"autointel: {describe(exc)}", file=sys.stderr)
        return 1
    where = make_url(settings.database_url).render_as_string(hide_password=True)
    print(f"database {where} is at schema revision {revision}")
    return 0
