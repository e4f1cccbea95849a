"""The evidence-consistency judge: a verdict check that needs no model and no model's word.

For each piece of evidence about the same subject as the claim (retrieval similarity at
least `GATE_SUBJECT_SIMILARITY`) it compares the figures the two state — years, dates,
percentages, quantities with units (crews.figures) — and, for close paraphrases, whether one
negates what the other asserts. A conflicting figure or polarity is a contradiction quoted
with both sides; agreeing figures and close paraphrases are support.

`overrule` applies it to a model's verdict: a contradiction vetoes "supported" (it becomes
"refuted", or "disputed" when other evidence agrees) and agreeing figures raise the
confidence. `decide` is the whole verdict when no capable model is configured: "supported"
only for a close paraphrase whose every figure matches, "refuted" on a contradiction,
otherwise "not_enough_evidence".
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from crews.figures import Figure, compare, distance, figures, negated
from crews.schemas import Verdict
from pipelines.models import Evidence
from settings import GateSettings

AGREEMENT_BONUS = 0.1
# Evidence this similar that states an agreeing figure is about the claim's subject too ("the
# rifle tower in Paris … 330 metres" is the Eiffel Tower of the evidence, despite Whisper).
FIGURE_SUBJECT_SIMILARITY = 0.5
# Only evidence this close is compared for polarity: looser matches negate other clauses.
POLARITY_SIMILARITY = 0.7
# Confidence of a contradiction relative to the evidence's similarity: figures and negation
# are strong signals on close paraphrases, weaker on loosely related passages.
CONTRADICTION_WEIGHT = {"refuted": 0.8, "disputed": 0.6}


@dataclass
class Consistency:
    """What the evidence about the claim's subject says about its figures and polarity."""

    contradictions: list[tuple[int, str]] = field(default_factory=list)  # (evidence number, quote)
    agreements: list[tuple[int, str]] = field(default_factory=list)
    paraphrases: list[tuple[int, float]] = field(default_factory=list)  # (number, similarity), no conflict

    @property
    def agreeing_numbers(self) -> set[int]:
        """Evidence that agrees with the claim (figures or a close paraphrase without conflict)."""
        return {n for n, _ in self.agreements} | {n for n, _ in self.paraphrases}


def _said(figure: Figure) -> str:
    return f"“{figure.text}”"


def _agrees(claim: Figure, evidence: Figure) -> str:
    """How an agreeing pair is worded: the same value agrees, one within tolerance is close."""
    return "agrees with" if distance(claim, evidence) == 0 else "is close to"


def assess(claim: str, evidence: Sequence[Evidence], gates: GateSettings) -> Consistency:
    """Compare the claim with every piece of evidence about its subject."""
    found = Consistency()
    stated = figures(claim)
    denies = negated(claim)
    for item in evidence:
        agreeing, conflicting = compare(stated, figures(item.text))
        # A second year (or quantity) of a kind the evidence already agrees on is more than the
        # evidence says, not a contradiction ("in 2018, half of the 2010 level" vs "by 2010").
        matched = {(c.kind, c.unit) for c, _ in agreeing}
        conflicting = [(c, e) for c, e in conflicting if (c.kind, c.unit) not in matched]
        same_subject = item.score >= gates.subject_similarity or (
            item.score >= FIGURE_SUBJECT_SIMILARITY and bool(agreeing)
        )
        if not same_subject:
            continue
        polarity = item.score >= POLARITY_SIMILARITY and negated(item.text) != denies
        if conflicting:
            quotes = "; ".join(
                f"the claim says {_said(c)}, evidence [{item.number}] says {_said(e)}" for c, e in conflicting
            )
            found.contradictions.append((item.number, quotes))
        elif polarity:
            side = "denies" if negated(item.text) else "asserts"
            found.contradictions.append(
                (item.number, f"evidence [{item.number}] {side} what the claim states")
            )
        else:
            if agreeing:
                quotes = ", ".join(f"{_said(c)} {_agrees(c, e)} {_said(e)}" for c, e in agreeing)
                found.agreements.append((item.number, f"evidence [{item.number}]: {quotes}"))
            if item.score >= gates.paraphrase_similarity and len(agreeing) >= len(stated):
                found.paraphrases.append((item.number, item.score))
    return found


@dataclass(frozen=True)
class Ruling:
    """A verdict with its confidence, rationale and the evidence it rests on."""

    verdict: Verdict
    confidence: float
    rationale: str
    cited: list[int]


def _contradicted(found: Consistency, best: float) -> Ruling:
    numbers = [n for n, _ in found.contradictions]
    quotes = "; ".join(q for _, q in found.contradictions)
    agreeing = sorted(found.agreeing_numbers - set(numbers))
    if agreeing:
        listed = ", ".join(f"[{n}]" for n in agreeing)
        confidence = round(CONTRADICTION_WEIGHT["disputed"] * best, 2)
        rationale = f"The evidence conflicts: {quotes}; {listed} agree."
        return Ruling("disputed", confidence, rationale, numbers + agreeing)
    confidence = round(CONTRADICTION_WEIGHT["refuted"] * best, 2)
    return Ruling("refuted", confidence, f"Contradicted by the evidence: {quotes}.", numbers)


def decide(claim: str, evidence: Sequence[Evidence], gates: GateSettings) -> Ruling:
    """The verdict from the evidence alone (no model): contradiction, close paraphrase, or neither."""
    found = assess(claim, evidence, gates)
    best = max((e.score for e in evidence), default=0.0)
    if found.contradictions:
        return _contradicted(found, best)
    if found.paraphrases:
        number, score = max(found.paraphrases, key=lambda pair: pair[1])
        agreed = "; ".join(q for _, q in found.agreements)
        rationale = f"Evidence [{number}] states the same (similarity {score:.2f})" + (
            f"; {agreed}." if agreed else "."
        )
        return Ruling("supported", round(min(score, 0.95), 2), rationale, [number])
    return Ruling(
        "not_enough_evidence",
        round(1 - best, 2) if evidence else 1.0,
        "No evidence states or contradicts the claim closely enough to judge it "
        f"(best similarity {best:.2f}).",
        [],
    )


def overrule(claim: str, evidence: Sequence[Evidence], gates: GateSettings, ruling: Ruling) -> Ruling:
    """A model's verdict checked against the figures and polarity of the evidence."""
    found = assess(claim, evidence, gates)
    best = max((e.score for e in evidence), default=0.0)
    if ruling.verdict == "supported" and found.contradictions:
        vetoed = _contradicted(found, best)
        return Ruling(
            vetoed.verdict,
            vetoed.confidence,
            vetoed.rationale + " (The model had answered “supported”.)",
            vetoed.cited,
        )
    if ruling.verdict == "supported" and found.agreements:
        numbers = [n for n, _ in found.agreements]
        cited = ruling.cited + [n for n in numbers if n not in ruling.cited]
        return Ruling(
            "supported", round(min(1.0, ruling.confidence + AGREEMENT_BONUS), 2), ruling.rationale, cited
        )
    return ruling
