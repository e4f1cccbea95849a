"""The briefing stage: assemble what the user sees from the stored stage outputs, plus Markdown.

No model call: title, TL;DR and key points come from the analysis, verdicts from the
verification. Caveats say honestly what degraded: failed items, unchecked claims, budget
cuts, subtitles instead of a transcription, a chunked long transcript, the embedded model.
Timestamps link to the moment in the media where the site supports it (YouTube `t=`, Vimeo,
media fragments on direct media URLs). Only what the quality gates kept is shown, with its
aligned timestamp; caveats say what was dropped and which parts are extractive.
"""

from __future__ import annotations

from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from pydantic import BaseModel

from pipelines.analyze import clock
from pipelines.models import (
    Analysis,
    Briefing,
    CheckedClaim,
    Evidence,
    Media,
    MemoryReport,
    RunRequest,
    Transcript,
    Verification,
)
from pipelines.stage import StageDeps
from routing.catalog import EMBEDDED_MODEL_NAME

GATE_LABELS = {
    "summary": "key points",
    "claims": "claims",
    "fallacies": "fallacies",
    "perspectives": "perspectives",
}
MEDIA_SUFFIXES = (".mp3", ".mp4", ".m4a", ".ogg", ".oga", ".opus", ".webm", ".wav", ".flac", ".mov")
VERDICT_MARKS = {
    "supported": "✅ supported",
    "refuted": "❌ refuted",
    "disputed": "⚖️ disputed",
    "not_enough_evidence": "❔ not enough evidence",
}


def verdict_label(item: CheckedClaim) -> str:
    """The verdict as members read it: mark, label and confidence, or why there is none.

    "Not enough evidence" shows no percentage: it is the absence of a verdict, not one held
    with some confidence.
    """
    if item.verdict:
        shown = item.confidence is not None and item.verdict != "not_enough_evidence"
        return VERDICT_MARKS[item.verdict] + (f" ({item.confidence:.0%})" if shown else "")
    return "⚠️ check failed" if item.failure else "▫️ not checked"


class BriefInputs(BaseModel):
    """Everything the briefing draws on (verification and memory only when the tier ran them)."""

    request: RunRequest
    acquire: Media
    transcribe: Transcript
    analyze: Analysis
    verify: Verification | None = None
    remember: MemoryReport | None = None


def moment_link(url: str | None, seconds: float) -> str | None:
    """A link to `seconds` into the media: YouTube's `t=`, Vimeo's `#t=`, a media fragment for files."""
    if not url:
        return None
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if host.endswith("youtube.com") or host == "youtu.be":
        query = [(k, v) for k, v in parse_qsl(parts.query) if k != "t"] + [("t", f"{int(seconds)}s")]
        return urlunsplit(parts._replace(query=urlencode(query)))
    if host.endswith("vimeo.com"):
        return urlunsplit(parts._replace(fragment=f"t={int(seconds)}s"))
    if parts.scheme in ("http", "https") and parts.path.lower().endswith(MEDIA_SUFFIXES):
        return urlunsplit(parts._replace(fragment=f"t={int(seconds)}"))  # W3C media fragment
    return None


def stamp(url: str | None, seconds: float) -> str:
    """`[mm:ss]` as a Markdown link when the source supports deep links."""
    link = moment_link(url, seconds)
    return f"[{clock(seconds)}]({link})" if link else f"[{clock(seconds)}]"


def caveats(inputs: BriefInputs) -> list[str]:
    """Everything that limits how far the briefing can be trusted (budget cuts included)."""
    notes: list[str] = []
    answered = {
        name
        for stage in (inputs.analyze, inputs.verify)
        if stage and stage.model
        for name in stage.model.split(", ")
    }
    notes += gate_notes(inputs.analyze)
    if inputs.verify is not None and inputs.verify.checked and not inputs.verify.model:
        notes.append(
            "Verdicts come from comparing each claim with the evidence (figures, negation, "
            "similarity), not from a model; without a close match a claim is not judged."
        )
    if EMBEDDED_MODEL_NAME in answered:
        notes.append(
            "Analysed by the small embedded model, which exercises the pipeline but is too small "
            "for trustworthy analysis; configure LLM_BASE_URL for real use."
        )
    if inputs.transcribe.origin == "subtitles":
        notes.append("Transcript taken from the site's own subtitles, not transcribed.")
    if inputs.analyze.chunks > 1:
        notes.append(f"Long transcript analysed in {inputs.analyze.chunks} parts and merged.")
    notes += inputs.analyze.notes
    if inputs.verify is not None:
        notes += inputs.verify.notes
    failures = list(inputs.analyze.failures)
    if inputs.verify is not None:
        failures += inputs.verify.failures
        if inputs.verify.unchecked:
            notes.append(f"{inputs.verify.unchecked} lower-priority claim(s) not fact-checked at this depth.")
    elif inputs.analyze.claims:
        notes.append("Claims are listed but not fact-checked at this depth.")
    if inputs.remember is not None:
        failures += inputs.remember.failures
    for failure in failures:
        cut = failure.reason.startswith("skipped:")  # a depth budget cut it
        notes.append(
            f"{failure.task} {failure.reason}" if cut else f"{failure.task} failed: {failure.reason}"
        )
    return notes


def gate_notes(analysis: Analysis) -> list[str]:
    """What the quality gates did, in words: extractive parts, dropped items, rejected answers."""
    if analysis.sentences == 0:
        return ["No speech was found in the recording: there is nothing to summarise or check."]
    notes: list[str] = []
    if analysis.extractive:
        parts = ", ".join(analysis.extractive)
        why = (
            "no analysis model is configured (LLM_BASE_URL)"
            if not analysis.model
            else "the model gave none that passed the quality checks"
        )
        notes.append(
            f"{parts[0].upper()}{parts[1:]}: built from the transcript's own sentences "
            f"(extractive analysis), because {why}."
        )
    kept = sum(c.kept for c in analysis.gates.values())
    dropped = sum(c.dropped for c in analysis.gates.values())
    for task, counts in analysis.gates.items():
        reasons = []
        if counts.ungrounded:
            reasons.append(f"{counts.ungrounded} not found in the transcript")
        if counts.duplicates:
            reasons.append(f"{counts.duplicates} repeated")
        if counts.placeholders:
            reasons.append(f"{counts.placeholders} answer(s) rejected as placeholder text")
        if reasons:
            notes.append(f"Quality checks on {GATE_LABELS.get(task, task)}: " + ", ".join(reasons) + ".")
    if dropped > kept:
        notes.append(
            "Most of what the model produced could not be found in the transcript and was dropped: "
            "this briefing shows only what could be verified against it."
        )
    return notes


def _claims(inputs: BriefInputs) -> list[CheckedClaim]:
    checked = {c.claim.id: c for c in (inputs.verify.checked if inputs.verify else [])}
    return [checked.get(claim.id) or CheckedClaim(claim=claim) for claim in inputs.analyze.claims]


def render_markdown(briefing: Briefing, url: str | None) -> str:
    """The full report as Markdown, ending with the numbered references the verdicts cite."""
    numbers = {e.url: n for n, e in enumerate(references(briefing), start=1) if e.url}
    lines = [
        f"# {briefing.title}",
        "",
        f"**Source:** {briefing.source}  ",
        f"**Depth:** {briefing.depth.value}  ",
    ]
    lines += [f"**Duration:** {clock(briefing.duration_seconds)}", "", "## TL;DR", "", briefing.tldr, ""]
    if briefing.key_points:
        lines += ["## Key points", ""]
        lines += [f"- {stamp(url, k.timestamp)} {k.point}" for k in briefing.key_points]
        lines.append("")
    if briefing.claims:
        lines += ["## Claims", ""]
        for item in briefing.claims:
            claim, label = item.claim, verdict_label(item)
            lines.append(f"{claim.id}. {stamp(url, claim.timestamp)} {claim.text} — **{label}**")
            if item.rationale:
                lines.append(f"   - {item.rationale}")
            for evidence in item.evidence[:3]:
                origin = f" — {cite(evidence, numbers)}" if evidence.url or evidence.source else ""
                lines.append(f"   - Evidence [{evidence.number}]: {evidence.text}{origin}")
        lines.append("")
    if briefing.fallacies:
        lines += ["## Fallacies", ""]
        for fallacy in briefing.fallacies:
            where = stamp(url, fallacy.timestamp)
            lines.append(f"- {where} **{fallacy.name}**: “{fallacy.quote}” — {fallacy.explanation}")
        lines.append("")
    if briefing.perspectives is not None:
        lines += ["## Perspectives", ""]
        lines += [f"- **{p.viewpoint}**: {p.assessment}" for p in briefing.perspectives.perspectives]
        lines += ["", f"Bias: {briefing.perspectives.bias}", ""]
    if briefing.caveats:
        lines += ["## Caveats", ""]
        lines += [f"- {note}" for note in briefing.caveats]
        lines.append("")
    if numbers:
        lines += ["## References", ""]
        lines += [f"{n}. {reference(e)}" for n, e in enumerate(references(briefing), start=1)]
        lines.append("")
    return "\n".join(lines)


def references(briefing: Briefing) -> list[Evidence]:
    """The pages the shown verdicts cite, once each, in the order they are first cited."""
    found: dict[str, Evidence] = {}
    for item in briefing.claims:
        for evidence in item.evidence[:3]:
            if evidence.url:
                found.setdefault(evidence.url, evidence)
    return list(found.values())


def link_url(url: str | None) -> str | None:
    """An http(s) URL made safe inside a Markdown link (no spaces, brackets or parentheses)."""
    if not url or not url.startswith(("http://", "https://")) or len(url) > 2048:
        return None
    return "".join(c if c not in ' ()[]<>"' else f"%{ord(c):02X}" for c in url)


def link_label(text: str) -> str:
    """Text that can stand inside a Markdown link's brackets: no brackets, one line, short."""
    return " ".join(text.replace("[", "(").replace("]", ")").split())[:120]


def _label(evidence: Evidence) -> str:
    return link_label(evidence.title or evidence.site or evidence.url or evidence.source or "source")


def reference(evidence: Evidence) -> str:
    """A Markdown citation: the title linked to the page, then the site and date."""
    target = link_url(evidence.url)
    head = f"[{_label(evidence)}]({target})" if target else _label(evidence)
    meta = ", ".join(x for x in (evidence.site, evidence.published, evidence.provider) if x and x != "memory")
    return head + (f" ({meta})" if meta else "")


def cite(evidence: Evidence, numbers: dict[str, int]) -> str:
    """How one piece of evidence names its origin: a reference number and link, or the memory source."""
    if evidence.url and evidence.url in numbers:
        return f"{reference(evidence)} [ref {numbers[evidence.url]}]"
    return evidence.source or ""


def _no_summary(analysis: Analysis) -> str:
    if analysis.sentences == 0:
        return "No speech was found in the recording."
    return "No summary could be produced (see caveats)."


async def brief(deps: StageDeps, inputs: BriefInputs) -> Briefing:
    """Stage: the briefing, structured and as Markdown."""
    summary = inputs.analyze.summary
    url = inputs.acquire.webpage_url or (
        inputs.request.source.location if inputs.request.source.kind == "url" else None
    )
    briefing = Briefing(
        title=summary.title if summary else (inputs.acquire.title or "Untitled recording"),
        tldr=summary.tldr if summary else _no_summary(inputs.analyze),
        source=url or inputs.request.source.shown,
        depth=inputs.request.depth,
        duration_seconds=inputs.transcribe.duration_seconds,
        key_points=summary.key_points if summary else [],
        claims=_claims(inputs),
        fallacies=inputs.analyze.fallacies or [],
        perspectives=inputs.analyze.perspectives,
        caveats=caveats(inputs),
        degraded=any(
            stage is not None and stage.failures for stage in (inputs.analyze, inputs.verify, inputs.remember)
        ),
    )
    briefing.markdown = render_markdown(briefing, url)
    return briefing
