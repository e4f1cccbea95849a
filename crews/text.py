"""Plain-text helpers of the quality gates and the extractive analyst: normalised words and
sentences rebuilt from timed transcript segments.

Whisper segments do not follow sentences: one segment may hold two sentences, one sentence
may run over three segments. `sentences()` joins the segments, splits the text at sentence
ends and gives each sentence the time where it starts and ends, interpolated by character
position inside its segments. Text without punctuation (some subtitles) is cut at segment
boundaries once a sentence grows past `MAX_SENTENCE_WORDS`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Protocol

MAX_SENTENCE_WORDS = 25
_NON_WORD = re.compile(r"[^a-z0-9]+")
_SENTENCE_END = re.compile(r"[.!?]+[\"')\]]*\s+")
_POSSESSIVE = re.compile(r"['’]s$")
STOPWORDS = frozenset(
    "a an the and or but of to in on at by for with from as is are was were be been being it its this "
    "that these those there their they them he she his her we our you your i me my not no so if then "
    "than too very can could will would should may might must do does did has have had into over "
    "about up down out just also only each every some any all more most such what which who whom "
    "how when where why".split()
)
# Words that say who reports a statement or how it connects to the last one: never its subject.
CONNECTIVES = frozenset(
    "say says said claim claims claimed find finds found show shows suggest suggests "
    "therefore thus hence however although though while because since given yet still even "
    "also already now well much many currently meanwhile moreover furthermore indeed".split()
)


class Timed(Protocol):
    """A piece of transcript with its time span (pipelines.models.Segment)."""

    start: float
    end: float
    text: str


@dataclass(frozen=True)
class Sentence:
    """One sentence of the transcript, where it starts and ends (seconds)."""

    index: int
    text: str
    start: float
    end: float


def normalise(text: str) -> str:
    """Lower-case words and digits separated by single spaces (for comparing texts)."""
    return _NON_WORD.sub(" ", text.lower()).strip()


def bare_word(word: str) -> str:
    """A word without its possessive 's ("Antarctica's", "Antarctica’s" → "Antarctica")."""
    return _POSSESSIVE.sub("", word)


def content_words(text: str) -> list[str]:
    """The words of `text` that carry meaning (no stopwords), normalised and lightly stemmed."""
    return [stem(w) for w in normalise(text).split() if w not in STOPWORDS]


@lru_cache(maxsize=1 << 16)
def stem(word: str) -> str:
    """A light stem so that plural and tense variants meet ("rises", "rising" → "ris").

    Memoised: web pages and transcripts repeat their words, and BM25 stems every one.
    """
    for suffix in ("ing", "ed", "es", "s"):
        if len(word) > len(suffix) + 2 and word.endswith(suffix):
            return word[: -len(suffix)]
    return word


def _time_at(position: int, spans: list[tuple[int, int, float, float]]) -> float:
    """The time of a character position of the joined text (interpolated inside its segment)."""
    for first, last, start, end in spans:
        if position < last or (first, last, start, end) == spans[-1]:
            share = (min(max(position, first), last) - first) / max(last - first, 1)
            return start + share * max(end - start, 0.0)
    return spans[-1][3] if spans else 0.0


def sentences(segments: Sequence[Timed]) -> list[Sentence]:
    """The transcript's sentences with interpolated start and end times."""
    spans: list[tuple[int, int, float, float]] = []
    parts: list[str] = []
    cursor = 0
    for segment in segments:
        piece = " ".join(segment.text.split())
        if not piece:
            continue
        spans.append((cursor, cursor + len(piece), segment.start, segment.end))
        parts.append(piece)
        cursor += len(piece) + 1
    joined = " ".join(parts)
    boundaries = {m.end() for m in _SENTENCE_END.finditer(joined + " ")}
    boundaries |= _long_run_cuts(joined, spans, boundaries)
    found: list[Sentence] = []
    begin = 0
    for cut in sorted(boundaries | {len(joined)}):
        text = joined[begin:cut].strip()
        if text and any(c.isalnum() for c in text):
            lead = begin + (len(joined[begin:cut]) - len(joined[begin:cut].lstrip()))
            found.append(
                Sentence(len(found), text, _time_at(lead, spans), _time_at(begin + len(text), spans))
            )
        begin = cut
    return found


def _long_run_cuts(joined: str, spans: list[tuple[int, int, float, float]], ends: set[int]) -> set[int]:
    """Segment boundaries that cut sentences longer than `MAX_SENTENCE_WORDS` words."""
    cuts: set[int] = set()
    last_cut = 0
    for _first, last, _start, _end in spans:
        if any(last_cut < end <= last + 1 for end in ends):
            last_cut = max(end for end in ends if end <= last + 1)
            continue
        if len(joined[last_cut:last].split()) >= MAX_SENTENCE_WORDS:
            cuts.add(last + 1)
            last_cut = last + 1
    return cuts


def shorten(text: str, limit: int) -> str:
    """`text` cut at a word boundary to at most `limit` characters (with an ellipsis when cut)."""
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    cut = text.rfind(" ", 0, limit - 1)
    return text[: cut if cut > 0 else limit - 1].rstrip(",;:- ") + "…"


def joined_text(items: Sequence[Sentence]) -> str:
    """Sentences as one text."""
    return " ".join(s.text for s in items)
