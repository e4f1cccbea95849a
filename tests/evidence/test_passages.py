"""Evidence text: decoding, main text, passages, BM25 and ranking with the real bundled embedder."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from evidence.passages import bm25_scores, decode_text, looks_binary, main_text, rank, split_passages
from memory.embeddings import MiniLMEmbedder

CLAIM = "The Eiffel Tower was completed in 1889"
STATING = "Construction of the Paris landmark designed by Eiffel's company ended in March 1889."
DISTRACTORS = [
    "The Eiffel Tower restaurant renovation was completed, and the Eiffel Tower lifts were modernised.",
    "Eiffel Tower souvenirs: the Eiffel Tower gift shop sells tower keyrings, each one completed by hand.",
    "The Statue of Liberty was completed in 1886 and dedicated in New York Harbor that October.",
    "Tickets for the Eiffel Tower can be bought online; the queues are shortest early in the morning.",
    "Paris hosts millions of tourists every year, most of whom visit the Louvre and Notre-Dame.",
]


class CountingEmbedder:
    """The real MiniLM embedder, recording what each `embed` call was given."""

    def __init__(self, embedder: MiniLMEmbedder) -> None:
        self.embedder = embedder
        self.calls: list[list[str]] = []

    async def embed(self, texts: Sequence[str]) -> list[list[float]]:
        """Embed with the real model and record the batch."""
        self.calls.append(list(texts))
        return await self.embedder.embed(texts)


@pytest.fixture(scope="module")
def minilm() -> MiniLMEmbedder:
    """The bundled all-MiniLM-L6-v2 (no download)."""
    return MiniLMEmbedder()


def sentences(count: int) -> list[str]:
    return [f"Sentence number {i} talks about the tower and its long history." for i in range(1, count + 1)]


def test_passages_are_overlapping_windows_of_sentences() -> None:
    parts = sentences(7)
    passages = split_passages("  ".join(parts), sentences_per_passage=3)
    assert passages == [" ".join(parts[0:3]), " ".join(parts[2:5]), " ".join(parts[4:7])]


def test_passages_normalise_whitespace_and_drop_short_ones() -> None:
    text = "Too short.\n\n   The tower\t was built   in Paris\nfor the fair of 1889 by Eiffel's firm.   Ok."
    assert split_passages(text, sentences_per_passage=1) == [
        "The tower was built in Paris for the fair of 1889 by Eiffel's firm."
    ]
    assert split_passages(text) == [
        "Too short. The tower was built in Paris for the fair of 1889 by Eiffel's firm. Ok."
    ]
    assert split_passages("Tiny. Also tiny.") == []


def test_passages_respect_max_chars() -> None:
    long_sentence = "word " * 400 + "end."
    passages = split_passages(" ".join([*sentences(5), long_sentence]), max_chars=200)
    assert passages and all(len(passage) <= 200 for passage in passages)
    assert sum(passage.count("word") for passage in passages) >= 400  # the long sentence is kept, in pieces


def test_bm25_prefers_lexical_matches() -> None:
    scores = bm25_scores(CLAIM, [*DISTRACTORS, "The Eiffel Tower was completed in 1889."])
    assert max(range(len(scores)), key=scores.__getitem__) == len(DISTRACTORS)
    assert scores[4] == 0.0  # no word in common with the claim
    assert scores[0] > 0.0


def test_bm25_rare_terms_and_length_normalisation() -> None:
    passages = ["tower tower paris", "tower 1889", "tower paris", "tower " + "filler " * 40 + "1889"]
    scores = bm25_scores("tower 1889", passages)
    assert scores[1] > scores[0]  # the rare term outweighs repeating the common one
    assert scores[1] > scores[3]  # the same matches in a longer passage count less
    assert bm25_scores("anything", []) == []


async def test_rank_puts_the_passage_stating_the_claim_first(minilm: MiniLMEmbedder) -> None:
    passages = [*DISTRACTORS[:2], STATING, *DISTRACTORS[2:]]
    lexical = bm25_scores(CLAIM, passages)
    assert max(range(len(passages)), key=lexical.__getitem__) != 2  # words alone prefer a distractor
    ranked = await rank(minilm, CLAIM, passages, k=3)
    assert len(ranked) == 3
    assert ranked[0][0] == 2
    assert [score for _, score in ranked] == sorted((score for _, score in ranked), reverse=True)
    assert all(-1.0 <= score <= 1.0 for _, score in ranked)


async def test_rank_embeds_only_the_bm25_prefilter_in_one_call(minilm: MiniLMEmbedder) -> None:
    filler = [f"Unrelated note {i} about gardening, cooking and the weather in spring." for i in range(40)]
    counting = CountingEmbedder(minilm)
    ranked = await rank(counting, CLAIM, [*filler, STATING, *DISTRACTORS], k=2, prefilter=4)
    assert len(counting.calls) == 1
    assert counting.calls[0][0] == CLAIM and len(counting.calls[0]) == 5
    assert ranked[0][0] == 40
    assert all(index >= 40 for index, _ in ranked)  # the filler had no lexical match
    assert await rank(counting, CLAIM, [], k=3) == []


def test_main_text_drops_boilerplate_and_reads_metadata() -> None:
    html = (
        "<html><head><title>Tower facts | Example</title>"
        '<meta property="article:published_time" content="2021-03-31T08:00:00Z"></head><body>'
        "<nav><ul><li>Home</li><li>Subscribe now</li></ul></nav><article><h1>Tower facts</h1>"
        f"<p>{STATING}</p><p>{DISTRACTORS[0]}</p></article>"
        "<footer><p>Privacy policy and cookies.</p></footer>"
        "</body></html>"
    )
    title, text, published = main_text(html, "https://example.org/tower")
    assert STATING in text and DISTRACTORS[0] in text
    assert "Subscribe now" not in text and "Privacy policy" not in text
    assert title == "Tower facts" and published == "2021-03-31"


def test_main_text_falls_back_to_title_and_paragraphs() -> None:
    html = "<html><title>Only a menu</title><body><nav><p>Opening hours are 9 to 5.</p></nav></body>"
    title, text, _ = main_text(html, "https://example.org/")
    assert (title, text) == ("Only a menu", "Opening hours are 9 to 5.")


def test_decode_text_follows_bom_header_and_meta() -> None:
    cafe = "<html><p>café “quoted”</p></html>"
    assert decode_text(cafe.encode("cp1252"), "text/html; charset=iso-8859-1", html=True) == cafe
    meta = '<meta charset="windows-1252">' + cafe
    assert decode_text(meta.encode("cp1252"), "text/html", html=True) == meta
    assert decode_text(b"\xef\xbb\xbf" + cafe.encode(), "text/html; charset=iso-8859-1", html=True) == cafe
    assert decode_text(cafe.encode(), "text/html; charset=no-such-charset", html=True) == cafe
    assert "\ufffd" in decode_text(b"caf\xe9", "text/plain", html=False)  # UTF-8 with replacement


def test_looks_binary() -> None:
    assert looks_binary(b"GIF89a\x01\x00", "text/html")
    assert looks_binary(b"%PDF-1.7 text-only header", "text/html")
    assert looks_binary(b"plain\x00text", "text/plain")
    assert not looks_binary("t\x00e\x00x\x00t\x00".encode("latin-1"), "text/plain; charset=utf-16le")
    assert not looks_binary(b"Ordinary text.", "text/plain")
