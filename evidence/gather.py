"""Evidence for one run's claims: long-term memory, then the configured outside sources.

`RunEvidence.open(resources, plan)` builds, once per verification stage, the providers named
in `EVIDENCE_SOURCES` (in that order), the SSRF-guarded page fetcher and the evidence cache.
For each claim, `for_claim`:

1. searches memory (the reference corpus and this guild's earlier analyses and cited pages);
2. asks every outside provider the claim's queries — the claim itself, then the queries a
   capable model suggests (the `search_queries` task, gated like every answer and kept only
   when they share words with the claim) or an entity-focused variant — within the tier's
   searches per claim and per run; search results are cached;
3. takes the pages: Wikipedia and ZIM give their text, other results are fetched (cached,
   robots.txt respected) within the tier's pages per claim and per run;
4. splits them into passages of a few sentences, keeps what BM25 prefers and ranks that by
   embedding similarity to the claim — then, with RERANKER_BASE_URL, lets a cross-encoder
   reorder the embedder's best (`evidence.rerank`); the best `WEB_PASSAGES` become numbered
   evidence with their URL, title, site, date and the exact quote.

A provider that fails (unreachable, rate limited, JSON disabled) is not asked again in this
run — a per-run breaker, so a dead source costs seconds per run, not per claim — and
`notes()` names it for the briefing's caveats; a failing reranker likewise. Every search and
fetch is recorded as a `SourceAttempt` (provenance, shown by `autointel runs show`).
"""

from __future__ import annotations

import asyncio
import itertools
import re
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Protocol

from crews.builder import Tier
from crews.extractive import entities
from crews.figures import figures
from crews.schemas import SearchQueriesOutput
from crews.text import CONNECTIVES, STOPWORDS, bare_word, content_words, normalise
from evidence.cache import EvidenceCache
from evidence.fetch import Fetcher, FetchError, Page
from evidence.passages import MemoEmbedder, rank, split_passages
from evidence.providers import ProviderError, SearchHit, SearxNG, Wikipedia
from evidence.rerank import RERANK_POOL, Reranker, RerankError, build_reranker
from evidence.zim import ZimArchive
from observability.metrics import (
    EVIDENCE_FETCH_SECONDS,
    EVIDENCE_FETCHES,
    EVIDENCE_PASSAGES,
    EVIDENCE_RERANKS,
    EVIDENCE_SEARCHES,
)
from pipelines.models import Claim, Evidence, SourceAttempt
from pipelines.stage import Resources
from routing.budget import Budget, TaskFailed
from routing.catalog import embedded_only

MEMORY = "memory"
WEB_PASSAGES = 5  # passages from outside sources given to the judge per claim
MAX_QUOTE_CHARS = 400  # evidence is quoted, length-capped (and short passages embed fast)
PASSAGE_SENTENCES = 2  # side by side, not overlapping: every sentence is quoted whole in one passage
PREFILTER = 8  # passages BM25 keeps for the embedder, per claim (more lets distractors in)
RESULTS_PER_SEARCH = 5
QUERY_CHARS = 300
VARIANT_WORDS = 3  # key words beside names and figures in a claim's focused query
_QUERY_WORD = re.compile(r"[^\W\d_][\w'’-]*")
_NOT_KEY = CONNECTIVES | STOPWORDS  # never a claim's key words


class Provider(Protocol):
    """An outside evidence source (evidence.providers)."""

    name: str

    async def search(self, query: str, limit: int) -> list[SearchHit]:
        """Hits for a query, best first."""
        ...


def claim_queries(claim: str, limit: int) -> list[str]:
    """The claim itself, then an entity-focused variant, deduplicated.

    The variant keeps the claim's names and figures and its first few other key words as
    written (search engines want words, not stems), so an engine that ranks the whole claim
    poorly still meets the pages about its subject.
    """
    queries = [" ".join(claim.split())[:QUERY_CHARS]]
    named = entities(claim)
    stated = [f.text for f in figures(claim)]
    in_names = {word.lower() for name in named for word in name.split()}
    words = [
        w
        for w in map(bare_word, _QUERY_WORD.findall(claim))
        if len(w) > 2 and normalise(w) not in _NOT_KEY and w.lower() not in in_names
    ]
    focused = " ".join(dict.fromkeys(named + stated + words[:VARIANT_WORDS]))
    if focused:
        queries.append(focused)
    unique: dict[str, str] = {}
    for query in queries:
        unique.setdefault(normalise(query), query)
    return list(unique.values())[: max(limit, 0)]


def build_providers(resources: Resources, fetcher: Fetcher) -> list[Provider]:
    """The configured outside providers, in `EVIDENCE_SOURCES` order (memory is not one of them)."""
    config = resources.settings.evidence
    providers: list[Provider] = []
    for name in config.sources:
        if name == "searxng" and config.searxng_url:
            providers.append(SearxNG(config.searxng_url, fetcher.get_json))
        elif name == "wikipedia":
            providers.append(Wikipedia(config.wikipedia_api_url, fetcher.get_json))
        elif name == "zim" and config.zim_path is not None:
            providers.append(ZimArchive(config.zim_path))
    return providers


@dataclass
class RunEvidence:
    """The evidence sources of one verification: providers, fetcher, cache, breakers and bounds."""

    resources: Resources
    plan: Tier
    fetcher: Fetcher | None = None
    cache: EvidenceCache | None = None
    providers: list[Provider] = field(default_factory=list)
    broken: dict[str, str] = field(default_factory=dict)
    attempts: list[SourceAttempt] = field(default_factory=list)
    searches_left: int = 0
    pages_left: int = 0
    answered: set[str] = field(default_factory=set)
    probes: dict[str, asyncio.Lock] = field(default_factory=dict)
    embedder: MemoEmbedder | None = None  # the run's passages are embedded once
    reranker: Reranker | None = None  # RERANKER_BASE_URL's cross-encoder
    rerank_failure: str | None = None  # why it failed: not asked again in this run

    @classmethod
    @asynccontextmanager
    async def open(cls, resources: Resources, plan: Tier) -> AsyncIterator[RunEvidence]:
        """The run's evidence sources; the fetcher and cache are closed on exit."""
        settings = resources.settings
        outside = [s for s in settings.evidence.sources if s != MEMORY]
        run = cls(resources, plan, searches_left=plan.searches_per_run, pages_left=plan.pages_per_run)
        if not outside or plan.searches_per_run <= 0:
            yield run
            return
        run.cache = EvidenceCache.open(settings)
        run.fetcher = Fetcher(
            settings.evidence, allow_private=settings.pipeline.allow_private_urls, cache=run.cache
        )
        run.reranker = build_reranker(settings)
        try:
            run.providers = build_providers(resources, run.fetcher)
            for name in outside:
                if name not in {p.name for p in run.providers}:
                    run.broken[name] = _unconfigured(name)
            yield run
        finally:
            await run.fetcher.aclose()
            await run.cache.close()
            if run.reranker is not None:
                await run.reranker.aclose()

    def notes(self) -> list[str]:
        """What could not be used in this run (sources, pages, budget), for the briefing's caveats."""
        notes = [f"Evidence source {name} was not used: {reason}" for name, reason in self.broken.items()]
        unread = [a for a in self.attempts if a.url and a.status in ("failed", "blocked")]
        if unread:
            reasons = "; ".join(dict.fromkeys(a.detail or a.status for a in unread[:3]))
            notes.append(f"{len(unread)} result page(s) could not be read ({reasons}).")
        if self.rerank_failure:
            notes.append(f"Evidence was ranked by embeddings alone: {self.rerank_failure}.")
        if any(a.status == "skipped" for a in self.attempts):
            notes.append("Some searches or pages were skipped: this depth's evidence budget was spent.")
        return notes

    async def for_claim(
        self, claim: Claim, namespace: str, exclude_run: str | None, budget: Budget | None = None
    ) -> list[Evidence]:
        """Memory evidence and the best outside passages for a claim, best first, numbered from 1."""
        from pipelines.verify import retrieve_evidence

        found: list[Evidence] = []
        if MEMORY in self.resources.settings.evidence.sources:
            started = time.perf_counter()
            found += await retrieve_evidence(self.resources, namespace, claim.text, exclude_run)
            status, detail = ("ok", f"{len(found)} passage(s)") if found else ("empty", None)
            self._record(claim, MEMORY, status, query=claim.text, started=started, detail=detail)
        if self.fetcher is not None:
            found += await self._outside(claim, budget)
        found.sort(key=lambda e: -e.score)
        return [e.model_copy(update={"number": i + 1}) for i, e in enumerate(found)]

    async def _queries(self, claim: Claim, budget: Budget | None) -> list[str]:
        """The claim's queries: its own words, then — with a capable model — the model's, if grounded."""
        limit = self.plan.searches_per_claim
        queries = claim_queries(claim.text, limit)
        if budget is None or limit <= 1 or embedded_only(self.resources.settings):
            return queries
        from crews.builder import run_task, task_text

        prompt = task_text("search_queries", claim=claim.text, max_queries=str(limit))
        try:
            answer = await run_task("search_queries", self.resources, prompt, SearchQueriesOutput, budget)
        except TaskFailed:
            return queries
        told = set(content_words(claim.text))
        suggested = [q for q in answer.value.queries if told & set(content_words(q))]  # about this claim
        merged = {normalise(q): q for q in [*queries[:1], *suggested, *queries[1:]]}
        return list(merged.values())[:limit]

    async def _outside(self, claim: Claim, budget: Budget | None) -> list[Evidence]:
        ranked_lists: list[list[SearchHit]] = []
        for query in await self._queries(claim, budget):
            for provider in self.providers:  # the claim itself on every source before its variants
                if provider.name in self.broken:
                    continue
                if self.searches_left <= 0:
                    detail = "the depth's search budget is spent"
                    self._record(claim, provider.name, "skipped", query=query, detail=detail)
                    continue
                self.searches_left -= 1
                ranked_lists.append(await self._search(claim, provider, query))
        hits: dict[str, SearchHit] = {}
        for rank_hits in itertools.zip_longest(*ranked_lists):  # every search's best first
            for hit in rank_hits:
                if hit is not None:
                    hits.setdefault(hit.url, hit)
        documents: list[tuple[SearchHit, str]] = []
        fetched = 0
        for hit in hits.values():
            if hit.text is None and fetched >= self.plan.pages_per_claim:
                continue
            fetched += hit.text is None
            text = hit.text if hit.text is not None else await self._page_text(claim, hit)
            if text:
                documents.append((hit, text))
        return await self._passages(claim, documents)

    async def _search(self, claim: Claim, provider: Provider, query: str) -> list[SearchHit]:
        """One search, cached; until a provider has answered once in this run, one probe at a time."""
        if provider.name in self.answered:
            return await self._search_once(claim, provider, query)
        async with self.probes.setdefault(provider.name, asyncio.Lock()):
            if provider.name in self.broken:  # the probe before this one failed: the breaker is open
                return []
            return await self._search_once(claim, provider, query)

    async def _search_once(self, claim: Claim, provider: Provider, query: str) -> list[SearchHit]:
        assert self.cache is not None
        cached = await self.cache.get(f"search:{provider.name}", query)
        if isinstance(cached, list):
            self._record(claim, provider.name, "cached", query=query)
            EVIDENCE_SEARCHES.labels(provider=provider.name, outcome="cached").inc()
            return [SearchHit(**item) for item in cached]
        started = time.perf_counter()
        try:
            found = await provider.search(query, RESULTS_PER_SEARCH)
        except ProviderError as exc:
            self.broken[provider.name] = exc.reason
            self._record(claim, provider.name, "failed", query=query, started=started, detail=exc.reason)
            EVIDENCE_SEARCHES.labels(provider=provider.name, outcome="failed").inc()
            return []
        self.answered.add(provider.name)
        outcome = "ok" if found else "empty"
        self._record(
            claim, provider.name, outcome, query=query, started=started, detail=f"{len(found)} result(s)"
        )
        EVIDENCE_SEARCHES.labels(provider=provider.name, outcome=outcome).inc()
        await self.cache.put(f"search:{provider.name}", query, [hit.__dict__ for hit in found])
        return found

    async def _page_text(self, claim: Claim, hit: SearchHit) -> str | None:
        assert self.fetcher is not None
        if self.pages_left <= 0:
            self._record(
                claim, hit.provider, "skipped", url=hit.url, detail="the depth's page budget is spent"
            )
            return None
        self.pages_left -= 1
        started = time.perf_counter()
        try:
            page: Page = await self.fetcher.page(hit.url)
        except FetchError as exc:
            status = "blocked" if exc.kind in ("blocked", "robots") else "failed"
            self._record(claim, hit.provider, status, url=hit.url, started=started, detail=str(exc))
            EVIDENCE_FETCHES.labels(outcome=exc.kind).inc()
            return hit.snippet or None
        self._record(claim, hit.provider, "ok", url=hit.url, started=started, detail=page.title)
        EVIDENCE_FETCHES.labels(outcome="ok").inc()
        EVIDENCE_FETCH_SECONDS.observe(time.perf_counter() - started)
        return page.text

    async def _passages(self, claim: Claim, documents: list[tuple[SearchHit, str]]) -> list[Evidence]:
        from crews.grounding import embedder_of

        unique: dict[str, tuple[SearchHit, str]] = {}  # mirrored text is one passage, not k copies
        for hit, text in documents:
            for passage in split_passages(text, PASSAGE_SENTENCES, MAX_QUOTE_CHARS, overlap=0):
                unique.setdefault(normalise(passage), (hit, passage))
        pieces = list(unique.values())
        if not pieces:
            return []
        if self.embedder is None:
            self.embedder = MemoEmbedder(embedder_of(self.resources))
        texts = [p for _, p in pieces]
        if self.reranker is None or self.rerank_failure is not None:
            ranked = await rank(self.embedder, claim.text, texts, WEB_PASSAGES, prefilter=PREFILTER)
        else:
            pool = await rank(self.embedder, claim.text, texts, RERANK_POOL, prefilter=2 * RERANK_POOL)
            ranked = (await self._reranked(claim, [texts[i] for i, _ in pool], pool))[:WEB_PASSAGES]
        EVIDENCE_PASSAGES.inc(len(pieces))
        return [
            Evidence(
                number=0,
                text=pieces[i][1][:MAX_QUOTE_CHARS],
                source=pieces[i][0].title,
                kind="web",
                score=round(score, 4),
                url=pieces[i][0].url,
                title=pieces[i][0].title,
                site=_site(pieces[i][0].url),
                published=pieces[i][0].published,
                provider=pieces[i][0].provider,
            )
            for i, score in ranked
        ]

    async def _reranked(
        self, claim: Claim, texts: list[str], pool: list[tuple[int, float]]
    ) -> list[tuple[int, float]]:
        """`pool` in the reranker's order; the embedder's order when the reranker fails."""
        assert self.reranker is not None
        try:
            order = await self.reranker.order(claim.text, texts)
        except RerankError as exc:
            self.rerank_failure = exc.reason
            EVIDENCE_RERANKS.labels(outcome="failed").inc()
            return pool
        EVIDENCE_RERANKS.labels(outcome="ok").inc()
        return [pool[j] for j in order]

    def _record(
        self,
        claim: Claim,
        provider: str,
        status: str,
        *,
        query: str | None = None,
        url: str | None = None,
        started: float | None = None,
        detail: str | None = None,
    ) -> None:
        seconds = round(time.perf_counter() - started, 3) if started is not None else 0.0
        self.attempts.append(
            SourceAttempt(
                claim_id=claim.id,
                provider=provider,
                query=query,
                url=url,
                status=status,
                seconds=seconds,
                detail=detail,
            )
        )


def _site(url: str) -> str | None:
    found = re.match(r"^[a-z]+://(?:www\.)?([^/:?#]+)", url)
    return found.group(1) if found else None


def _unconfigured(name: str) -> str:
    return {
        "searxng": "SEARXNG_URL is not set",
        "zim": "ZIM_PATH is not set",
    }.get(name, "it is not configured")
