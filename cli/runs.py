"""`autointel runs` (recent runs with the status of each stage), `runs show ID` (one run's
timeline), `runs cancel ID`, `db upgrade`."""

from __future__ import annotations

import json
import sys
from typing import Any

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


def _stage_details(output_json: str | None) -> tuple[str, str]:
    """(model, tokens) recorded in a stage's output, when it has them."""
    if not output_json:
        return "", ""
    data = json.loads(output_json)
    model = str(data.get("model") or "") if isinstance(data, dict) else ""
    tokens = data.get("tokens_spent") if isinstance(data, dict) else None
    return model, str(tokens) if tokens else ""


def gates_line(analysis: dict[str, Any]) -> str:
    """What the quality gates did in a run, from its stored analysis, as one line."""
    parts = [
        f"{task}: {c.get('kept', 0)} kept, {c.get('ungrounded', 0)} ungrounded, "
        f"{c.get('duplicates', 0)} duplicate(s), {c.get('placeholders', 0)} placeholder answer(s)"
        for task, c in (analysis.get("gates") or {}).items()
    ]
    if analysis.get("extractive"):
        parts.append("extractive: " + ", ".join(analysis["extractive"]))
    seconds = analysis.get("gate_seconds")
    timing = f" ({seconds:.2f} s)" if isinstance(seconds, int | float) else ""
    return f"gates{timing}  " + ("; ".join(parts) if parts else "nothing to check")


def source_lines(verification: dict[str, Any]) -> list[str]:
    """One line per evidence search or page fetch of a run (its provenance), then unused sources."""
    lines = []
    for a in verification.get("sources") or []:
        what = f"“{a['query']}”" if a.get("query") else (a.get("url") or "")
        detail = f" — {a['detail']}" if a.get("detail") else ""
        took = f"{a.get('seconds', 0):.2f}s"
        lines.append(f"  claim {a['claim_id']}  {a['provider']:<9} {a['status']:<7} {took}  {what}{detail}")
    return (["evidence", *lines] if lines else []) + [f"  {note}" for note in verification.get("notes") or []]


async def show_run(settings: Settings, run_id: str) -> int:
    """Print one run's timeline: stages (model, tokens, time, attempts, errors) and deliveries."""
    from pipelines.deliveries import DeliveryStore

    try:
        async with await RunStore.open(settings.database_url) as store:
            run = await store.get_run(run_id)
            stages = await store.stages(run.id)
            deliveries = await DeliveryStore(store.engine).for_run(run.id)
    except PipelineError as exc:
        print(f"autointel: {describe(exc)}", file=sys.stderr)
        return 1
    console = Console(highlight=False, width=None if sys.stdout.isatty() else 240)
    console.print(f"run {run.id}  {run.depth.value}  {run.status}", markup=False)
    console.print(f"source   {run.source.location}", markup=False)
    stamps = [("created", run.created_at), ("started", run.started_at), ("finished", run.finished_at)]
    console.print("  ".join(f"{name} {value:%Y-%m-%d %H:%M:%S}" for name, value in stamps if value))
    if run.error_code:
        console.print(f"error    {run.error_code}: {run.error_message}", markup=False)
    table = Table("stage", "status", "started (UTC)", "seconds", "attempts", "model", "tokens", "note")
    for stage in stages:
        model, tokens = _stage_details(stage.output_json)
        note = f"reused from {stage.reused_from[:12]}" if stage.reused_from else (stage.error_message or "")
        table.add_row(
            stage.stage,
            f"{SYMBOLS.get(stage.status, '?')} {stage.status}",
            f"{stage.started_at:%H:%M:%S}" if stage.started_at else "",
            f"{stage.duration_seconds:.2f}" if stage.duration_seconds is not None else "",
            str(stage.attempts),
            model,
            tokens,
            note,
        )
    console.print(table)
    analysis = next((s.output_json for s in stages if s.stage == "analyze" and s.output_json), None)
    if analysis:
        console.print(gates_line(json.loads(analysis)), markup=False)
    verification = next((s.output_json for s in stages if s.stage == "verify" and s.output_json), None)
    for line in source_lines(json.loads(verification)) if verification else []:
        console.print(line, markup=False)
    for record in deliveries:
        route = f"via {record.route}" if record.route else "not posted"
        console.print(
            f"delivery {record.destination}: {record.state}, {route}, {record.parts_sent} part(s), "
            f"{record.attempts} attempt(s); progress message via {record.status_route or '-'}"
            + (f"; last error: {record.last_error}" if record.last_error else ""),
            markup=False,
        )
    return 0
