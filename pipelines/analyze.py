"""The analysis stage: summary, claims, fallacies and perspectives of a transcript.

The tier decides which tasks run. A transcript that does not fit the model's context is
split into chunks on segment boundaries (map: every task on every chunk, each chunk keeping
its own timestamps; reduce: one merged summary, claims deduplicated and ranked), so nothing
is silently truncated. Every answer then passes the quality gates (pipelines.review): only
items grounded in the transcript are kept, the rest is filled extractively. With
`ENABLE_PARALLEL_ANALYSIS` the independent tasks run concurrently (bounded by
`LLM_CONCURRENCY`), otherwise one after another; both give the same result. A task that
fails twice is recorded in `failures` and the run goes on. With `COMPRESSION_ENABLED` each
chunk's transcript is compressed first (routing.compress; it fails open), and what happened is
noted for the briefing's caveats.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any

from pydantic import BaseModel

from crews.builder import Tier, run_all, run_task, task_text, tier
from crews.grounding import TranscriptIndex, embedder_of
from crews.schemas import ClaimsOutput, FallaciesOutput, PerspectivesOutput, SummaryOutput, bounded
from crews.text import shorten
from pipelines.models import Analysis, Media, RunRequest, Segment, TaskFailure, Transcript
from pipelines.review import Tally, review
from pipelines.stage import Resources, StageDeps
from routing.budget import Budget, TaskFailed, estimate_tokens
from routing.catalog import catalogue, embedded_only, max_concurrency, output_tokens
from routing.compress import compress_transcript
from routing.dispatch import Answer

PROMPT_OVERHEAD_TOKENS = 700
OUTPUTS: dict[str, type[BaseModel]] = {
    "summary": SummaryOutput,
    "claims": ClaimsOutput,
    "fallacies": FallaciesOutput,
    "perspectives": PerspectivesOutput,
}


class AnalyzeInputs(BaseModel):
    """The analysis needs the request (depth), the media (its title) and the transcript."""

    request: RunRequest
    acquire: Media
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


async def analyze(deps: StageDeps, inputs: AnalyzeInputs) -> Analysis:
    """Stage: the tier's analysis tasks over the (chunked) transcript, then the quality gates.

    Every key point, claim and fallacy a model gives is grounded in the transcript or dropped
    (pipelines.review); what no model gave — everything, with the embedded model or a
    transcript without speech — comes from the extractive analyst.
    """
    settings = deps.settings
    plan = tier(inputs.request.depth)
    started = time.perf_counter()
    index = await TranscriptIndex.build(embedder_of(deps.resources), inputs.transcribe.segments)
    gate_seconds = time.perf_counter() - started
    room = max(
        spec.context_tokens - output_tokens(spec, settings) - PROMPT_OVERHEAD_TOKENS
        for spec in catalogue(settings)
    )
    chunks = chunk_segments(inputs.transcribe.segments, max(room, 256))
    budget = plan.budget()
    notes: list[str] = []
    tally = Tally()
    offline = not index.sentences or embedded_only(settings)
    results = {} if offline else await _map(deps, plan, chunks, budget, notes, tally)
    failures = [
        TaskFailure(task=f.task, reason=f.reason) for f in results.values() if isinstance(f, TaskFailed)
    ]
    answers: dict[str, list[Answer[Any]]] = {
        task: [r for (name, _), r in results.items() if name == task and not isinstance(r, TaskFailed)]
        for task in plan.tasks
    }
    summary = await _reduce_summary(deps, plan, answers["summary"], budget, failures, tally)
    started = time.perf_counter()
    limits = (plan.max_points, plan.max_claims)
    reviewed = await review(settings.gates, index, inputs.acquire, limits, answers, summary, tally)
    gate_seconds += time.perf_counter() - started
    await tally.teach(deps.resources)
    if offline and index.sentences and "fallacies" in plan.tasks:
        notes.append(
            "Fallacies and perspectives need a capable model (LLM_BASE_URL); "
            "the embedded model is too small for them."
        )
    return Analysis(
        summary=reviewed.summary,
        claims=reviewed.claims,
        fallacies=reviewed.fallacies if "fallacies" in plan.tasks else None,
        perspectives=_merge_perspectives([a.value for a in answers.get("perspectives", [])]),
        failures=_dedupe(failures),
        chunks=len(chunks),
        tokens_spent=budget.spent,
        cost_usd=round(budget.cost, 6),
        model=budget.model_names(),
        notes=notes,
        gates=tally.counts,
        extractive=reviewed.extractive,
        sentences=len(index.sentences),
        gate_seconds=round(gate_seconds, 3),
    )


async def _map(
    deps: StageDeps,
    plan: Tier,
    chunks: list[list[Segment]],
    budget: Budget,
    notes: list[str],
    tally: Tally,
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
            jobs.append(_guarded(task, deps.resources, description, _output(task, plan), budget, tally))
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
    task: str, resources: Resources, description: str, output: type[BaseModel], budget: Budget, tally: Tally
) -> Callable[[], Awaitable[Answer[Any] | TaskFailed]]:
    async def job() -> Answer[Any] | TaskFailed:
        try:
            return await run_task(task, resources, description, output, budget, rejected=tally.rejected(task))
        except TaskFailed as failed:
            return failed

    return job


async def _reduce_summary(
    deps: StageDeps,
    plan: Tier,
    partials: list[Answer[SummaryOutput]],
    budget: Budget,
    failures: list[TaskFailure],
    tally: Tally,
) -> Answer[SummaryOutput] | None:
    """One summary for the whole transcript (the only one when it fit in one chunk)."""
    if len(partials) <= 1:
        return partials[0] if partials else None
    text = "\n\n".join(
        f"PART {i + 1}: {p.value.title}\n{p.value.tldr}\n"
        + "\n".join(f"- ({k.timestamp:.0f}s) {k.point}" for k in p.value.key_points)
        for i, p in enumerate(partials)
    )
    description = task_text("summary_reduce", partials=text, max_points=str(plan.max_points))
    try:
        output = bounded(SummaryOutput, "key_points", plan.max_points)
        hook = tally.rejected("summary")
        return await run_task("summary_reduce", deps.resources, description, output, budget, rejected=hook)
    except TaskFailed as failed:
        failures.append(TaskFailure(task="summary", reason=f"merging part summaries failed: {failed.reason}"))
        points = [k for p in partials for k in p.value.key_points]
        merged = SummaryOutput(
            title=partials[0].value.title,
            tldr=shorten(" ".join(p.value.tldr for p in partials), 600),
            key_points=points,
        )
        return Answer(merged, partials[0].model)


def _merge_perspectives(found: list[PerspectivesOutput]) -> PerspectivesOutput | None:
    if len(found) <= 1:
        return found[0] if found else None
    views = [v for out in found for v in out.perspectives][:5]
    return PerspectivesOutput(perspectives=views, bias=shorten(" ".join(out.bias for out in found), 500))


def _dedupe(failures: list[TaskFailure]) -> list[TaskFailure]:
    seen: dict[str, TaskFailure] = {}
    for failure in failures:
        seen.setdefault(failure.task, failure)
    return list(seen.values())
