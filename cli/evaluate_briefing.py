"""`autointel eval briefing MEDIA GOLD.jsonl`: one briefing scored against the claims it should find.

The media is analysed from scratch in a throwaway data dir (its own run store and in-memory
vector memory, so nothing of the user's is touched or reused), after the optional reference
corpus is loaded as evidence. The briefing is then scored independently of the gates that
built it:

* grounded: the share of shown key points and claims whose best transcript window reaches
  the grounding threshold (re-aligned here);
* duplicates (normalised-equal or cosine ≥ the duplicate threshold) and placeholders
  (crews.gates on the shown items);
* precision: the share of extracted claims that match a gold claim; recall: the share of gold
  claims found (a match is cosine ≥ `MATCH_COSINE` or ≥ `MATCH_OVERLAP` of the gold claim's
  content words);
* verdict accuracy on matched, checked claims; wall time per stage.

GOLD.jsonl holds one `{"claim": ..., "label": ...}` per line; labels are verdicts
(supported, refuted, disputed, not_enough_evidence) or CLIMATE-FEVER labels.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path
from typing import Any

from cli.evaluate import VERDICT_LABELS, jsonl_rows
from crews.builder import instructions
from crews.gates import answer_problems
from crews.grounding import TranscriptIndex, embed
from crews.schemas import ClaimsOutput, ExtractedClaim, SummaryOutput
from crews.text import content_words, normalise
from pipelines.models import Briefing, Depth, Transcript
from settings import Settings

MATCH_COSINE = 0.75
MATCH_OVERLAP = 0.7
LABELS = {label: verdict for verdict, label in VERDICT_LABELS.items()}  # CLIMATE-FEVER label → verdict


class GoldError(ValueError):
    """The gold file is missing or malformed."""


def load_gold(path: Path) -> list[tuple[str, str]]:
    """(claim, verdict) per line of the gold file."""
    gold: list[tuple[str, str]] = []
    for number, row in jsonl_rows(path, GoldError, "gold file"):
        raw = str(row.get("label", "")) if isinstance(row, dict) else ""
        label = LABELS.get(raw, raw)
        if not isinstance(row, dict) or not row.get("claim") or label not in LABELS.values():
            raise GoldError(f"{path}:{number}: expected 'claim' and a 'label' ({', '.join(LABELS.values())})")
        gold.append((str(row["claim"]), label))
    if not gold:
        raise GoldError(f"{path}: no claims")
    return gold


def _isolated(settings: Settings, data_dir: Path) -> Settings:
    """The same settings with a throwaway data dir, SQLite store, local memory and no queue."""
    from settings import _SECTIONS

    sections = {name: getattr(settings, name) for name in _SECTIONS}
    sections["pipeline"] = settings.pipeline.model_copy(update={"data_dir": data_dir})
    sections["database"] = settings.database.model_copy(update={"url": None})
    sections["qdrant"] = settings.qdrant.model_copy(update={"url": None})
    sections["redis"] = settings.redis.model_copy(update={"url": None})
    return Settings(**sections)


async def evaluate_briefing(
    settings: Settings, media: str, gold: list[tuple[str, str]], reference: Path | None, depth: Depth
) -> dict[str, Any]:
    """Analyse `media` from scratch and score its briefing against `gold`."""
    from memory.corpus import load_corpus
    from memory.vector import REFERENCE_NAMESPACE
    from pipelines.runner import execute, submit
    from pipelines.service import open_services
    from pipelines.sources import normalise_source

    with tempfile.TemporaryDirectory(prefix="autointel-eval-") as scratch:
        isolated = _isolated(settings, Path(scratch))
        async with open_services(isolated) as (store, resources):
            if reference is not None:
                await resources.memory.upsert(REFERENCE_NAMESPACE, load_corpus(reference))
            run = await submit(store, normalise_source(media), depth, fresh=True)
            result = await execute(store, resources, run.id)
            briefing, transcript = result.outputs.get("brief"), result.outputs.get("transcribe")
            if not isinstance(briefing, Briefing) or not isinstance(transcript, Transcript):
                raise GoldError(f"the run did not finish: {result.run.error_message or result.run.status}")
            scores = await score(isolated, resources.embedder, briefing, transcript, gold)
    analysis = result.outputs["analyze"]
    scores["stage_seconds"] = {s.stage: round(s.duration_seconds or 0.0, 3) for s in result.stages}
    scores["gates"] = {task: counts.model_dump() for task, counts in getattr(analysis, "gates", {}).items()}
    scores["extractive"] = list(getattr(analysis, "extractive", []))
    scores["gate_seconds"] = getattr(analysis, "gate_seconds", None)
    scores["media_seconds"] = round(transcript.duration_seconds, 1)
    return scores


async def score(
    settings: Settings, embedder: Any, briefing: Briefing, transcript: Transcript, gold: list[tuple[str, str]]
) -> dict[str, Any]:
    """The figures of one briefing (see the module docstring)."""
    gates = settings.gates
    index = await TranscriptIndex.build(embedder, transcript.segments)
    points = [k.point for k in briefing.key_points]
    claims = [c.claim.text for c in briefing.claims]
    alignments, _ = await index.align(points + claims)
    grounded = sum(1 for a in alignments if a is not None and a.support >= gates.grounding_threshold)
    summary = SummaryOutput(title=briefing.title, tldr=briefing.tldr, key_points=briefing.key_points)
    extracted = ClaimsOutput(claims=[ExtractedClaim(text=t, timestamp=0, checkworthiness=1) for t in claims])
    placeholders = len(answer_problems(summary, instructions("summary"))) + len(
        answer_problems(extracted, instructions("claims"))
    )
    gold_texts = [text for text, _ in gold]
    vectors = await embed(embedder, claims + gold_texts)
    ours, theirs = vectors[: len(claims)], vectors[len(claims) :]
    matches: dict[int, int] = {}
    for i, claim in enumerate(claims):
        best, similarity = -1, 0.0
        for j, text in enumerate(gold_texts):
            cosine = float(ours[i] @ theirs[j])
            wanted = set(content_words(text))
            overlap = len(wanted & set(content_words(claim))) / len(wanted) if wanted else 0.0
            if (cosine >= MATCH_COSINE or overlap >= MATCH_OVERLAP) and cosine > similarity:
                best, similarity = j, cosine
        if best >= 0:
            matches[i] = best
    distinct_points = _distinct(points, await embed(embedder, points), gates.duplicate_cosine)
    judged = [
        (briefing.claims[i].verdict, gold[j][1]) for i, j in matches.items() if briefing.claims[i].verdict
    ]
    return {
        "key_points": len(points),
        "distinct_key_points": distinct_points,
        "claims": len(claims),
        "grounded_share": round(grounded / len(alignments), 4) if alignments else None,
        "duplicates": len(points)
        - distinct_points
        + len(claims)
        - _distinct(claims, ours, gates.duplicate_cosine),
        "placeholders": placeholders,
        "claims_matching_gold": round(len(matches) / len(claims), 4) if claims else None,
        "gold_found": round(len(set(matches.values())) / len(gold), 4),
        "checked_matches": len(judged),
        "verdict_accuracy": round(sum(v == g for v, g in judged) / len(judged), 4) if judged else None,
        "verdicts": {v: sum(1 for c in briefing.claims if c.verdict == v) for v in LABELS.values()},
    }


def _distinct(texts: list[str], vectors: Any, duplicate_cosine: float) -> int:
    kept: list[int] = []
    seen: set[str] = set()
    for i, text in enumerate(texts):
        key = normalise(text)
        if key in seen or any(float(vectors[i] @ vectors[j]) >= duplicate_cosine for j in kept):
            continue
        seen.add(key)
        kept.append(i)
    return len(kept)


def print_scores(scores: dict[str, Any]) -> None:
    """The figures as readable lines."""
    for key, value in scores.items():
        print(f"{key:>22}: {json.dumps(value) if isinstance(value, dict | list) else value}")


async def run_briefing_eval(
    settings: Settings, media: str, gold_path: str, reference: str | None, depth: Depth, json_path: str | None
) -> int:
    """Entry of `autointel eval briefing`; returns the exit code."""
    import asyncio

    from pipelines.errors import describe

    try:
        gold = load_gold(Path(gold_path))
        corpus = Path(reference) if reference else None
        if corpus is not None and not corpus.is_file():
            raise GoldError(f"reference corpus not found: {corpus}")
        scores = await evaluate_briefing(settings, media, gold, corpus, depth)
    except GoldError as exc:
        print(f"autointel: {exc}", file=sys.stderr)
        return 1
    except Exception as exc:  # the CLI boundary: one line
        print(f"autointel: {describe(exc)}", file=sys.stderr)
        return 1
    print_scores(scores)
    if json_path:
        await asyncio.to_thread(Path(json_path).write_text, json.dumps(scores, indent=2), encoding="utf-8")
    return 0
