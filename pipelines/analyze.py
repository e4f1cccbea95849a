"""The analysis stage: summary, claims, fallacies and perspectives of a transcript.

The tier decides which tasks run. A transcript that does not fit the model's context is
split into chunks on segment boundaries (map: every task on every chunk, each chunk keeping
its own timestamps; reduce: one merged summary, claims deduplicated and ranked), so nothing
is silently truncated. With `ENABLE_PARALLEL_ANALYSIS` the independent tasks run
concurrently (bounded by `LLM_CONCURRENCY`), otherwise one after another; both give the
same result. A task that fails twice is recorded in `failures` and the run goes on. With
`COMPRESSION_ENABLED` each chunk's transcript is compressed first (routing.compress; it fails
open), and what happened is noted for the briefing's caveats.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import Any

from pydantic import BaseModel

from crews.builder import Tier, run_all, run_task, task_text, tier
from crews.schemas import ClaimsOutput, FallaciesOutput, PerspectivesOutput, SummaryOutput, bounded
from pipelines.models import Analysis, Claim, RunRequest, Segment, TaskFailure, Transcript
from pipelines.stage import Resources, StageDeps
from routing.budget import Budget, TaskFailed, estimate_tokens
from routing.catalog import catalogue, max_concurrency, output_tokens
from routing.compress import compress_transcript

PROMPT_OVERHEAD_TOKENS = 700
OUTPUTS: dict[str, type[BaseModel]] = {
    "summary": SummaryOutput,
    "claims": ClaimsOutput,
    "fallacies": FallaciesOutput,
    "perspectives": PerspectivesOutput,
}


class AnalyzeInputs(BaseModel):
    """The analysis needs the request (depth) and the transcript."""

    request: RunRequest
    transcribe: Transcript


def clock(seconds: float) -> str:
    """Seconds as [mm:ss] (or [h:mm:ss])."""
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes:02d}:{secs:02d}"


def render_segments(segments: list[Segment]) -> str:
    """Transcript lines prefixed with their timestamps, as the prompts show them."""
    return "\n".join(f"[{clock(s.start)}] {s.text}" for s in segments)


def chunk_segments(segments: list[Segment], max_tokens: int) -> list[list[Segment]]:
    """Split segments into consecutive chunks whose rendering fits `max_tokens`."""
    chunks: list[list[Segment]] = [[]]
    used = 0
    for segment in segments:
        cost = estimate_tokens(f"[{clock(segment.start)}] {segment.text}\n")
        if chunks[-1] and used + cost > max_tokens:
            chunks.append([])
            used = 0
        chunks[-1].append(segment)
        used += cost
    return chunks


def _norm(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", " ", text.lower()).strip()


def merge_claims(found: list[ClaimsOutput], limit: int, duration: float) -> list[Claim]:
    """Deduplicate claims across chunks, rank by check-worthiness then time, keep `limit`."""
    seen: set[str] = set()
    merged: list[Any] = []
    for output in found:
        for claim in output.claims:
            key = _norm(claim.text)
            if key and key not in seen:
                seen.add(key)
                merged.append(claim)
    merged.sort(key=lambda c: (-c.checkworthiness, c.timestamp))
    return [
        Claim(
            id=index + 1,
            text=c.text.strip(),
            timestamp=min(max(c.timestamp, 0.0), duration),
            checkworthiness=c.checkworthiness,
            entities=[e.strip() for e in c.entities if e.strip()],
        )
        for index, c in enumerate(merged[:limit])
    ]


async def analyze(deps: StageDeps, inputs: AnalyzeInputs) -> Analysis:
    """Stage: run the tier's analysis tasks over the (chunked) transcript."""
    settings = deps.settings
    plan = tier(inputs.request.depth)
    room = max(
        spec.context_tokens - output_tokens(spec, settings) - PROMPT_OVERHEAD_TOKENS
        for spec in catalogue(settings)
    )
    chunks = chunk_segments(inputs.transcribe.segments, max(room, 256))
    budget = plan.budget()
    notes: list[str] = []
    results = await _map(deps, plan, chunks, budget, notes)

    failures = [
        TaskFailure(task=f.task, reason=f.reason) for f in results.values() if isinstance(f, TaskFailed)
    ]
    ok: dict[str, list[Any]] = {
        task: [r for (name, _), r in results.items() if name == task and not isinstance(r, TaskFailed)]
        for task in plan.tasks
    }
    summary = await _reduce_summary(deps, plan, ok["summary"], budget, failures) if ok["summary"] else None
    duration = inputs.transcribe.duration_seconds
    if summary is not None:
        for point in summary.key_points:
            point.timestamp = min(point.timestamp, duration)
    fallacies = [f for out in ok.get("fallacies", []) for f in out.fallacies][:6]
    for fallacy in fallacies:
        fallacy.timestamp = min(fallacy.timestamp, duration)
    perspectives = ok.get("perspectives", [])
    return Analysis(
        summary=summary,
        claims=merge_claims(ok["claims"], plan.max_claims, duration),
        fallacies=fallacies if "fallacies" in plan.tasks else None,
        perspectives=_merge_perspectives(perspectives) if perspectives else None,
        failures=_dedupe(failures),
        chunks=len(chunks),
        tokens_spent=budget.spent,
        cost_usd=round(budget.cost, 6),
        model=budget.model_names(),
        notes=notes,
    )


async def _map(
    deps: StageDeps, plan: Tier, chunks: list[list[Segment]], budget: Budget, notes: list[str]
) -> dict[tuple[str, int], Any]:
    """Every task of the tier on every (optionally compressed) chunk; failures come back as `TaskFailed`s."""
    settings = deps.settings
    jobs: list[Callable[[], Awaitable[Any]]] = []
    keys: list[tuple[str, int]] = []
    for index, chunk in enumerate(chunks):
        transcript, _stats, note = await compress_transcript(deps.resources, render_segments(chunk))
        if note and note not in notes:
            notes.append(note if len(chunks) == 1 else f"part {index + 1}: {note}")
        for task in plan.tasks:
            description = task_text(
                task,
                transcript=transcript,
                max_points=str(plan.max_points),
                max_claims=str(plan.max_claims),
            )
            keys.append((task, index))
            jobs.append(_guarded(task, deps.resources, description, _output(task, plan), budget))
    parallel = settings.flags.parallel_analysis
    results = await run_all(jobs, parallel=parallel, limit=max_concurrency(settings))
    return dict(zip(keys, results, strict=True))


def _output(task: str, plan: Tier) -> type[BaseModel]:
    """The task's answer model with the tier's limits in its schema."""
    if task == "summary":
        return bounded(SummaryOutput, "key_points", plan.max_points)
    if task == "claims":
        return bounded(ClaimsOutput, "claims", plan.max_claims)
    return OUTPUTS[task]


def _guarded(
    task: str, resources: Resources, description: str, output: type[BaseModel], budget: Budget
) -> Callable[[], Awaitable[Any]]:
    async def job() -> Any:
        try:
            return (await run_task(task, resources, description, output, budget)).value
        except TaskFailed as failed:
            return failed

    return job


async def _reduce_summary(
    deps: StageDeps, plan: Tier, partials: list[SummaryOutput], budget: Budget, failures: list[TaskFailure]
) -> SummaryOutput:
    """One summary for the whole transcript (the only one when it fit in one chunk)."""
    if len(partials) == 1:
        return partials[0]
    text = "\n\n".join(
        f"PART {i + 1}: {p.title}\n{p.tldr}\n"
        + "\n".join(f"- ({k.timestamp:.0f}s) {k.point}" for k in p.key_points)
        for i, p in enumerate(partials)
    )
    description = task_text("summary_reduce", partials=text, max_points=str(plan.max_points))
    try:
        output = bounded(SummaryOutput, "key_points", plan.max_points)
        return (await run_task("summary_reduce", deps.resources, description, output, budget)).value
    except TaskFailed as failed:
        failures.append(TaskFailure(task="summary", reason=f"merging part summaries failed: {failed.reason}"))
        points = [k for p in partials for k in p.key_points][: plan.max_points]
        return SummaryOutput(
            title=partials[0].title, tldr=" ".join(p.tldr for p in partials)[:600], key_points=points
        )


def _merge_perspectives(found: list[PerspectivesOutput]) -> PerspectivesOutput:
    if len(found) == 1:
        return found[0]
    views = [v for out in found for v in out.perspectives][:5]
    return PerspectivesOutput(perspectives=views, bias=" ".join(out.bias for out in found)[:500])


def _dedupe(failures: list[TaskFailure]) -> list[TaskFailure]:
    seen: dict[str, TaskFailure] = {}
    for failure in failures:
        seen.setdefault(failure.task, failure)
    return list(seen.values())
