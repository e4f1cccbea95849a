"""Benchmark: web evidence gathering — retrieval quality, speed and what a warm cache saves.

Everything runs on loopback: tests/fakes/web_pages.py serves the pages, tests/fakes/searxng_server.py
is the search engine, and the product's own `evidence.gather.RunEvidence` gathers (no model call).

1. `retrieval`: every article of the CLIMATE-FEVER dev split (Diggelmann et al., 2020) becomes one
   page of its evidence sentences inside realistic boilerplate, which the search stand-in ranks
   by BM25 over title and text (its snippet: the first two sentences). For each
   SUPPORTS/REFUTES claim, recall@5 = a gold (SUPPORTS/REFUTES) evidence sentence of that claim
   is in one of the top 5 items: normalised containment (primary), or cosine >= 0.9 (secondary
   figure). Memory empty and sources = searxng, with comprehensive's per-claim bounds and the
   per-run bounds lifted (so the run budget does not starve later claims); beside it the
   offline path, sources = zim (the same articles in a Kiwix ZIM file with libzim's real
   Xapian index), and sources = memory holding the dev evidence (as `autointel eval factcheck`).
2. `speed`: 10 claims x 4 pages of ~100 KB (the search stand-in answers 4 per query) at depth
   comprehensive, the claims run like pipelines/verify.py runs them (`run_all`, limit
   `claims_in_flight`), with ENABLE_PARALLEL_FACT_CHECKING on
   and off, each with a fresh cache (own data dir); embedding is timed through a wrapper.
3. `cost`: the flag-on pass again on the same data dir: page fetches must be 0.

    .venv/bin/python benchmarks/evidence.py [--limit N] [--threads 1] [--reranker URL [--reranker-model M]]

With `--reranker`, part 1's web gathering sends the embedder's best passages to that
cross-encoder (`RERANKER_BASE_URL`), which picks the five.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import sys
import tempfile
import time
import unicodedata
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any
from urllib.parse import quote

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]  # the repo first: tests/ mirrors its package names

import numpy as np  # noqa: E402
from aiohttp import web  # noqa: E402
from prometheus_client import REGISTRY  # noqa: E402

from crews.builder import Tier, run_all, tier  # noqa: E402
from evidence.gather import MAX_QUOTE_CHARS, RunEvidence  # noqa: E402
from evidence.passages import main_text  # noqa: E402
from fakes.searxng_server import FakePage, SearxNGServer  # noqa: E402
from fakes.web_pages import WebPages, article_html  # noqa: E402
from fakes.zim_archive import article_path, build_zim  # noqa: E402
from memory.corpus import evidence_items  # noqa: E402
from memory.embeddings import MiniLMEmbedder  # noqa: E402
from memory.vector import REFERENCE_NAMESPACE, VectorMemory  # noqa: E402
from observability.logs import setup_logging  # noqa: E402
from pipelines.models import Claim, Depth, Evidence  # noqa: E402
from pipelines.stage import Resources  # noqa: E402
from pipelines.verify import claims_in_flight  # noqa: E402
from settings import Settings, load_settings  # noqa: E402

DEV = ROOT / "tests" / "data" / "climate_fever_dev.jsonl"
GOLD_LABELS = {"SUPPORTS", "REFUTES"}
TOP = 5
COSINE = 0.9
PAGE_BYTES = 100_000
SPEED_CLAIMS = 10
PAGES_PER_QUERY = 4
Row = dict[str, Any]
Case = tuple[Claim, list[str], set[str]]  # claim, gold sentences, URLs of the gold articles' pages


def norm(text: str) -> str:
    """NFKC, lower case, words only: the form in which gold sentences and passages are compared."""
    return " ".join(re.findall(r"\w+", unicodedata.normalize("NFKC", text).lower()))


def passages_ranked() -> float:
    """The product's counter of passages ranked against claims (observability.metrics)."""
    return REGISTRY.get_sample_value("autointel_evidence_passages_total") or 0.0


class TimedEmbedder:
    """Wraps the embedder: texts, calls and busy seconds (overlapping calls counted once)."""

    def __init__(self, inner: MiniLMEmbedder) -> None:
        self.inner, self.name, self.dimension = inner, inner.name, inner.dimension
        self.texts, self.calls = 0, 0
        self.spans: list[tuple[float, float]] = []

    async def embed(self, texts: Sequence[str]) -> list[list[float]]:
        """Embed through the wrapped model, timing the call."""
        started = time.perf_counter()
        vectors = await self.inner.embed(texts)
        self.spans.append((started, time.perf_counter()))
        self.texts, self.calls = self.texts + len(texts), self.calls + 1
        return vectors

    def busy(self) -> float:
        """Seconds during which at least one embed call was running."""
        total, end = 0.0, float("-inf")
        for start, stop in sorted(self.spans):
            if stop > end:
                total, end = total + stop - max(start, end), stop
        return total


def settings_for(
    data_dir: Path,
    sources: list[str],
    searxng: str | None,
    parallel: bool = False,
    reranker: Row | None = None,
) -> Settings:
    """Embedded defaults (no LLM), loopback allowed, the given evidence sources, flag and reranker."""
    return load_settings(
        pipeline={"data_dir": data_dir, "allow_private_urls": True},
        evidence={"sources": sources, "searxng_url": searxng},
        llm={"base_url": None, **(reranker or {})},
        flags={"parallel_fact_checking": parallel},
    )


def articles(rows: list[Row]) -> dict[str, list[str]]:
    """Every evidence sentence grouped by article, in the article's order, without duplicates."""
    found: dict[str, dict[str, int]] = {}
    for row in rows:
        for item in row["evidences"]:
            position = int(str(item.get("evidence_id", "x:0")).rsplit(":", 1)[-1])
            found.setdefault(item["article"], {})[" ".join(item["evidence"].split())] = position
    return {name: sorted(sentences, key=sentences.__getitem__) for name, sentences in found.items()}


def cases(rows: list[Row], url_of: dict[str, str]) -> list[Case]:
    """The SUPPORTS/REFUTES claims that have gold evidence sentences."""
    found: list[Case] = []
    for number, row in enumerate(rows, start=1):
        gold = [e for e in row["evidences"] if e["evidence_label"] in GOLD_LABELS]
        if row["claim_label"] in GOLD_LABELS and gold:
            claim = Claim(id=number, text=row["claim"], timestamp=0.0, checkworthiness=3)
            found.append((claim, [e["evidence"] for e in gold], {url_of.get(e["article"], "") for e in gold}))
    return found


def cut_short(top: list[Evidence], gold: list[str]) -> bool:
    """Whether a quote capped at MAX_QUOTE_CHARS ends inside a gold sentence (its first 5+ words)."""
    for item in (e for e in top if len(e.text) >= MAX_QUOTE_CHARS):
        tail = norm(item.text).split()[:-1]  # the last word may be cut
        for words in (norm(g).split() for g in gold):
            if any(tail[-k:] == words[:k] for k in range(5, len(words))):
                return True
    return False


async def matched(embedder: MiniLMEmbedder, top: list[Evidence], gold: list[str]) -> tuple[bool, bool]:
    """(a gold sentence is contained in a top item, ... or one is at cosine >= 0.9 to it)."""
    passages = [f" {norm(e.text)} " for e in top]
    if any(f" {norm(g)} " in p for g in gold for p in passages):
        return True, True
    if not top:
        return False, False
    vectors = np.asarray(await embedder.embed([*gold, *(e.text for e in top)]), dtype=np.float32)
    cosines = vectors[len(gold) :] @ vectors[: len(gold)].T
    return False, bool((cosines >= COSINE).any())


async def recall(resources: Resources, plan: Tier, claims: list[Case], embedder: MiniLMEmbedder) -> Row:
    """recall@5 of the product's gathering over `claims`, one run; and where the misses were lost."""
    contained = either = empty = page_read = cut = 0
    started = time.perf_counter()
    async with RunEvidence.open(resources, plan) as sources:
        for claim, gold, urls in claims:
            found = await sources.for_claim(claim, REFERENCE_NAMESPACE, None)
            hit, close = await matched(embedder, found[:TOP], gold)
            contained, either, empty = contained + hit, either + close, empty + (not found)
            cut += not hit and cut_short(found[:TOP], gold)
            read = {a.url for a in sources.attempts if a.claim_id == claim.id and a.status == "ok"}
            page_read += bool(read & urls)
    n = max(len(claims), 1)
    figures: Row = {
        "claims": len(claims),
        "recall_at_5": round(contained / n, 3),
        "recall_at_5_containment_or_cosine": round(either / n, 3),
        "claims_without_evidence": empty,
        "misses_with_gold_cut_by_quote_cap": cut,
        "seconds": round(time.perf_counter() - started, 2),
    }
    if "searxng" in resources.settings.evidence.sources:
        figures["gold_page_fetched_share"] = round(page_read / n, 3)
    return figures


async def retrieval(
    tmp: Path, rows: list[Row], embedder: MiniLMEmbedder, limit: int | None, reranker: Row | None
) -> Row:
    """Part 1: web recall@5 (memory empty) beside memory recall@5 (dev evidence loaded)."""
    pages, index, url_of = WebPages(), list[FakePage](), dict[str, str]()
    await pages.start()
    for number, (name, sentences) in enumerate(articles(rows).items()):
        url = pages.article(f"/wiki/{number}-{re.sub(r'[^A-Za-z0-9]+', '_', name)}", name, sentences)
        url_of[name] = url
        index.append(FakePage(url, name, " ".join(sentences[:2]), body=" ".join(sentences)))
    search = SearxNGServer(pages=index)
    base = await search.start()
    claims = cases(rows, url_of)[:limit]
    bounds = replace(tier(Depth.COMPREHENSIVE), searches_per_run=10**6, pages_per_run=10**6)
    try:
        web_settings = settings_for(tmp / "retrieval", ["searxng"], base, reranker=reranker)
        on_web = await recall(Resources(web_settings, embedder=embedder), bounds, claims, embedder)
    finally:
        await search.stop()
        await pages.stop()
    memory_settings = settings_for(tmp / "memory", ["memory"], None)
    memory = await VectorMemory.open(memory_settings, embedder, location=":memory:")
    try:
        items = [i for n, row in enumerate(rows, start=1) for i in evidence_items(row["evidences"], DEV, n)]
        await memory.upsert(REFERENCE_NAMESPACE, items)
        resources = Resources(memory_settings, memory=memory, embedder=embedder)
        in_memory = await recall(resources, tier(Depth.COMPREHENSIVE), claims, embedder)
    finally:
        await memory.close()
    return {
        "plan": "comprehensive per-claim bounds (searches 3, pages 5 per claim), per-run bounds lifted",
        "articles": len(index),
        "reranker": (reranker or {}).get("reranker_base_url"),
        "web": on_web,
        "zim": await offline(tmp, rows, embedder, limit, bounds),
        "memory": {**in_memory, "reference_sentences": len(items)},
    }


async def offline(
    tmp: Path, rows: list[Row], embedder: MiniLMEmbedder, limit: int | None, bounds: Tier
) -> Row:
    """recall@5 with sources = zim: the same articles in a Kiwix ZIM file with a Xapian index."""
    found = articles(rows)
    quiet, stdout = os.open(os.devnull, os.O_WRONLY), os.dup(1)
    os.dup2(quiet, 1)  # libzim's writer reports its progress on the process's stdout
    try:
        path = build_zim(tmp / "dev.zim", {name: "\n\n".join(sentences) for name, sentences in found.items()})
    finally:
        os.dup2(stdout, 1)
        os.close(quiet)
        os.close(stdout)
    url_of = {name: f"zim://dev.zim/{quote(article_path(name), safe='/;@$!*(),~:')}" for name in found}
    evidence = {"sources": ["zim"], "zim_path": path}
    settings = load_settings(pipeline={"data_dir": tmp / "zim"}, evidence=evidence, llm={"base_url": None})
    return await recall(Resources(settings, embedder=embedder), bounds, cases(rows, url_of)[:limit], embedder)


class FourPerQuery(SearxNGServer):
    """The SearxNG stand-in answering only its `PAGES_PER_QUERY` best results."""

    async def _search(self, request: web.Request) -> web.Response:
        answer = await super()._search(request)
        if answer.status != 200 or answer.text is None:
            return answer
        data = json.loads(answer.text)
        data["results"] = data["results"][:PAGES_PER_QUERY]
        return web.json_response(data)


def heavy_page(title: str, lead: list[str], filler: list[str], offset: int) -> bytes:
    """~100 KB: the claim's evidence, then other dev sentences three to a paragraph, a big menu."""
    menu = "".join(f'<li><a href="/topic/{k}">Related coverage, part {k}</a></li>' for k in range(150))
    paragraphs, size = list(lead), len(article_html(title, lead)) + len(menu) + 40
    while size < PAGE_BYTES:
        paragraphs.append(" ".join(filler[(offset + k) % len(filler)] for k in range(3)))
        size, offset = size + len(paragraphs[-1]) + 7, offset + 3
    page = article_html(title, paragraphs)
    return page.replace("<footer>", f'<nav class="related"><ul>{menu}</ul></nav><footer>').encode()


async def gather_pass(
    settings: Settings, embedder: TimedEmbedder, claims: list[Claim], pages: WebPages, search: SearxNGServer
) -> Row:
    """Gather evidence for every claim as verify does (`run_all`, its limit); what it took."""
    embedder.texts, embedder.calls, embedder.spans = 0, 0, []
    page_log, search_log, ranked = len(pages.requests), len(search.requests), passages_ranked()
    limit = claims_in_flight(settings)
    started = time.perf_counter()
    async with RunEvidence.open(Resources(settings, embedder=embedder), tier(Depth.COMPREHENSIVE)) as run:

        def job(claim: Claim) -> Callable[[], Awaitable[list[Evidence]]]:
            return lambda: run.for_claim(claim, REFERENCE_NAMESPACE, None)

        parallel = settings.flags.parallel_fact_checking
        found = await run_all([job(c) for c in claims], parallel=parallel, limit=limit)
    seconds = time.perf_counter() - started
    requests = pages.requests[page_log:]
    embedded, busy = embedder.texts - embedder.calls, embedder.busy()
    return {
        "seconds": round(seconds, 3),
        "concurrency_limit": limit if settings.flags.parallel_fact_checking else 1,
        "pages_fetched": sum(1 for r in requests if not r.startswith("/robots.txt")),
        "robots_fetched": sum(1 for r in requests if r.startswith("/robots.txt")),
        "searches_sent": len(search.requests) - search_log,
        "passages_ranked": int(passages_ranked() - ranked),
        "passages_embedded": embedded,
        "embed_busy_seconds": round(busy, 3),
        "passages_per_second_embedded": round(embedded / busy, 1) if busy else None,
        "claims_with_evidence": sum(1 for f in found if f),
    }


async def speed_and_cost(tmp: Path, rows: list[Row], embedder: MiniLMEmbedder) -> tuple[Row, Row]:
    """Parts 2 and 3: 10 claims x 4 heavy pages, flag on / off from cold caches, then on again warm."""
    filler = [s for sentences in articles(rows).values() for s in sentences]
    pages, index, sizes = WebPages(), list[FakePage](), list[int]()
    await pages.start()
    claims: list[Claim] = []
    for number, (claim, gold, _) in enumerate(cases(rows, {})[:SPEED_CLAIMS]):
        claims.append(claim)
        for j in range(PAGES_PER_QUERY):
            body = heavy_page(f"Report {j} on {claim.text[:60]}", gold, filler, 97 * number + 31 * j)
            sizes.append(len(body))
            url = pages.add(f"/speed/{number}/{j}", body)
            index.append(FakePage(url, f"Report {j}", claim.text))
    search = FourPerQuery(pages=index)
    base = await search.start()
    timed = TimedEmbedder(embedder)
    try:
        await embedder.embed(["warm up"])  # model weights and trafilatura loaded before timing
        await asyncio.to_thread(main_text, article_html("Warm", ["Up the extractor."]), "http://x/")
        figures: Row = {"claims": len(claims), "pages_per_claim": PAGES_PER_QUERY, "plan": "comprehensive"}
        figures["page_kb"] = round(sum(sizes) / len(sizes) / 1000, 1)
        for label, flag in (("flag_on", True), ("flag_off", False)):
            settings = settings_for(tmp / label, ["searxng"], base, flag)
            figures[label] = await gather_pass(settings, timed, claims, pages, search)
        figures["off_over_on"] = round(figures["flag_off"]["seconds"] / figures["flag_on"]["seconds"], 2)
        warm = settings_for(tmp / "flag_on", ["searxng"], base, True)
        cost = await gather_pass(warm, timed, claims, pages, search)
    finally:
        await search.stop()
        await pages.stop()
    return figures, {"second_pass_flag_on_same_data_dir": cost}


async def measure(limit: int | None, threads: int, reranker: Row | None = None) -> Row:
    """All three parts in a throwaway directory; the figures and the targets."""
    rows = [json.loads(line) for line in DEV.read_text(encoding="utf-8").splitlines() if line.strip()]
    embedder = MiniLMEmbedder(threads=threads)
    with tempfile.TemporaryDirectory() as tmp:
        found = await retrieval(Path(tmp), rows, embedder, limit, reranker)
        speed, cost = await speed_and_cost(Path(tmp), rows, embedder)
    return {
        "cpu_count": os.cpu_count(),
        "embedding_threads": threads,
        "dataset": "CLIMATE-FEVER dev (tests/data/climate_fever_dev.jsonl)",
        "retrieval": found,
        "speed": speed,
        "cost": cost,
        "targets": {
            "web_recall_at_5_at_least_0_8": found["web"]["recall_at_5"] >= 0.8,
            "flag_on_at_most_5_s": speed["flag_on"]["seconds"] <= 5.0,
            "warm_page_fetches_0": cost["second_pass_flag_on_same_data_dir"]["pages_fetched"] == 0,
        },
    }


def main() -> None:
    """Parse the options, measure, print JSON."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--limit", type=int, default=None, help="only the first N SUPPORTS/REFUTES claims")
    parser.add_argument("--threads", type=int, default=1, help="EMBEDDINGS_THREADS (0 = all cores)")
    parser.add_argument("--reranker", help="a /rerank endpoint's base URL for part 1 (RERANKER_BASE_URL)")
    parser.add_argument("--reranker-model", help="RERANKER_MODEL")
    args = parser.parse_args()
    reranker = {"reranker_base_url": args.reranker, "reranker_model": args.reranker_model}
    setup_logging("ERROR")
    started = time.perf_counter()
    figures = asyncio.run(measure(args.limit, args.threads, reranker if args.reranker else None))
    figures["wall_seconds"] = round(time.perf_counter() - started, 1)
    print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
