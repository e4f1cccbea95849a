"""`autointel analyze SOURCE`: run the pipeline with live progress, then print the result."""

from __future__ import annotations

import asyncio
import json
import logging
import sys
from pathlib import Path

from rich.console import Console
from rich.markdown import Markdown

from cli.progress import ProgressDisplay
from pipelines.errors import describe
from pipelines.models import Briefing, Depth, Transcript
from pipelines.queue import ArqQueue
from pipelines.runner import RunResult, execute, follow, submit
from pipelines.service import open_services
from pipelines.sources import normalise_source
from pipelines.store import RunStore
from settings import Settings

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


async def _enqueue_and_follow(
    settings: Settings, store: RunStore, run_id: str, display: ProgressDisplay
) -> RunResult:
    assert settings.redis.url is not None
    queue = await ArqQueue.connect(settings.redis.url.get_secret_value(), settings.redis.queue_name)
    try:
        position = await queue.enqueue(run_id)
        print(f"queued for a worker (position {position})", file=sys.stderr)
        return await follow(store, run_id, on_progress=display)
    finally:
        await queue.close()


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
        distributed = settings.redis.url is not None
        async with open_services(settings, memory=not distributed) as (store, resources):
            run = await submit(store, source, depth, fresh=fresh)
            console.print(f"run {run.id} started: {source.location}", highlight=False, markup=False)
            with ProgressDisplay(console) as display:
                if distributed:  # a worker executes it; follow its progress in the store
                    result = await _enqueue_and_follow(settings, store, run.id, display)
                else:
                    result = await execute(store, resources, run.id, on_progress=display)
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
