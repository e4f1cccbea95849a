"""The offline analyst: title, TL;DR, key points and check-worthy claims taken from the transcript.

Used with the embedded model (too small for abstractive analysis) and whenever a model's
answer still fails the quality gates after its repair. Everything it returns is a sentence
of the transcript, verbatim, with the time it is said (crews.text rebuilds the sentences and
interpolates their timestamps), computed on the embeddings the grounding index already holds:

* key points: central and diverse sentences — centrality is the cosine to the transcript's
  mean vector; maximal marginal relevance (`MMR_LAMBDA`) trades it against similarity to the
  points already chosen, and near-duplicates (cosine ≥ the duplicate threshold) are skipped;
* TL;DR: the most central key points, in the order they are said;
* title: the media's own title when it has one, else the most central sentence, shortened;
* claims: sentences ranked by check-worthiness features — figures, dates and quantities,
  named entities, comparisons and superlatives, causal statements — leaving out questions,
  opinions, greetings and fragments.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from crews.figures import figures
from crews.grounding import TranscriptIndex
from crews.schemas import ExtractedClaim, KeyPoint
from crews.text import CONNECTIVES, STOPWORDS, Sentence, bare_word, shorten

MAX_ITEM_CHARS = 200  # key points and claims are quoted whole: longer sentences are not used
MMR_LAMBDA = 0.7
MIN_POINT_WORDS = 5
MIN_CLAIM_WORDS = 6
TITLE_CHARS = 80
TLDR_POINTS = 3
_WORD = re.compile(r"[A-Za-z][A-Za-z'-]*")
# A word of a name: letters and digits joined by hyphens or apostrophes, or an abbreviation.
_NAME_WORD = re.compile(r"(?:[A-Z]\.){2,}|[A-Za-z][A-Za-z0-9]*(?:[-'’][A-Za-z0-9]+)*")
_SUPERLATIVE = re.compile(
    r"\b(more|less|fewer|most|least|larg|small|high|low|fast|slow|great|long|short|deep|old|young|"
    r"hot|cold|big)(er|est)?\b.*\b(than|ever|world|on earth|in history|of all)\b|\b\w+est\b|"
    r"\b(record|largest|highest|biggest|first|only|majority|minority|twice|double|half|percent)\b",
    re.IGNORECASE,
)
_CAUSAL = re.compile(
    r"\b(because|caus\w*|due to|leads? to|led to|result(s|ed)? in|responsible for|driv(es|en|ing) by|"
    r"attribut\w*|therefore|thanks to|so that|contribut\w*)\b",
    re.IGNORECASE,
)
_OPINION = re.compile(
    r"\b(i|we) (think|believe|feel|hope|guess|suppose|love|hate|personally)\b|\bin my (view|opinion)\b|"
    r"\bpersonally\b|\b(should|ought to|let us|let's)\b|\bi find\b|\bwonderful|amazing|terrible|awful\b",
    re.IGNORECASE,
)
_GREETING = re.compile(
    r"^(hello|hi|hey|welcome|good (morning|afternoon|evening)|thank(s| you)|goodbye|bye|see you|"
    r"subscribe|don't forget)\b|\bthank(s| you) for (listening|watching)\b",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Extract:
    """The extractive analysis of a transcript."""

    title: str
    tldr: str
    key_points: list[KeyPoint]
    claims: list[ExtractedClaim]


def centrality(index: TranscriptIndex) -> np.ndarray:
    """Each sentence's cosine to the transcript's mean sentence vector."""
    vectors = index.sentence_vectors
    if not len(vectors):
        return np.zeros(0, dtype=np.float32)
    mean = vectors.mean(axis=0)
    norm = float(np.linalg.norm(mean)) or 1.0
    scores: np.ndarray = vectors @ (mean / norm)
    return scores


def key_points(index: TranscriptIndex, limit: int, duplicate_cosine: float) -> list[KeyPoint]:
    """Up to `limit` central, mutually different sentences, in the order they are said."""
    scores = centrality(index)
    vectors = index.sentence_vectors
    candidates = [s.index for s in index.sentences if _is_statement(s, MIN_POINT_WORDS)]
    chosen: list[int] = []
    while candidates and len(chosen) < limit:

        def gain(i: int) -> float:
            redundancy = max((float(vectors[i] @ vectors[j]) for j in chosen), default=0.0)
            return MMR_LAMBDA * float(scores[i]) - (1 - MMR_LAMBDA) * redundancy

        best = max(candidates, key=gain)
        candidates.remove(best)
        if any(float(vectors[best] @ vectors[j]) >= duplicate_cosine for j in chosen):
            continue
        chosen.append(best)
    return [_point(index.sentences[i]) for i in sorted(chosen)]


def _point(sentence: Sentence) -> KeyPoint:
    return KeyPoint(timestamp=round(sentence.start, 2), point=sentence.text)


def tldr(index: TranscriptIndex, points: list[KeyPoint]) -> str:
    """The most central key points, in the order they are said (at most 600 characters)."""
    if not points:
        return ""
    scores = centrality(index)
    by_text = {s.text: float(scores[s.index]) for s in index.sentences}
    top = sorted(points, key=lambda p: -by_text.get(p.point, 0.0))[:TLDR_POINTS]
    ordered = [p.point for p in points if p in top]
    return shorten(" ".join(ordered), 600)


def title(index: TranscriptIndex, media_title: str | None) -> str:
    """The media's own title, else its most central sentence, shortened."""
    if media_title and media_title.strip():
        return shorten(media_title.strip(), 120)
    scores = centrality(index)
    usable = [s for s in index.sentences if _is_statement(s, 3)] or index.sentences
    if not usable:
        return "Untitled recording"
    best = max(usable, key=lambda s: float(scores[s.index]))
    return shorten(best.text.rstrip(".!?"), TITLE_CHARS)


def checkworthiness(text: str) -> float:
    """How much a sentence is worth checking (0 = not a factual claim, or too long to quote whole)."""
    if len(text) > MAX_ITEM_CHARS or text.rstrip().endswith("?") or _GREETING.search(text):
        return 0.0
    if _OPINION.search(text):
        return 0.0
    words = _WORD.findall(text)
    if len(words) < MIN_CLAIM_WORDS:
        return 0.0
    found = figures(text)
    score = min(len(found), 2) * 1.5 + (1.0 if any(f.kind in ("year", "decade") for f in found) else 0.0)
    score += min(len(entities(text)), 2) * 0.75
    score += 1.0 if _SUPERLATIVE.search(text) else 0.0
    score += 1.0 if _CAUSAL.search(text) else 0.0
    score -= 0.5 if re.search(r"\b(I|me|my)\b", text) else 0.0
    return max(score, 0.0)


def entities(text: str) -> list[str]:
    """Runs of capitalised words (a light stand-in for named-entity recognition).

    Name words keep their digits ("CO2") and abbreviations their dots ("U.S."); a possessive
    's is dropped ("Antarctica's" names Antarctica). The sentence's first word counts only when
    the next word is capitalised too and it is neither a stopword nor a connective ("Phil Jones
    says" names Phil Jones; "The Eiffel Tower" names Eiffel Tower; "Therefore CO2" names CO2).
    """
    found: list[str] = []
    current: list[str] = []
    words = [bare_word(match.group()) for match in _NAME_WORD.finditer(text)]
    for position, word in enumerate(words):
        opens = (
            len(words) > 1 and words[1][0].isupper() and word.lower() not in STOPWORDS | CONNECTIVES
        )  # a name that starts the sentence
        if word[0].isupper() and (position > 0 or opens) and word not in ("I", "I'm", "I’m"):
            current.append(word)
            continue
        if current:
            found.append(" ".join(current))
            current = []
    if current:
        found.append(" ".join(current))
    return list(dict.fromkeys(found))


def claims(index: TranscriptIndex, limit: int, duplicate_cosine: float) -> list[ExtractedClaim]:
    """The `limit` most check-worthy sentences, verbatim, best first."""
    vectors = index.sentence_vectors
    ranked = sorted(
        ((checkworthiness(s.text), s) for s in index.sentences),
        key=lambda pair: (-pair[0], pair[1].start),
    )
    chosen: list[tuple[float, Sentence]] = []
    for score, sentence in ranked:
        if score <= 0 or len(chosen) >= limit:
            break
        if any(float(vectors[sentence.index] @ vectors[s.index]) >= duplicate_cosine for _, s in chosen):
            continue
        chosen.append((score, sentence))
    top = max((score for score, _ in chosen), default=1.0)
    return [
        ExtractedClaim(
            text=sentence.text,
            timestamp=round(sentence.start, 2),
            checkworthiness=max(1, min(5, round(5 * score / top))),
            entities=[shorten(e, 40) for e in entities(sentence.text)[:3]],
        )
        for score, sentence in chosen
    ]


def _is_statement(sentence: Sentence, min_words: int) -> bool:
    text = sentence.text
    return (
        len(text) <= MAX_ITEM_CHARS
        and len(_WORD.findall(text)) >= min_words
        and not text.rstrip().endswith("?")
        and not _GREETING.search(text)
    )


def extract(
    index: TranscriptIndex, media_title: str | None, points: int, claim_limit: int, duplicate_cosine: float
) -> Extract:
    """The whole extractive analysis."""
    found = key_points(index, points, duplicate_cosine)
    return Extract(
        title=title(index, media_title),
        tldr=tldr(index, found),
        key_points=found,
        claims=claims(index, claim_limit, duplicate_cosine),
    )
