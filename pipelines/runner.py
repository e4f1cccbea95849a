"""The runner: loops over a run's stages, persisting each output before the next starts.

For every stage it (1) skips it when this run already stored a valid result (resume),
(2) reuses a stored result from an earlier run of the same source unless the run is
`fresh`, or (3) runs it, timing it and recording success or the failure's code and message.
Once a stage has run, every later stage runs too (their stored inputs are stale).
Progress events go to an optional callback (the CLI's display, the bot's status message).
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from typing import Any, Literal

from pydantic import BaseModel, ValidationError

from observability.logs import log_context
from observability.metrics import (
    QUEUE_WAIT_SECONDS,
    RUN_SECONDS,
    RUNS_FINISHED,
    RUNS_STARTED,
    STAGE_SECONDS,
)
from pipelines.errors import (
    DISK_FULL_MESSAGE,
    DiskFullError,
    InternalStageError,
    PipelineError,
    RunCancelledError,
    RunFailedError,
    out_of_space,
)
from pipelines.flow import FLOWS, PIPELINE_VERSION, Flows
from pipelines.models import Depth, RunRequest, Source
from pipelines.records import RunResult
from pipelines.stage import Resources, Stage, StageDeps
from pipelines.store import RunRecord, RunStore, StageRecord
from pipelines.tables import utcnow

log = logging.getLogger(__name__)

EventStatus = Literal["started", "succeeded", "reused", "skipped", "failed"]


@dataclass(frozen=True)
class ProgressEvent:
    """A stage changed state."""

    run_id: str
    stage: str
    status: EventStatus
    position: int
    total: int
    seconds: float = 0.0
    message: str | None = None


ProgressCallback = Callable[[ProgressEvent], Awaitable[None] | None]
_EVENT_OF_STATUS: dict[str, EventStatus] = {
    "running": "started",
    "succeeded": "succeeded",
    "failed": "failed",
}


async def submit(
    store: RunStore,
    source: Source,
    depth: Depth,
    *,
    fresh: bool = False,
    requester: str | None = None,
    namespace: str = "cli",
) -> RunRecord:
    """Record a new run for a normalised source; it starts when `execute` is called for it."""
    return await store.create_run(
        source, depth, PIPELINE_VERSION, fresh=fresh, requester=requester, namespace=namespace
    )


def _load(stage: Stage[Any, Any], record: StageRecord | None) -> BaseModel | None:
    """A stored output of `stage` that is still usable, or None."""
    if record is None or record.status != "succeeded" or record.output_json is None:
        return None
    try:
        output: BaseModel = stage.output.model_validate_json(record.output_json)
    except ValidationError:
        log.warning("stored output of stage %s in run %s no longer parses", stage.name, record.run_id)
        return None
    return output if stage.still_valid(output) else None


async def _notify(callback: ProgressCallback | None, event: ProgressEvent) -> None:
    if callback is None:
        return
    result = callback(event)
    if inspect.isawaitable(result):
        await result


async def execute(
    store: RunStore,
    resources: Resources,
    run_id: str,
    *,
    on_progress: ProgressCallback | None = None,
    flows: Flows = FLOWS,
) -> RunResult:
    """Run (or resume) a run to the end; raise the failing stage's `PipelineError` on failure."""
    run = await store.get_run(run_id)
    if run.status == "cancelled":
        raise RunCancelledError(f"run {run.id} was cancelled")
    RUNS_STARTED.labels(depth=run.depth.value).inc()
    if run.started_at is None:
        QUEUE_WAIT_SECONDS.observe(max(0.0, (utcnow() - run.created_at).total_seconds()))
    started = time.perf_counter()
    with log_context(run_id=run.id, guild=run.namespace):
        try:
            return await _execute(store, resources, run, on_progress, flows)
        finally:
            status = (await store.get_run(run.id)).status
            outcome = status if status in ("succeeded", "failed", "cancelled") else "interrupted"
            RUNS_FINISHED.labels(depth=run.depth.value, outcome=outcome).inc()
            if outcome == "succeeded":
                RUN_SECONDS.labels(depth=run.depth.value).observe(time.perf_counter() - started)


async def _execute(
    store: RunStore,
    resources: Resources,
    run: RunRecord,
    on_progress: ProgressCallback | None,
    flows: Flows,
) -> RunResult:
    stages = flows[run.depth]
    stored = {record.stage: record for record in await store.stages(run.id)}
    outputs: dict[str, BaseModel] = {
        "request": RunRequest(source=run.source, depth=run.depth, namespace=run.namespace)
    }
    workdir = resources.settings.pipeline.data_dir / "runs" / run.id
    deps = StageDeps(resources=resources, run_id=run.id, workdir=workdir)
    await store.set_run_status(run.id, "running")
    recomputing = False  # once a stage runs, every later stage runs too: its inputs changed
    previous: tuple[str, str] | None = None  # (stage, origin run) of the last stage's result
    for position, stage in enumerate(stages):
        if position and (await store.get_run(run.id)).status == "cancelled":  # cancelled elsewhere
            raise RunCancelledError(f"run {run.id} was cancelled")
        event = ProgressEvent(run.id, stage.name, "started", position, len(stages))
        record = stored.get(stage.name)
        done = None if recomputing else _load(stage, record)
        if done is not None and record is not None:
            outputs[stage.name] = done
            previous = (stage.name, record.reused_from or run.id)
            await _notify(on_progress, replace(event, status="skipped"))
            continue
        if not run.fresh and not recomputing:
            earlier = await store.find_reusable(
                run.source.key,
                run.pipeline_version,
                stage.name,
                depth=run.depth if stage.depth_sensitive else None,
                namespace=run.namespace if stage.tenant_sensitive else None,
                exclude_run=run.id,
                after=previous,
            )
            reused = _load(stage, earlier)
            if earlier is not None and reused is not None:
                origin = earlier.reused_from or earlier.run_id
                previous = (stage.name, origin)
                await store.stage_succeeded(
                    run.id, stage.name, position, earlier.output_json or "", 0.0, reused_from=origin
                )
                outputs[stage.name] = reused
                STAGE_SECONDS.labels(stage=stage.name, outcome="reused").observe(0.0)
                await _notify(on_progress, replace(event, status="reused", message=origin))
                continue
        recomputing = True
        with log_context(stage=stage.name):
            outputs[stage.name] = await _run_stage(store, deps, stage, position, outputs, on_progress, event)
    await store.set_run_status(run.id, "succeeded")
    return RunResult(run=await store.get_run(run.id), stages=await store.stages(run.id), outputs=outputs)


async def _run_stage(
    store: RunStore,
    deps: StageDeps,
    stage: Stage[Any, Any],
    position: int,
    outputs: dict[str, BaseModel],
    on_progress: ProgressCallback | None,
    event: ProgressEvent,
) -> BaseModel:
    """Run one stage, persisting its output or its failure."""
    available = {name: outputs[name] for name in stage.inputs.model_fields if name in outputs}
    inputs = stage.inputs.model_validate(available)
    await store.stage_started(deps.run_id, stage.name, position)
    await _notify(on_progress, event)
    started = time.perf_counter()
    try:
        output: BaseModel = await stage.run(deps, inputs)
    except (Exception, asyncio.CancelledError) as error:
        elapsed = time.perf_counter() - started
        exc: BaseException = error
        if isinstance(error, Exception) and out_of_space(error):  # whatever wrote it: one clear error
            log.error("stage %s of run %s: the disk is full: %s", stage.name, deps.run_id, error)
            exc = DiskFullError(DISK_FULL_MESSAGE)
        if isinstance(exc, asyncio.CancelledError):
            # A user's cancel marks the run first; any other cancellation is a shutdown: resume later.
            if (await store.get_run(deps.run_id)).status == "cancelled":
                code, message, status = "cancelled", "the run was cancelled", "cancelled"
            else:
                code, message, status = "interrupted", "interrupted by a shutdown; it resumes", "interrupted"
        elif isinstance(exc, PipelineError):
            code, message, status = exc.code, exc.message, "failed"
        else:
            log.exception("stage %s of run %s crashed", stage.name, deps.run_id)
            code, message, status = "internal_error", f"{type(exc).__name__}: {exc}", "failed"
        STAGE_SECONDS.labels(stage=stage.name, outcome="failed").observe(elapsed)
        await store.stage_failed(deps.run_id, stage.name, code, message, elapsed)
        await store.set_run_status(deps.run_id, status, error_code=code, error_message=message)
        await _notify(on_progress, replace(event, status="failed", seconds=elapsed, message=message))
        if exc is not error:
            raise exc from error
        if isinstance(exc, PipelineError | asyncio.CancelledError):
            raise
        raise InternalStageError(f"internal error in stage {stage.name}: {type(exc).__name__}") from exc
    elapsed = time.perf_counter() - started
    STAGE_SECONDS.labels(stage=stage.name, outcome="succeeded").observe(elapsed)
    await store.stage_succeeded(deps.run_id, stage.name, position, output.model_dump_json(), elapsed)
    await _notify(on_progress, replace(event, status="succeeded", seconds=elapsed))
    return output


async def follow(
    store: RunStore,
    run_id: str,
    *,
    on_progress: ProgressCallback | None = None,
    flows: Flows = FLOWS,
    poll_seconds: float = 0.3,
) -> RunResult:
    """Follow a run executed by another process through the store until it ends.

    Emits the same progress events as `execute` (from stage records as they change) and
    returns the same `RunResult`; a failed or cancelled run raises `RunFailedError` with the
    stored code and message.
    """
    shown: dict[str, str] = {}
    while True:
        run = await store.get_run(run_id)
        records = {record.stage: record for record in await store.stages(run_id)}
        stages = flows[run.depth]
        for position, stage in enumerate(stages):
            record = records.get(stage.name)
            if record is None or shown.get(stage.name) == record.status:
                continue
            shown[stage.name] = record.status
            status: EventStatus | None = {
                "running": "started",
                "succeeded": "succeeded",
                "failed": "failed",
            }.get(
                record.status  # type: ignore[assignment]
            )
            if status is None:
                continue
            if status == "succeeded" and record.reused_from:
                status = "reused"
            message = record.error_message if status == "failed" else record.reused_from
            event = ProgressEvent(
                run_id, stage.name, status, position, len(stages), record.duration_seconds or 0.0, message
            )
            await _notify(on_progress, event)
        if run.status == "succeeded":
            outputs: dict[str, BaseModel] = {
                "request": RunRequest(source=run.source, depth=run.depth, namespace=run.namespace)
            }
            for stage in stages:
                loaded = _load(stage, records.get(stage.name))
                if loaded is not None:
                    outputs[stage.name] = loaded
            return RunResult(run=run, stages=list(records.values()), outputs=outputs)
        if run.status in ("failed", "cancelled"):
            raise RunFailedError(run.error_message or run.status, run.error_code or run.status)
        await asyncio.sleep(poll_seconds)
