"""The optional cross-encoder reranker (RERANKER_BASE_URL): its client, and how evidence uses it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from crews.builder import tier
from evidence.gather import WEB_PASSAGES, RunEvidence
from evidence.rerank import Reranker, RerankError, build_reranker
from fakes.rerank_server import RerankServer
from fakes.searxng_server import FakePage, Fault, SearxNGServer
from fakes.web_pages import WebPages
from memory.vector import REFERENCE_NAMESPACE
from pipelines.models import Claim, Depth
from pipelines.stage import Resources
from settings import Settings

CLAIM = "The Eiffel Tower was finished in 1887."
ANSWER = "Work on the ironwork ended in March 1889, two years and two months after it began."
TOWER = [  # pairs of sentences (one passage each) that share the claim's words but do not answer it
    f"The Eiffel Tower is visited by {n} million people in a typical year. "
    f"The Eiffel Tower was a landmark of Paris long before it was finished with lights in {1900 + n}."
    for n in range(2, 10)
]


@pytest.fixture
async def reranker() -> AsyncIterator[RerankServer]:
    server = RerankServer(prefer=["March 1889"])
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
async def searxng() -> AsyncIterator[tuple[SearxNGServer, WebPages]]:
    pages = WebPages()
    await pages.start()
    url = pages.article("/tower", "Eiffel Tower history", [*TOWER[:4], ANSWER, *TOWER[4:]])
    server = SearxNGServer(pages=[FakePage(url, "Eiffel Tower history", TOWER[0])])
    await server.start()
    yield server, pages
    await server.stop()
    await pages.stop()


def settings_with(
    make_settings: Callable[..., Settings], tmp_path: Path, searxng: SearxNGServer, reranker_url: str | None
) -> Settings:
    return make_settings(
        pipeline={"data_dir": tmp_path / "data", "allow_private_urls": True},
        evidence={"sources": ["searxng"], "searxng_url": searxng.base_url},
        llm={"reranker_base_url": reranker_url, "reranker_model": "bge-reranker-v2-m3", "api_key": "k-123"},
    )


async def evidence_texts(settings: Settings, claims: list[str]) -> tuple[list[list[str]], list[str]]:
    """The evidence texts gathered for each claim in one run, and the run's caveat notes."""
    found: list[list[str]] = []
    async with RunEvidence.open(Resources(settings), tier(Depth.COMPREHENSIVE)) as run:
        client = run.reranker
        for number, text in enumerate(claims, start=1):
            claim = Claim(id=number, text=text, timestamp=0.0, checkworthiness=3)
            found.append([e.text for e in await run.for_claim(claim, REFERENCE_NAMESPACE, None)])
    assert client is None or client._client.is_closed  # closed with the run, failed or not
    return found, run.notes()


async def test_the_rerankers_choice_reaches_the_judge(
    make_settings: Callable[..., Settings],
    tmp_path: Path,
    searxng: tuple[SearxNGServer, WebPages],
    reranker: RerankServer,
) -> None:
    search, _ = searxng
    (alone,), _ = await evidence_texts(settings_with(make_settings, tmp_path / "a", search, None), [CLAIM])
    assert len(alone) == WEB_PASSAGES and not any("March 1889" in text for text in alone)  # cosine's pick

    settings = settings_with(make_settings, tmp_path / "b", search, reranker.base_url)
    (reranked,), notes = await evidence_texts(settings, [CLAIM])

    assert len(reranked) == WEB_PASSAGES and any("March 1889" in text for text in reranked)
    assert notes == []
    (request,) = reranker.requests
    assert request["query"] == CLAIM and request["model"] == "bge-reranker-v2-m3"
    assert len(request["documents"]) > WEB_PASSAGES and request["top_n"] == len(request["documents"])
    assert reranker.authorizations == ["Bearer k-123"]


async def test_a_failing_reranker_falls_back_to_embeddings_once_per_run_and_says_so(
    make_settings: Callable[..., Settings],
    tmp_path: Path,
    searxng: tuple[SearxNGServer, WebPages],
    reranker: RerankServer,
) -> None:
    search, _ = searxng
    reranker.faults.append(Fault(status=503))
    settings = settings_with(make_settings, tmp_path, search, reranker.base_url)

    found, notes = await evidence_texts(settings, [CLAIM, "The Eiffel Tower is visited by millions."])

    assert all(len(texts) == WEB_PASSAGES for texts in found)  # the embedder's ranking, still evidence
    assert len(reranker.requests) == 1  # the breaker: not asked again for the second claim
    cause = f"the reranker at {reranker.base_url}/rerank answered HTTP 503"
    assert notes == [f"Evidence was ranked by embeddings alone: {cause}."]


async def test_reranker_orders_documents_by_relevance(reranker: RerankServer) -> None:
    client = Reranker(reranker.base_url, None, None)
    try:
        order = await client.order("eiffel tower height", ["paris", "March 1889 finish", "eiffel tower"])
    finally:
        await client.aclose()
    assert order == [1, 2, 0]
    assert "model" not in reranker.requests[0] and reranker.authorizations == [""]


@pytest.mark.parametrize(
    ("fault", "reason"),
    [
        (Fault(status=404), "answered HTTP 404"),
        (Fault(status=200, body="<html>not an API</html>"), "not a ranking"),
        (Fault(status=200, body='{"results": [{"index": 7, "relevance_score": 1.0}]}'), "not a ranking"),
        (Fault(status=200, body='{"object": "error", "message": "model not found"}'), "not a ranking"),
    ],
)
async def test_reranker_errors_are_specific(reranker: RerankServer, fault: Fault, reason: str) -> None:
    reranker.faults.append(fault)
    client = Reranker(reranker.base_url, "m", None)
    try:
        with pytest.raises(RerankError, match=reason):
            await client.order("q", ["a", "b"])
    finally:
        await client.aclose()


async def test_unreachable_reranker_is_an_error_that_hides_its_password(unused_tcp_port: int) -> None:
    client = Reranker(f"http://ops:s3cret@127.0.0.1:{unused_tcp_port}/v1", None, None)
    try:
        with pytest.raises(RerankError, match="is unreachable") as caught:
            await client.order("q", ["a", "b"])
    finally:
        await client.aclose()
    assert (
        "s3cret" not in caught.value.reason and f"ops:***@127.0.0.1:{unused_tcp_port}" in caught.value.reason
    )


async def test_the_reranker_is_built_only_when_configured(make_settings: Callable[..., Settings]) -> None:
    assert build_reranker(make_settings()) is None
    built = build_reranker(make_settings(llm={"reranker_base_url": "http://reranker:8000/v1/"}))
    assert built is not None and built.url == "http://reranker:8000/v1/rerank"
    await built.aclose()
