"""The analysis reviewed by the quality gates: only grounded, distinct items reach the briefing.

`review` takes the answers the analysis tasks gave (each with the model that gave it) and the
run's `TranscriptIndex`, keeps the key points, claims and fallacies that the transcript
grounds (crews.grounding), with their aligned timestamps, and a TL;DR only when every
sentence of it is grounded; it fills what is missing — every
part, when no model answered — from the extractive analyst (crews.extractive). `Tally`
counts what the gates did per task (kept, ungrounded, duplicates, answers rejected as
placeholders), exports the counts as metrics and teaches the router each model's share of
grounded items as a quality signal.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from crews import extractive
from crews.gates import GateRejected
from crews.grounding import TranscriptIndex, Verdicts
from crews.schemas import ExtractedClaim, Fallacy, GateCounts, KeyPoint, SummaryOutput
from crews.text import sentences, shorten
from observability.metrics import GATE_ITEMS, GATE_REJECTIONS
from pipelines.models import Claim, Media, Segment
from pipelines.stage import Resources
from routing.dispatch import Answer, InvalidAnswer, router_of
from settings import GateSettings

MAX_FALLACIES = 6


@dataclass
class Tally:
    """What the gates did in one run, per task, and the quality signals for the router."""

    counts: dict[str, GateCounts] = field(default_factory=dict)
    signals: list[tuple[str, str, float]] = field(default_factory=list)

    def of(self, task: str) -> GateCounts:
        """The counts of one task."""
        return self.counts.setdefault(task, GateCounts())

    def rejected(self, task: str) -> Callable[[str, InvalidAnswer], None]:
        """The `run_task` hook that counts answers the gates rejected."""

        def hear(model: str, error: InvalidAnswer) -> None:
            if isinstance(error, GateRejected):
                self.of(task).placeholders += 1
                self.signals.append((task, model, 0.0))
                GATE_REJECTIONS.labels(task=task, model=model).inc()

        return hear

    def items(self, task: str, verdicts: Verdicts, models: Sequence[str | None]) -> None:
        """Count one task's gated items; each answering model learns its share that was kept."""
        counts = self.of(task)
        counts.kept += len(verdicts.kept)
        counts.ungrounded += verdicts.ungrounded
        counts.duplicates += verdicts.duplicates
        for outcome, n in (
            ("kept", len(verdicts.kept)),
            ("ungrounded", verdicts.ungrounded),
            ("duplicate", verdicts.duplicates),
        ):
            if n:
                GATE_ITEMS.labels(task=task, outcome=outcome).inc(n)
        kept = set(verdicts.kept)
        for model in {m for m in models if m}:
            mine = [i for i, m in enumerate(models) if m == model]
            self.signals.append((task, model, sum(i in kept for i in mine) / len(mine)))

    async def teach(self, resources: Resources) -> None:
        """Give the router what it learnt from this run's gates."""
        router = router_of(resources)
        for task, model, quality in self.signals:
            await router.learn_quality(task, model, quality)
        self.signals.clear()


class Thresholds(NamedTuple):
    """The gates' grounding threshold and duplicate cosine (GATE_*)."""

    threshold: float
    duplicate_cosine: float


@dataclass
class Reviewed:
    """The gated analysis, and which of its parts are extractive."""

    summary: SummaryOutput | None
    claims: list[Claim]
    fallacies: list[Fallacy]
    extractive: list[str]


async def review(
    gates: GateSettings,
    index: TranscriptIndex,
    media: Media,
    limits: tuple[int, int],
    answers: dict[str, list[Answer[Any]]],
    summary: Answer[SummaryOutput] | None,
    tally: Tally,
) -> Reviewed:
    """Keep what the transcript grounds; fill the gaps extractively. `limits` = (points, claims)."""
    max_points, max_claims = limits
    check = Thresholds(gates.grounding_threshold, gates.duplicate_cosine)
    made: list[str] = []
    points: list[KeyPoint] = []
    if summary is not None:
        given = summary.value.key_points
        verdicts = await index.gate([p.point for p in given], [p.timestamp for p in given], *check)
        tally.items("summary", verdicts, [summary.model] * len(given))
        points = [KeyPoint(timestamp=verdicts.timestamps[i], point=given[i].point) for i in verdicts.kept]
    if not index.sentences:
        return Reviewed(None, [], [], made)
    if not points:
        points = extractive.key_points(index, max_points, gates.duplicate_cosine)
        made.append("key points")
    own = _own_title(media)
    title = summary.value.title if summary is not None else extractive.title(index, own)
    tldr = await _grounded_tldr(index, summary.value.tldr, check.threshold) if summary is not None else ""
    if not tldr:
        tldr = extractive.tldr(index, points) or shorten(index.sentences[0].text, 600)
        made.append("TL;DR")
    if summary is None and not own:
        made.append("title")
    head = SummaryOutput(title=title, tldr=tldr, key_points=points[:max_points])
    claims = await _claims(index, answers.get("claims", []), max_claims, check, tally)
    if not claims:
        found = extractive.claims(index, max_claims, gates.duplicate_cosine)
        claims = [(c, c.timestamp) for c in found]
        made += ["claims"] if found else []
    fallacies = await _fallacies(index, answers.get("fallacies", []), check, tally)
    return Reviewed(head, _numbered(claims, media.duration_seconds), fallacies, made)


async def _grounded_tldr(index: TranscriptIndex, tldr: str, threshold: float) -> str:
    """The model's TL;DR when every sentence of it is grounded in the transcript, else ""."""
    said = [s.text for s in sentences([Segment(start=0.0, end=0.0, text=tldr)])]
    if not said:
        return ""
    alignments, _ = await index.align(said)
    return tldr if all(a is not None and a.support >= threshold for a in alignments) else ""


async def _claims(
    index: TranscriptIndex,
    answers: list[Answer[Any]],
    limit: int,
    check: Thresholds,
    tally: Tally,
) -> list[tuple[ExtractedClaim, float]]:
    """The model's claims, most check-worthy first, that the transcript grounds (figures included)."""
    given = [(claim, answer.model) for answer in answers for claim in answer.value.claims]
    given.sort(key=lambda pair: (-pair[0].checkworthiness, pair[0].timestamp))
    if not given:
        return []
    texts = [c.text for c, _ in given]
    verdicts = await index.gate(texts, [c.timestamp for c, _ in given], *check, check_figures=True)
    tally.items("claims", verdicts, [model for _, model in given])
    return [(given[i][0], verdicts.timestamps[i]) for i in verdicts.kept[:limit]]


async def _fallacies(
    index: TranscriptIndex, answers: list[Answer[Any]], check: Thresholds, tally: Tally
) -> list[Fallacy]:
    """The model's fallacies whose quote is said verbatim, stamped where it is said."""
    given = [(fallacy, answer.model) for answer in answers for fallacy in answer.value.fallacies]
    if not given:
        return []
    quotes = [f.quote for f, _ in given]
    verdicts = await index.gate(quotes, [f.timestamp for f, _ in given], *check, quotes=quotes)
    tally.items("fallacies", verdicts, [model for _, model in given])
    kept = [given[i][0].model_copy(update={"timestamp": verdicts.timestamps[i]}) for i in verdicts.kept]
    return kept[:MAX_FALLACIES]


def _numbered(claims: list[tuple[ExtractedClaim, float]], duration: float) -> list[Claim]:
    return [
        Claim(
            id=number,
            text=claim.text.strip(),
            timestamp=min(max(timestamp, 0.0), duration) if duration else max(timestamp, 0.0),
            checkworthiness=claim.checkworthiness,
            entities=[e.strip() for e in claim.entities if e.strip()],
        )
        for number, (claim, timestamp) in enumerate(claims, start=1)
    ]


def _own_title(media: Media) -> str | None:
    """The media's own title; a title that is only the file name is none."""
    title = (media.title or "").strip()
    if not title:
        return None
    for location in (media.audio_path, media.subtitles_path, media.webpage_url):
        if location and title == location.rstrip("/").rsplit("/", 1)[-1].rsplit(".", 1)[0]:
            return None
    return title
