"""`autointel analyze SOURCE`: run the pipeline with live progress, then print the result.

A source already analysed at this depth (same bytes or URL, same pipeline version) is answered
from the run store without importing the pipeline's stages, models or memory, so a repeat
finishes in about a second; `--fresh` runs it again (model answers and transcripts still come
from their caches).
"""

from __future__ import annotations

import asyncio
import json
import logging
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from rich.console import Console
from rich.markdown import Markdown

from pipelines.errors import describe
from pipelines.models import PIPELINE_VERSION, STAGE_OUTPUTS, Briefing, Depth, RunRequest, Source, Transcript
from pipelines.records import RunResult
from pipelines.sources import normalise_source
from pipelines.store import RunStore
from settings import Settings

if TYPE_CHECKING:
    from cli.progress import ProgressDisplay

log = logging.getLogger(__name__)
PREVIEW_CHARS = 600


def _fmt_time(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    return f"{minutes:02d}:{secs:02d}"


def render_result(console: Console, result: RunResult) -> None:
    """Print the run id, stage timings and a transcript preview."""
    console.print(f"run {result.run.id}  ({result.run.depth.value}, {result.run.status})", highlight=False)
    for stage in result.stages:
        origin = f"  reused from {stage.reused_from[:12]}" if stage.reused_from else ""
        console.print(f"  {stage.stage:<12} {stage.status:<10} {stage.duration_seconds or 0:7.2f}s{origin}")
    transcript = result.outputs.get("transcribe")
    if isinstance(transcript, Transcript):
        console.print(
            f"transcript: {transcript.origin}, {transcript.language}, "
            f"{transcript.duration_seconds:.1f}s, {len(transcript.segments)} segments",
            highlight=False,
        )
        shown = 0
        for segment in transcript.segments:
            if shown >= PREVIEW_CHARS:
                console.print("  …")
                break
            console.print(f"  [{_fmt_time(segment.start)}] {segment.text}", markup=False, highlight=False)
            shown += len(segment.text)


def result_json(result: RunResult) -> dict[str, object]:
    """The run, its stages and outputs as plain JSON data."""
    return {
        "run": {
            "id": result.run.id,
            "source": result.run.source.model_dump(),
            "depth": result.run.depth.value,
            "status": result.run.status,
            "created_at": result.run.created_at.isoformat(),
        },
        "stages": [
            {
                "stage": s.stage,
                "status": s.status,
                "seconds": s.duration_seconds,
                "reused_from": s.reused_from,
            }
            for s in result.stages
        ],
        "outputs": {name: out.model_dump(mode="json") for name, out in result.outputs.items()},
    }


async def stored_result(settings: Settings, source: Source, depth: Depth) -> RunResult | None:
    """The newest finished CLI run of this source and depth, read from the store alone."""
    async with await RunStore.open(settings.database_url) as store:
        run = await store.find_finished(source.key, depth, PIPELINE_VERSION, namespace="cli")
        if run is None:
            return None
        records = await store.stages(run.id)
    outputs = {
        "request": RunRequest(source=run.source, depth=run.depth, namespace=run.namespace),
        **{
            r.stage: STAGE_OUTPUTS[r.stage].model_validate_json(r.output_json)
            for r in records
            if r.status == "succeeded" and r.output_json and r.stage in STAGE_OUTPUTS
        },
    }
    return RunResult(run=run, stages=records, outputs=outputs) if "brief" in outputs else None


async def _enqueue_and_follow(
    settings: Settings, store: RunStore, run_id: str, display: ProgressDisplay
) -> RunResult:
    from pipelines.queue import ArqQueue
    from pipelines.runner import follow

    assert settings.redis.url is not None
    queue = await ArqQueue.connect(settings.redis.url.get_secret_value(), settings.redis.queue_name)
    try:
        position = await queue.enqueue(run_id)
        print(f"queued for a worker (position {position})", file=sys.stderr)
        return await follow(store, run_id, on_progress=display)
    finally:
        await queue.close()


async def _run(settings: Settings, console: Console, source: Source, depth: Depth, fresh: bool) -> RunResult:
    """Execute the pipeline here, or enqueue it for a worker and follow it."""
    from cli.progress import ProgressDisplay
    from pipelines.runner import execute, submit
    from pipelines.service import open_services

    distributed = settings.redis.url is not None
    async with open_services(settings, memory=not distributed) as (store, resources):
        run = await submit(store, source, depth, fresh=fresh)
        console.print(f"run {run.id} started: {source.location}", highlight=False, markup=False)
        with ProgressDisplay(console) as display:
            if distributed:  # a worker executes it; follow its progress in the store
                return await _enqueue_and_follow(settings, store, run.id, display)
            return await execute(store, resources, run.id, on_progress=display)


async def analyze(
    settings: Settings,
    source_text: str,
    depth: Depth,
    fresh: bool,
    json_path: str | None,
    markdown_path: str | None,
) -> int:
    """Run the pipeline on one source; return the exit code."""
    console = Console(highlight=False)
    try:
        source = await asyncio.to_thread(normalise_source, source_text)
        result = None if fresh else await stored_result(settings, source, depth)
        if result is not None:
            finished = result.run.finished_at or result.run.created_at
            note = f"answered from run {result.run.id} (finished {finished:%Y-%m-%d %H:%M:%S} UTC)"
            console.print(f"{note}; --fresh runs it again", highlight=False, markup=False)
        else:
            result = await _run(settings, console, source, depth, fresh)
    except Exception as exc:  # the CLI boundary: every failure becomes one line
        log.debug("analyze failed", exc_info=True)
        print(f"autointel: {describe(exc)}", file=sys.stderr)
        return 1
    render_result(console, result)
    briefing = result.outputs.get("brief")
    if isinstance(briefing, Briefing):
        console.print(Markdown(briefing.markdown))
        if markdown_path:
            await asyncio.to_thread(Path(markdown_path).write_text, briefing.markdown, encoding="utf-8")
    if json_path:
        text = json.dumps(result_json(result), indent=2)
        await asyncio.to_thread(Path(json_path).write_text, text, encoding="utf-8")
    return 0
