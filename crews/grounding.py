"""Grounding: every key point, claim and fallacy the briefing shows is aligned to the transcript.

`TranscriptIndex.build` embeds the transcript once per run: sliding windows of one and two
sentences (sentences rebuilt from the segments, crews.text), in one batch of the configured
embedder (the bundled MiniLM by default). `align` scores items against every window by

    support = GROUNDING_COSINE_WEIGHT · cosine + (1 − GROUNDING_COSINE_WEIGHT) · word overlap

(overlap = share of the item's content words said in the window; overlap − 0.2 alone also
counts, so an item said nearly word for word is grounded whatever the embedder makes of it)
and `gate` keeps an item
only when its best window reaches the threshold (`GATE_GROUNDING_THRESHOLD`), when every
figure it states is said in that window (a claim that says 1989 where the talk says 1889 is
not grounded), when it is not a near-duplicate of an item kept before it (same normalised
text, or cosine ≥ `GATE_DUPLICATE_COSINE`), and — for a fallacy — when its quote is a
verbatim (normalised) substring of the transcript. The item's timestamp becomes the best
window's start unless the model's own timestamp falls inside that window.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from crews.figures import compare, figures
from crews.text import Sentence, Timed, content_words, normalise, sentences
from pipelines.stage import Resources

GROUNDING_COSINE_WEIGHT = 0.5
OVERLAP_DISCOUNT = 0.2  # word overlap alone, less this, also counts as support
WINDOW_SIZES = (1, 2)
Matrix = NDArray[np.float32]


@dataclass(frozen=True)
class Window:
    """Consecutive sentences of the transcript that an item can be aligned to."""

    first: int
    last: int
    text: str
    start: float
    end: float


@dataclass(frozen=True)
class Alignment:
    """An item's best window and how well it matches it."""

    window: Window
    support: float
    cosine: float
    overlap: float


@dataclass
class Verdicts:
    """What `TranscriptIndex.gate` decided for a list of items, in their order."""

    kept: list[int] = field(default_factory=list)
    timestamps: dict[int, float] = field(default_factory=dict)
    ungrounded: int = 0
    duplicates: int = 0


@dataclass
class TranscriptIndex:
    """The transcript's sentences and windows with their embeddings (one batch per run)."""

    embedder: Any
    sentences: list[Sentence]
    windows: list[Window]
    vectors: Matrix
    words: list[set[str]]
    text: str

    @classmethod
    async def build(cls, embedder: Any, segments: Sequence[Timed]) -> TranscriptIndex:
        """Split the transcript into sentences and windows and embed them all at once."""
        found = sentences(segments)
        windows = [
            Window(
                i,
                i + size - 1,
                " ".join(s.text for s in found[i : i + size]),
                found[i].start,
                found[i + size - 1].end,
            )
            for size in WINDOW_SIZES
            for i in range(len(found) - size + 1)
        ]
        vectors = await embed(embedder, [w.text for w in windows])
        words = [set(content_words(w.text)) | _figure_words(w.text) for w in windows]
        text = f" {normalise(' '.join(s.text for s in found))} "
        return cls(embedder, found, windows, vectors, words, text)

    @property
    def sentence_vectors(self) -> Matrix:
        """The embedding of each sentence (the one-sentence windows come first)."""
        return self.vectors[: len(self.sentences)]

    async def align(self, texts: Sequence[str]) -> tuple[list[Alignment | None], Matrix]:
        """Each text's best window (None for an empty transcript) and the texts' embeddings."""
        vectors = await embed(self.embedder, texts)
        if not self.windows or not len(texts):
            return [None] * len(texts), vectors
        cosines = vectors @ self.vectors.T
        found: list[Alignment | None] = []
        for row, text in enumerate(texts):
            wanted = set(content_words(text)) | _figure_words(text)
            overlaps = np.array(
                [len(wanted & words) / len(wanted) if wanted else 0.0 for words in self.words],
                dtype=np.float32,
            )
            support = GROUNDING_COSINE_WEIGHT * cosines[row] + (1 - GROUNDING_COSINE_WEIGHT) * overlaps
            # saying nearly all of the item's words grounds it whatever the embedder makes of it
            support = np.maximum(support, overlaps - OVERLAP_DISCOUNT)
            best = int(np.argmax(support))
            found.append(
                Alignment(
                    self.windows[best], float(support[best]), float(cosines[row][best]), float(overlaps[best])
                )
            )
        return found, vectors

    def quoted(self, quote: str) -> bool:
        """Whether `quote` is said verbatim (ignoring case and punctuation)."""
        plain = normalise(quote)
        return bool(plain) and f" {plain} " in self.text

    async def gate(
        self,
        texts: Sequence[str],
        model_times: Sequence[float | None],
        threshold: float,
        duplicate_cosine: float,
        *,
        check_figures: bool = False,
        quotes: Sequence[str] | None = None,
    ) -> Verdicts:
        """Keep the grounded, distinct items (in order) and give each its aligned timestamp."""
        alignments, vectors = await self.align(texts)
        verdicts = Verdicts()
        seen: set[str] = set()
        for i, (text, found) in enumerate(zip(texts, alignments, strict=True)):
            if quotes is not None and not self.quoted(quotes[i]):
                verdicts.ungrounded += 1
                continue
            if (
                found is None
                or found.support < threshold
                or (check_figures and not _figures_said(text, found.window))
            ):
                verdicts.ungrounded += 1
                continue
            key = normalise(text)
            if key in seen or any(float(vectors[i] @ vectors[j]) >= duplicate_cosine for j in verdicts.kept):
                verdicts.duplicates += 1
                continue
            seen.add(key)
            verdicts.kept.append(i)
            verdicts.timestamps[i] = aligned_time(found.window, model_times[i])
        return verdicts


def aligned_time(window: Window, model_time: float | None) -> float:
    """The model's timestamp when it falls inside the aligned window, else the window's start."""
    if model_time is not None and window.start <= model_time <= window.end:
        return model_time
    return round(window.start, 2)


def _figures_said(text: str, window: Window) -> bool:
    """Every figure the item states agrees with a figure said in its window."""
    stated = figures(text)
    if not stated:
        return True
    agreeing, _conflicting = compare(stated, figures(window.text))
    return len(agreeing) >= len(stated)


def _figure_words(text: str) -> set[str]:
    """Figures as comparable tokens, so "1889" meets "eighteen eighty nine"."""
    return {f"#{figure.value:g}" for figure in figures(text)}


async def embed(embedder: Any, texts: Sequence[str]) -> Matrix:
    """Embeddings of `texts` as a matrix of unit rows (one embedder call)."""
    if not texts:
        return np.zeros((0, 1), dtype=np.float32)
    rows = await embedder.embed(list(texts))
    return np.asarray(rows, dtype=np.float32)


def embedder_of(resources: Resources) -> Any:
    """The process's embedder (the configured one, built once when the entry point opened none)."""
    if resources.embedder is None:
        from memory.embeddings import build_embedder

        resources.embedder = build_embedder(resources.settings)
    return resources.embedder
