"""The offline ZIM provider against real Kiwix ZIM files built with libzim's writer."""

from __future__ import annotations

from pathlib import Path

import pytest

from evidence.providers import ProviderError
from evidence.zim import ZimArchive
from fakes.zim_archive import ZIM_DATE, build_zim

EIFFEL = "The Eiffel Tower is a wrought-iron lattice tower in Paris.\n\nIt is 330 metres tall since 2022."
PARIS = 'Paris is the capital of France. The "City of Light" is home to the Eiffel Tower.'
MOON = "The Moon orbits the Earth at an average distance of 384,400 km."
ARTICLES = {"Eiffel Tower": EIFFEL, "Paris": PARIS, "Moon": MOON}
# A few articles sharing common words, one of them the only holder of the rarer ones.
SEA = {
    "Sea level rise": "Sea level rise comes from ocean warming and melting glaciers. Tide gauges measure it.",
    "Ocean": "The ocean covers most of the Earth. Its level changes with the tides.",
    "Glacier": "A glacier is a body of ice that moves under its own weight.",
    "Harbour": "A harbour is a sheltered body of water where ships are moored. Its level changes.",
}


async def test_zim_search_returns_article_text(tmp_path: Path) -> None:
    path = build_zim(tmp_path / "wiki_en.zim", ARTICLES)
    archive = ZimArchive(path)

    hits = await archive.search("Eiffel tower metres", 5)

    assert hits, "the indexed archive should find the article"
    first = hits[0]
    assert first.provider == "zim"
    assert first.title == "Eiffel Tower"
    assert first.url == "zim://wiki_en.zim/Eiffel_Tower"
    assert first.published == ZIM_DATE
    assert first.text is not None
    assert "330 metres tall" in first.text and "wrought-iron lattice tower" in first.text
    assert "<" not in first.text and "tracking" not in first.text and "margin" not in first.text
    assert first.snippet.startswith("The Eiffel Tower") or first.snippet.startswith("Eiffel Tower")
    assert "Moon" not in [hit.title for hit in hits]
    assert len(await archive.search("Eiffel Tower Paris", 1)) == 1  # the open archive is reused


async def test_zim_truncates_text(tmp_path: Path) -> None:
    path = build_zim(tmp_path / "wiki_en.zim", ARTICLES)

    hits = await ZimArchive(path, max_chars=25).search("Moon orbits", 3)

    assert [hit.title for hit in hits] == ["Moon"]
    assert hits[0].text is not None and 0 < len(hits[0].text) <= 25


async def test_zim_missing_file(tmp_path: Path) -> None:
    missing = tmp_path / "absent.zim"

    with pytest.raises(ProviderError, match="does not exist: check ZIM_PATH") as caught:
        await ZimArchive(missing).search("Eiffel", 3)
    assert str(missing) in caught.value.reason and caught.value.provider == "zim"


async def test_zim_unreadable_file(tmp_path: Path) -> None:
    broken = tmp_path / "broken.zim"
    broken.write_bytes(b"this is not a zim archive" * 10)

    with pytest.raises(ProviderError, match=r"broken\.zim cannot be read \(.+\)"):
        await ZimArchive(broken).search("Eiffel", 3)


async def test_zim_without_fulltext_index(tmp_path: Path) -> None:
    path = build_zim(tmp_path / "plain.zim", ARTICLES, indexed=False)

    with pytest.raises(ProviderError, match=r"plain\.zim has no full-text index, so it cannot be searched"):
        await ZimArchive(path).search("Eiffel", 3)


async def test_a_spoken_claim_finds_its_article_though_no_article_holds_all_its_words(tmp_path: Path) -> None:
    # libzim matches only articles holding every word of a query; a claim as spoken has words
    # no article holds ("rifle": a mistranscription) and words spread over several articles.
    path = build_zim(tmp_path / "wiki_en.zim", {**ARTICLES, **SEA})
    archive = ZimArchive(path)

    eiffel = await archive.search("The rifle tower in Paris is a lattice of iron built by engineers", 3)
    sea = await archive.search("Scientists say the sea level is rising because glaciers are melting fast", 3)

    assert [hit.title for hit in eiffel][:1] == ["Eiffel Tower"]
    assert "Moon" not in [hit.title for hit in eiffel]
    assert [hit.title for hit in sea][:1] == ["Sea level rise"]  # it holds the rarer words
    assert len(sea) == 3 and len({hit.url for hit in sea}) == 3


async def test_a_claims_capitalised_operators_are_words_not_syntax(tmp_path: Path) -> None:
    path = build_zim(tmp_path / "wiki_en.zim", SEA)

    hits = await ZimArchive(path).search("Sea level is NOT rising AND glaciers are OR were melting", 2)

    assert [hit.title for hit in hits][:1] == ["Sea level rise"] and len(hits) == 2


async def test_a_query_with_no_known_word_finds_nothing(tmp_path: Path) -> None:
    path = build_zim(tmp_path / "wiki_en.zim", ARTICLES)

    assert await ZimArchive(path).search("zxqv blorft the and of", 5) == []


async def test_a_query_xapian_cannot_parse_still_finds_by_its_words(tmp_path: Path) -> None:
    path = build_zim(tmp_path / "wiki_en.zim", ARTICLES)

    hits = await ZimArchive(path).search('the "Eiffel tower AND (lattice', 2)

    assert [hit.title for hit in hits][:1] == ["Eiffel Tower"]
