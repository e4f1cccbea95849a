"""The offline analyst on the project's own talk: central distinct points, verbatim check-worthy claims."""

from __future__ import annotations

from pathlib import Path

import pytest

from crews import extractive
from crews.grounding import TranscriptIndex
from memory.embeddings import MiniLMEmbedder
from pipelines.models import Segment

TALK = Path(__file__).parent.parent / "data" / "talk" / "talk.txt"


@pytest.fixture(scope="module")
def embedder() -> MiniLMEmbedder:
    return MiniLMEmbedder()


def talk_segments() -> list[Segment]:
    lines = [line for line in TALK.read_text(encoding="utf-8").splitlines() if line.strip()]
    return [Segment(start=i * 6.0, end=i * 6.0 + 5.5, text=line) for i, line in enumerate(lines)]


async def test_key_points_are_distinct_central_sentences_in_order(embedder: MiniLMEmbedder) -> None:
    index = await TranscriptIndex.build(embedder, talk_segments())
    points = extractive.key_points(index, 8, duplicate_cosine=0.9)
    said = {s.text: s.start for s in index.sentences}
    assert len(points) == 8
    assert all(p.point in said and p.timestamp == said[p.point] for p in points)
    assert [p.timestamp for p in points] == sorted(p.timestamp for p in points)
    assert not any(p.point.endswith("?") or p.point.startswith(("Hello", "Thank")) for p in points)


async def test_claims_are_the_most_check_worthy_sentences_verbatim(embedder: MiniLMEmbedder) -> None:
    index = await TranscriptIndex.build(embedder, talk_segments())
    claims = extractive.claims(index, 10, duplicate_cosine=0.9)
    said = {s.text: s.start for s in index.sentences}
    assert len(claims) == 10
    assert all(c.text in said and c.timestamp == said[c.text] for c in claims)
    assert [c.checkworthiness for c in claims] == sorted((c.checkworthiness for c in claims), reverse=True)
    assert not [c for c in claims if c.text.endswith("?") or "personally" in c.text.lower()]


@pytest.mark.parametrize(
    ("sentence", "worth"),
    [
        ("What does this mean for all of us?", False),
        ("I personally find this very worrying.", False),
        ("Hello and welcome to this week's climate briefing.", False),
        ("Thank you for listening.", False),
        ("Sea levels rose by 20 centimetres between 1900 and 2000.", True),
        ("The Amazon is the largest rainforest in the world.", True),
        ("Rising temperatures are caused by carbon dioxide emissions.", True),
    ],
)
def test_checkworthiness_features(sentence: str, worth: bool) -> None:
    assert (extractive.checkworthiness(sentence) > 0) is worth


async def test_the_title_is_the_medias_own_else_a_central_sentence(embedder: MiniLMEmbedder) -> None:
    index = await TranscriptIndex.build(embedder, talk_segments())
    assert extractive.title(index, "Climate myths, checked") == "Climate myths, checked"
    own = extractive.title(index, None)
    assert len(own) <= 80 and any(s.text.startswith(own.rstrip("…")) for s in index.sentences)


async def test_a_single_sentence_is_summary_claim_and_title(embedder: MiniLMEmbedder) -> None:
    one = [Segment(start=2.0, end=7.0, text="The bridge opened in 2019 after ten years of work.")]
    index = await TranscriptIndex.build(embedder, one)
    found = extractive.extract(index, None, 5, 6, 0.9)
    assert [p.point for p in found.key_points] == [one[0].text]
    assert [c.text for c in found.claims] == [one[0].text] and found.claims[0].timestamp == 2.0
    assert found.tldr == one[0].text and found.title.startswith("The bridge opened in 2019")


@pytest.mark.parametrize(
    ("sentence", "names"),
    [
        ("Phil Jones says no global warming since 1995.", ["Phil Jones"]),
        ("The Eiffel Tower is 330 metres tall.", ["Eiffel Tower"]),
        ("Therefore, CO2 levels could not have forced temperatures to rise.", ["CO2"]),
        ("Seas leave Antarctica’s ice for U.S. coasts and Earth's poles.", ["Antarctica", "U.S.", "Earth"]),
        ("I'm told that Bill Gates's fund paid NASA.", ["Bill Gates", "NASA"]),
    ],
)
def test_entities_keep_digits_and_abbreviations_and_drop_possessives_and_openers(
    sentence: str, names: list[str]
) -> None:
    assert extractive.entities(sentence) == names
