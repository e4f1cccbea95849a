"""Evidence providers against a fake SearxNG and a fake MediaWiki API (ZIM files: test_zim.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest

from evidence.providers import (
    GetJSON,
    ProviderError,
    SearxNG,
    Wikipedia,
    describe_http_error,
    wiki_page_url,
)
from fakes.mediawiki_server import TIMESTAMP, MediaWikiServer
from fakes.searxng_server import FakePage, Fault, SearxNGServer

UA = "AutoIntel/0.1 (fact-checking bot; test suite)"
EIFFEL = "The Eiffel Tower is a wrought-iron lattice tower in Paris.\n\nIt is 330 metres tall since 2022."
PARIS = 'Paris is the capital of France. The "City of Light" is home to the Eiffel Tower.'
NOT_SEARXNG = "answered something that is not SearxNG's JSON"
MAXLAG = '{"error": {"code": "maxlag", "info": "Waiting for db1: 6 seconds lagged"}}'
MOON = "The Moon orbits the Earth at an average distance of 384,400 km."
ARTICLES = {"Eiffel Tower": EIFFEL, "Paris": PARIS, "Moon": MOON}


class HTTPFailure(Exception):
    """A non-2xx answer, with the attributes the providers read structurally."""

    def __init__(self, status: int, retry_after: float | None) -> None:
        super().__init__(f"HTTP {status}")
        self.status = status
        self.retry_after = retry_after


@asynccontextmanager
async def json_client(wait: float = 5.0) -> AsyncIterator[GetJSON]:
    """A plain httpx client sending UA, as a GetJSON."""
    async with httpx.AsyncClient(headers={"User-Agent": UA}, timeout=wait, trust_env=False) as client:

        async def get_json(url: str, params: dict[str, str]) -> Any:
            response = await client.get(url, params=params)
            if not response.is_success:
                retry_after = response.headers.get("Retry-After")
                raise HTTPFailure(response.status_code, float(retry_after) if retry_after else None)
            return response.json()

        yield get_json


@pytest.fixture
async def get_json() -> AsyncIterator[GetJSON]:
    async with json_client() as fetch:
        yield fetch


@pytest.fixture
async def searxng() -> AsyncIterator[SearxNGServer]:
    server = SearxNGServer(
        [
            FakePage(
                "https://example.org/eiffel",
                "Eiffel <b>Tower</b> facts",
                "The <b>Eiffel Tower</b> is 330 metres tall &amp; stands in Paris.",
                "2023-05-01T00:00:00",
            ),
            FakePage("https://example.org/paris", "Paris", "Paris has the Eiffel Tower."),
            FakePage("https://example.org/moon", "Moon", MOON),
        ]
    )
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
async def wiki() -> AsyncIterator[MediaWikiServer]:
    server = MediaWikiServer(dict(ARTICLES), stale_titles=["Eiffel Tower replica"])
    await server.start()
    yield server
    await server.stop()


# --- SearxNG ----------------------------------------------------------------------------


async def test_searxng_hits_are_parsed(searxng: SearxNGServer, get_json: GetJSON) -> None:
    hits = await SearxNG(searxng.base_url + "/", get_json).search("Eiffel Tower height", 10)

    by_url = {hit.url: hit for hit in hits}
    assert set(by_url) == {"https://example.org/eiffel", "https://example.org/paris"}
    first = by_url["https://example.org/eiffel"]
    assert first.provider == "searxng"
    assert first.title == "Eiffel Tower facts"
    assert first.snippet == "The Eiffel Tower is 330 metres tall & stands in Paris."
    assert first.published == "2023-05-01T00:00:00"
    assert first.text is None
    assert by_url["https://example.org/paris"].published is None
    assert searxng.requests == [{"q": "Eiffel Tower height", "format": "json"}]


async def test_searxng_limit_is_respected(searxng: SearxNGServer, get_json: GetJSON) -> None:
    provider = SearxNG(searxng.base_url, get_json)

    assert len(await provider.search("Eiffel Tower Paris", 1)) == 1
    assert await provider.search("Eiffel Tower Paris", 0) == []
    assert len(searxng.requests) == 1


async def test_searxng_without_json_format_names_the_setting(get_json: GetJSON) -> None:
    server = SearxNGServer([FakePage("https://example.org/a", "A", "a")], json_enabled=False)
    base_url = await server.start()
    try:
        with pytest.raises(ProviderError) as caught:
            await SearxNG(base_url, get_json).search("a", 5)
    finally:
        await server.stop()

    assert caught.value.provider == "searxng"
    assert base_url in caught.value.reason
    assert "settings.yml" in caught.value.reason and "search.formats" in caught.value.reason


async def test_searxng_rate_limit_gives_retry_after(searxng: SearxNGServer, get_json: GetJSON) -> None:
    searxng.faults.append(Fault(status=429, retry_after=30))

    with pytest.raises(ProviderError, match=r"is rate limiting \(retry after 30 s\)"):
        await SearxNG(searxng.base_url, get_json).search("Eiffel", 5)


@pytest.mark.parametrize(
    ("fault", "expected"),
    [
        (Fault(status=500), r"failed \(HTTP 500\)"),
        (
            Fault(status=200, body="<html>Welcome to nginx</html>"),
            "answered something that is not SearxNG's JSON",
        ),
        (Fault(status=200, body='{"query": "x"}'), "answered something that is not SearxNG's JSON"),
    ],
)
async def test_searxng_failures_are_explained(
    searxng: SearxNGServer, get_json: GetJSON, fault: Fault, expected: str
) -> None:
    searxng.faults.append(fault)

    with pytest.raises(ProviderError, match=expected):
        await SearxNG(searxng.base_url, get_json).search("Eiffel", 5)


async def test_searxng_without_results_is_empty(searxng: SearxNGServer, get_json: GetJSON) -> None:
    assert await SearxNG(searxng.base_url, get_json).search("zebra", 5) == []


async def test_searxng_with_failing_engines_says_so(searxng: SearxNGServer, get_json: GetJSON) -> None:
    searxng.unresponsive_engines = [["duckduckgo", "timeout"], ["brave", "Suspended: too many requests"]]

    with pytest.raises(ProviderError, match=r"engines did not answer \(duckduckgo: timeout; brave: Susp"):
        await SearxNG(searxng.base_url, get_json).search("zebra", 5)


async def test_unreachable_and_slow_instances(searxng: SearxNGServer) -> None:
    searxng.faults.append(Fault(delay=2.0))
    async with json_client(wait=0.2) as impatient:
        with pytest.raises(ProviderError, match=r"is unreachable \(timed out\)"):
            await SearxNG(searxng.base_url, impatient).search("Eiffel", 5)
    base_url = searxng.base_url
    await searxng.stop()
    async with json_client() as fetch:
        with pytest.raises(ProviderError, match=r"at http://127\.0\.0\.1:\d+ is unreachable \(.+\)"):
            await SearxNG(base_url, fetch).search("Eiffel", 5)


def test_provider_errors_hide_a_urls_password() -> None:
    reason = describe_http_error("searxng", "http://ops:s3cret@searxng:8080", None, None, cause="refused")
    assert reason == "SearxNG at http://ops:***@searxng:8080 is unreachable (refused)"


async def test_a_wiki_api_error_hides_a_urls_password() -> None:
    async def refusing(url: str, params: dict[str, str]) -> Any:
        return {"error": {"code": "maxlag", "info": "Waiting for db1"}}

    with pytest.raises(ProviderError) as caught:
        await Wikipedia("https://ops:s3cret@wiki.example/w/api.php", refusing).search("Moon", 3)
    assert "s3cret" not in caught.value.reason and "ops:***@wiki.example" in caught.value.reason


def test_describe_http_error() -> None:
    url = "https://search.example"
    assert (
        describe_http_error("searxng", url, 404, None)
        == f"SearxNG at {url} answered HTTP 404: check SEARXNG_URL"
    )
    assert describe_http_error("wikipedia", url, 429, None).endswith("rate limiting (no Retry-After given)")
    assert describe_http_error("wikipedia", url, 429, 2.5).endswith("rate limiting (retry after 2.5 s)")
    assert "HTTP_USER_AGENT" in describe_http_error("wikipedia", url, 403, None)
    assert describe_http_error("searxng", url, None, None, cause="Name or service not known") == (
        f"SearxNG at {url} is unreachable (Name or service not known)"
    )


# --- Wikipedia --------------------------------------------------------------------------


async def test_wikipedia_searches_then_extracts_each_page(wiki: MediaWikiServer, get_json: GetJSON) -> None:
    hits = await Wikipedia(wiki.api_url, get_json).search("Eiffel Tower", 5)

    assert [hit.title for hit in hits] == ["Eiffel Tower", "Paris"]
    eiffel, paris = hits
    assert eiffel.provider == "wikipedia"
    assert eiffel.url == f"{wiki.base_url}/wiki/Eiffel_Tower"
    assert eiffel.text == EIFFEL  # the whole article, both paragraphs
    assert paris.text == PARIS  # a batched extracts call would have left this one without text
    assert eiffel.published == TIMESTAMP
    assert "<span" not in eiffel.snippet and "Eiffel Tower" in eiffel.snippet
    assert '"City of Light"' in paris.snippet
    search, *extracts = wiki.requests
    assert search["list"] == "search" and search["srsearch"] == "Eiffel Tower"
    assert search["formatversion"] == "2" and search["format"] == "json"
    assert sorted(r["titles"] for r in extracts) == ["Eiffel Tower", "Eiffel Tower replica", "Paris"]
    assert all(r["explaintext"] == "1" and r["prop"] == "extracts" for r in extracts)


async def test_wikipedia_sends_the_user_agent(wiki: MediaWikiServer, get_json: GetJSON) -> None:
    await Wikipedia(wiki.api_url, get_json).search("Moon", 3)

    assert len(wiki.user_agents) == 2
    assert set(wiki.user_agents) == {UA}


async def test_wikipedia_skips_pages_missing_from_extracts(wiki: MediaWikiServer, get_json: GetJSON) -> None:
    hits = await Wikipedia(wiki.api_url, get_json).search("replica", 5)

    assert hits == []
    assert [r.get("titles") for r in wiki.requests] == [None, "Eiffel Tower replica"]


async def test_wikipedia_reads_a_legacy_wikis_formatversion_1_answers(
    wiki: MediaWikiServer, get_json: GetJSON
) -> None:
    wiki.legacy = True

    assert [hit.title for hit in await Wikipedia(wiki.api_url, get_json).search("Eiffel Tower", 5)] == [
        "Eiffel Tower",
        "Paris",
    ]
    assert await Wikipedia(wiki.api_url, get_json).search("replica", 5) == []  # "missing": "" is missing


@pytest.mark.parametrize("rewrites", [True, False], ids=["rewritten", "suggested"])
async def test_wikipedia_finds_a_misspelt_querys_correction(
    wiki: MediaWikiServer, get_json: GetJSON, rewrites: bool
) -> None:
    wiki.corrections, wiki.rewrites = {"Eifel Towr": "Eiffel Tower"}, rewrites

    hits = await Wikipedia(wiki.api_url, get_json).search("Eifel Towr", 5)

    assert [hit.title for hit in hits] == ["Eiffel Tower", "Paris"]
    searches = [r["srsearch"] for r in wiki.requests if r.get("list") == "search"]
    assert searches == (["Eifel Towr"] if rewrites else ["Eifel Towr", "Eiffel Tower"])
    assert all(r["srenablerewrites"] == "1" for r in wiki.requests if r.get("list") == "search")


async def test_wikipedia_searches_a_suggestion_once(wiki: MediaWikiServer, get_json: GetJSON) -> None:
    wiki.rewrites = False
    wiki.corrections = {"Eifel Towr": "Eifle Towre", "Eifle Towre": "Eifel Towr"}  # suggestions in a loop

    assert await Wikipedia(wiki.api_url, get_json).search("Eifel Towr", 5) == []
    assert [r["srsearch"] for r in wiki.requests] == ["Eifel Towr", "Eifle Towre", "eifel OR towr"]


async def test_wikipedia_searches_a_claims_words_by_or_when_no_article_holds_them_all(
    wiki: MediaWikiServer, get_json: GetJSON
) -> None:
    claim = "The famous iron tower in Paris is NOT 330 metres tall, and Gustave says so"

    hits = await Wikipedia(wiki.api_url, get_json).search(claim, 5)

    assert [hit.title for hit in hits][:2] == ["Eiffel Tower", "Paris"]  # the most words first
    assert hits[0].text == EIFFEL
    searches = [r["srsearch"] for r in wiki.requests if r.get("list") == "search"]
    words = "famous OR iron OR tower OR paris OR 330 OR metres OR tall OR gustave OR says"
    assert searches == [claim, words]  # stopwords dropped, and no upper-case NOT left to negate


async def test_wikipedia_articles_are_whole_well_past_their_lead(
    wiki: MediaWikiServer, get_json: GetJSON
) -> None:
    sections = [f"Section {n} describes the tower's history in plain words." for n in range(800)]
    wiki.articles["Eiffel Tower"] = "\n\n".join([EIFFEL, *sections, "It was repainted in 2024."])

    [hit, *_] = await Wikipedia(wiki.api_url, get_json).search("Eiffel Tower", 5)

    assert hit.text is not None and len(hit.text) > 40_000 and hit.text.endswith("repainted in 2024.")


async def test_wikipedia_limit_and_truncation(wiki: MediaWikiServer, get_json: GetJSON) -> None:
    hits = await Wikipedia(wiki.api_url, get_json, max_chars=40).search("Eiffel Tower Paris", 1)

    assert len(hits) == 1
    assert wiki.requests[0]["srlimit"] == "1"
    assert hits[0].text is not None and 0 < len(hits[0].text) <= 40
    assert EIFFEL.startswith(hits[0].text)


@pytest.mark.parametrize(
    ("faults", "expected"),
    [
        ([Fault(status=429, retry_after=5)], r"Wikipedia API at .* is rate limiting \(retry after 5 s\)"),
        ([Fault(status=403)], "set HTTP_USER_AGENT"),
        ([Fault(), Fault(status=503)], r"failed \(HTTP 503\)"),  # the extracts call fails
        ([Fault(status=200, body="not json at all")], "not MediaWiki API JSON"),
        (
            [
                Fault(
                    status=200,
                    body='{"error": {"code": "maxlag", "info": "Waiting for db1: 6 seconds lagged"}}',
                )
            ],
            r"refused the query \(maxlag: Waiting for db1",
        ),
    ],
)
async def test_wikipedia_failures_are_explained(
    wiki: MediaWikiServer, get_json: GetJSON, faults: list[Fault], expected: str
) -> None:
    wiki.faults.extend(faults)

    with pytest.raises(ProviderError, match=expected) as caught:
        await Wikipedia(wiki.api_url, get_json).search("Eiffel Tower", 5)
    assert caught.value.provider == "wikipedia"


def test_wiki_page_urls() -> None:
    api = "https://en.wikipedia.org/w/api.php"
    assert wiki_page_url(api, "Côte d'Azur") == "https://en.wikipedia.org/wiki/C%C3%B4te_d%27Azur"
    assert wiki_page_url(api, "AC/DC (band)") == "https://en.wikipedia.org/wiki/AC/DC_(band)"
    assert wiki_page_url(api, "100% Pure") == "https://en.wikipedia.org/wiki/100%25_Pure"
    assert wiki_page_url("https://wiki.example.org/api.php", "Main Page") == (
        "https://wiki.example.org/index.php?title=Main_Page"
    )
