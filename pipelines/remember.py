"""The memory stage: store the run in long-term memory (vectors, and the graph at deep tiers).

Transcript windows, the summary, the claims with their verdicts and the passages of outside
pages the verdicts cited (with their URL, deduplicated) go to the vector memory of the run's
namespace (guild); claims, their entities and verdicts go to the graph memory when
the tier asks for it. With `ENABLE_PARALLEL_MEMORY_OPS` the two writes run concurrently.
A failed write is recorded (and shown as a caveat); it does not fail the run.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from pydantic import BaseModel

from crews.builder import tier
from pipelines.errors import DISK_FULL_MESSAGE, out_of_space
from pipelines.models import Analysis, MemoryReport, RunRequest, TaskFailure, Transcript, Verification
from pipelines.stage import StageDeps
from pipelines.verify import memory_of

log = logging.getLogger(__name__)

WINDOW_WORDS = 80


class RememberInputs(BaseModel):
    """What is remembered: the transcript, the analysis and (when run) the verification."""

    request: RunRequest
    transcribe: Transcript
    analyze: Analysis
    verify: Verification | None = None


def transcript_windows(transcript: Transcript, words: int = WINDOW_WORDS) -> list[tuple[float, float, str]]:
    """Consecutive (start, end, text) windows of about `words` words along segment boundaries."""
    windows: list[tuple[float, float, str]] = []
    current: list[str] = []
    start = 0.0
    for segment in transcript.segments:
        if not current:
            start = segment.start
        current.append(segment.text.strip())
        if sum(len(t.split()) for t in current) >= words:
            windows.append((start, segment.end, " ".join(current)))
            current = []
    if current:
        windows.append((start, transcript.segments[-1].end, " ".join(current)))
    return windows


def _items(deps: StageDeps, inputs: RememberInputs) -> list[Any]:
    from memory.vector import MemoryItem

    run_id, source = deps.run_id, inputs.request.source.location
    items = [
        MemoryItem(text=text, kind="transcript", run_id=run_id, source=source, start=start, end=end)
        for start, end, text in transcript_windows(inputs.transcribe)
    ]
    summary = inputs.analyze.summary
    if summary is not None:
        text = f"{summary.title}. {summary.tldr}"
        items.append(MemoryItem(text=text, kind="summary", run_id=run_id, source=source, start=0.0))
    checked = {c.claim.id: c for c in (inputs.verify.checked if inputs.verify else [])}
    for claim in inputs.analyze.claims:
        verdict = checked.get(claim.id)
        if verdict is not None and verdict.verdict is not None:
            label = verdict.verdict.replace("_", " ")
            text = f"{claim.text} Verdict: {label}. {verdict.rationale or ''}".strip()
            extra = {"verdict": verdict.verdict, "confidence": verdict.confidence}
            items.append(
                MemoryItem(
                    text=text,
                    kind="verdict",
                    run_id=run_id,
                    source=source,
                    start=claim.timestamp,
                    extra=extra,
                )
            )
        else:
            items.append(
                MemoryItem(text=claim.text, kind="claim", run_id=run_id, source=source, start=claim.timestamp)
            )
    return items + cited_pages(inputs.verify)


def cited_pages(verification: Verification | None) -> list[Any]:
    """The passages of outside pages the verdicts cited, once each, with their URL.

    They carry no run id, so the same passage of the same page is one memory item however
    many runs cite it; later runs and /recall find them in this namespace.
    """
    from memory.vector import MemoryItem

    found: dict[tuple[str, str], Any] = {}
    for checked in verification.checked if verification else []:
        for evidence in checked.evidence:
            if evidence.url and evidence.provider not in (None, "memory"):
                extra = {
                    "url": evidence.url,
                    "title": evidence.title,
                    "site": evidence.site,
                    "published": evidence.published,
                    "provider": evidence.provider,
                }
                item = MemoryItem(text=evidence.text, kind="evidence", source=evidence.url, extra=extra)
                found.setdefault((evidence.url, evidence.text), item)
    return list(found.values())


async def remember(deps: StageDeps, inputs: RememberInputs) -> MemoryReport:
    """Stage: write vector memory and (deep tiers) graph memory."""
    namespace = inputs.request.namespace
    report = MemoryReport(namespace=namespace)
    memory = memory_of(deps.resources)

    async def vectors() -> None:
        report.vectors = await memory.upsert(namespace, _items(deps, inputs))

    async def graph() -> None:
        from memory.graph import GraphClaim

        checked = {c.claim.id: c for c in (inputs.verify.checked if inputs.verify else [])}
        claims = [
            GraphClaim(
                text=c.text,
                entities=c.entities,
                timestamp=c.timestamp,
                verdict=checked[c.id].verdict if c.id in checked else None,
                confidence=checked[c.id].confidence if c.id in checked else None,
            )
            for c in inputs.analyze.claims
        ]
        await deps.resources.graph.add_claims(namespace, deps.run_id, claims)
        report.graph_claims = len(claims)

    writes: list[tuple[str, Callable[[], Awaitable[None]]]] = [("vector memory", vectors)]
    if tier(inputs.request.depth).graph and deps.resources.graph is not None:
        writes.append(("graph memory", graph))
    results: list[BaseException | None] = []
    if deps.settings.flags.parallel_memory_ops:
        results += await asyncio.gather(*(write() for _, write in writes), return_exceptions=True)
    else:
        for _, write in writes:
            try:
                await write()
                results.append(None)
            except Exception as exc:  # recorded below, like the concurrent path
                results.append(exc)
    for (name, _), result in zip(writes, results, strict=True):
        if isinstance(result, BaseException):
            log.warning("%s write failed for run %s: %s", name, deps.run_id, result)
            reason = DISK_FULL_MESSAGE if out_of_space(result) else f"{type(result).__name__}: {result}"
            report.failures.append(TaskFailure(task=name, reason=reason))
    return report
