"""Grounding with the bundled MiniLM: sentences, alignment, timestamps, duplicates, figures, quotes."""

from __future__ import annotations

import pytest

from crews.grounding import TranscriptIndex
from crews.text import sentences
from memory.embeddings import MiniLMEmbedder
from pipelines.models import Segment

SEGMENTS = [
    Segment(start=0.0, end=4.0, text="Welcome to the show. The Eiffel Tower in Paris"),
    Segment(start=4.0, end=9.0, text="was completed in eighteen eighty nine."),
    Segment(start=9.0, end=14.0, text="Mount Everest is the highest mountain on Earth."),
    Segment(start=14.0, end=20.0, text="Water boils at one hundred degrees Celsius at sea level."),
    Segment(
        start=20.0, end=26.0, text="Some say the Great Wall can be seen from the Moon, but that is a myth."
    ),
]
GATES = (0.5, 0.9)  # grounding threshold, duplicate cosine


@pytest.fixture(scope="module")
def embedder() -> MiniLMEmbedder:
    return MiniLMEmbedder()


def test_sentences_are_rebuilt_across_segments_with_interpolated_times() -> None:
    found = sentences(SEGMENTS)
    assert [s.text for s in found] == [
        "Welcome to the show.",
        "The Eiffel Tower in Paris was completed in eighteen eighty nine.",
        "Mount Everest is the highest mountain on Earth.",
        "Water boils at one hundred degrees Celsius at sea level.",
        "Some say the Great Wall can be seen from the Moon, but that is a myth.",
    ]
    assert found[0].start == 0.0
    assert 1.0 < found[1].start < 2.0  # inside the first segment, after "Welcome to the show."
    assert found[1].end == pytest.approx(9.0, abs=0.01)
    assert found[2].start == pytest.approx(9.0, abs=0.01)


def test_unpunctuated_subtitles_are_cut_at_segment_boundaries() -> None:
    words = " ".join(["word"] * 25)
    found = sentences([Segment(start=i * 5.0, end=i * 5.0 + 5, text=words) for i in range(8)])
    assert len(found) > 1 and all(len(s.text.split()) <= 50 for s in found)


async def test_grounded_items_are_kept_with_the_aligned_timestamp(embedder: MiniLMEmbedder) -> None:
    index = await TranscriptIndex.build(embedder, SEGMENTS)
    texts = [
        "The Eiffel Tower was finished in 1889.",  # paraphrase, spelled year said as digits
        "Mount Everest is the highest mountain on Earth.",  # verbatim
        "Interest rates will fall next spring.",  # never said
    ]
    verdicts = await index.gate(texts, [26.0, 10.5, 0.0], *GATES)
    assert verdicts.kept == [0, 1] and verdicts.ungrounded == 1
    assert 1.0 < verdicts.timestamps[0] < 2.0  # the model's 26 s (the clip's end) is replaced
    assert verdicts.timestamps[1] == 10.5  # inside its window: the model's own timestamp is kept


async def test_a_claim_with_a_figure_that_was_not_said_is_ungrounded(embedder: MiniLMEmbedder) -> None:
    index = await TranscriptIndex.build(embedder, SEGMENTS)
    wrong = ["The Eiffel Tower in Paris was completed in 1989."]
    assert (await index.gate(wrong, [None], *GATES, check_figures=True)).kept == []
    right = ["The Eiffel Tower in Paris was completed in 1889."]
    assert (await index.gate(right, [None], *GATES, check_figures=True)).kept == [0]


async def test_near_duplicates_are_dropped(embedder: MiniLMEmbedder) -> None:
    index = await TranscriptIndex.build(embedder, SEGMENTS)
    texts = [
        "Water boils at 100 degrees Celsius at sea level.",
        "water boils at 100 degrees celsius at sea level",
        "At sea level, water boils at 100 degrees Celsius.",
        "Mount Everest is the highest mountain on Earth.",
    ]
    verdicts = await index.gate(texts, [None] * 4, *GATES)
    assert verdicts.kept == [0, 3] and verdicts.duplicates == 2


async def test_a_fallacys_quote_must_be_said_verbatim(embedder: MiniLMEmbedder) -> None:
    index = await TranscriptIndex.build(embedder, SEGMENTS)
    quotes = ["the Great Wall can be seen from the Moon", "the Great Wall is visible from space"]
    verdicts = await index.gate(quotes, [0.0, 0.0], *GATES, quotes=quotes)
    assert verdicts.kept == [0] and verdicts.ungrounded == 1
    assert verdicts.timestamps[0] == pytest.approx(20.0, abs=0.01)


async def test_a_transcript_without_speech_grounds_nothing(embedder: MiniLMEmbedder) -> None:
    index = await TranscriptIndex.build(embedder, [Segment(start=0, end=30, text=" ♪ ")])
    assert index.sentences == []
    verdicts = await index.gate(["Some point."], [1.0], *GATES)
    assert verdicts.kept == [] and verdicts.ungrounded == 1


class RandomEmbedder:
    """An embedder whose vectors mean nothing (a misconfigured or unrelated model)."""

    def __init__(self) -> None:
        import numpy as np

        self.rng = np.random.default_rng(7)

    async def embed(self, texts: list[str]) -> list[list[float]]:
        vectors = self.rng.normal(size=(len(texts), 32))
        return (vectors / ((vectors**2).sum(axis=1, keepdims=True) ** 0.5)).tolist()


async def test_an_item_said_word_for_word_is_grounded_whatever_the_embedder() -> None:
    index = await TranscriptIndex.build(RandomEmbedder(), SEGMENTS)
    texts = ["Mount Everest is the highest mountain on Earth.", "Interest rates will fall next spring."]
    verdicts = await index.gate(texts, [None, None], *GATES)
    assert verdicts.kept == [0] and verdicts.ungrounded == 1
