"""The doctor's evidence-source checks: one per outside source in EVIDENCE_SOURCES.

- searxng: SEARXNG_URL is set and a real search for `PROBE_QUERY` answers with results (a 403
  means `json` is missing from the instance's `search.formats`).
- wikipedia: one siteinfo + search request to WIKIPEDIA_API_URL answers MediaWiki JSON; warn
  while HTTP_USER_AGENT has no operator contact (Wikimedia's User-Agent policy asks for one).
- zim: ZIM_PATH is set, the file opens, has a full-text index and can be searched.
- reranker (when RERANKER_BASE_URL is set): two probe passages come back ranked, the relevant
  one first.

`memory` is the vector-memory check's. Each check goes through the code fact-checks use: the
SSRF-guarded `evidence.fetch.Fetcher` (same user agent, timeout and ALLOW_PRIVATE_URLS rule)
and the providers of `evidence.providers`, so a source the doctor passes is one a fact-check
can use. Nothing is written anywhere.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from observability.checks import NETWORK_TIMEOUT, CheckResult, Status, hide_password, preload
from settings import Settings

if TYPE_CHECKING:
    from evidence.fetch import Fetcher, FetchError
    from evidence.providers import ProviderError

PROBE_QUERY = "encyclopedia"  # a word every general web index and every Wikipedia has
PROBE_LIMIT = 10
ZIM_DEADLINE = 30.0  # the first search of a large archive reads its index from disk
NO_CONTACT = "operator contact not set"  # in the default HTTP_USER_AGENT
BASE_URL_FIX = (
    "SEARXNG_URL must be the instance's base URL (its /search answers JSON), e.g. http://searxng:8080"
)
BLOCKED_FIX = (
    "the configured API is trusted on a private network, but it redirected to another non-public "
    "address: point the URL at the final address (fetched pages never reach private hosts "
    "unless ALLOW_PRIVATE_URLS=true)"
)


def _fetcher(settings: Settings) -> Fetcher:
    from evidence.fetch import Fetcher

    return Fetcher(settings.evidence, allow_private=settings.pipeline.allow_private_urls)


def _fetch_error(exc: BaseException) -> FetchError | None:
    """The FetchError behind a provider's error, if any."""
    from evidence.fetch import FetchError

    cause = exc if isinstance(exc, FetchError) else exc.__cause__
    return cause if isinstance(cause, FetchError) else None


# --- SearxNG ----------------------------------------------------------------------------------------


def _searxng_failure(exc: ProviderError, url: str) -> CheckResult:
    """The result for a failed probe search, with the fix its cause calls for."""
    details = exc.reason.replace(url, hide_password(url))
    cause = _fetch_error(exc)
    if cause is None:  # answered, but every engine failed (or the answer was not SearxNG's JSON)
        if "engines did not answer" in details:
            fix = "its engines are blocked or rate limited upstream: check its log, or enable other engines"
            return CheckResult(Status.WARN, "searxng", details, fix)
        return CheckResult(Status.FAIL, "searxng", details, BASE_URL_FIX)
    if cause.kind == "blocked":
        return CheckResult(Status.FAIL, "searxng", f"{hide_password(url)}: {cause.message}", BLOCKED_FIX)
    if cause.kind == "unsupported":
        details = f"SearxNG at {hide_password(url)} did not answer its JSON ({cause.message})"
        return CheckResult(Status.FAIL, "searxng", details, BASE_URL_FIX)
    if cause.status == 403:
        fix = (
            "add json to search.formats in the instance's settings.yml (deploy/searxng/settings.yml "
            "in the compose stack) and restart it"
        )
    elif cause.status == 429:
        fix = "turn the instance's limiter off (server.limiter: false) for internal use"
    elif cause.status is not None:
        fix = "check the instance's log, and SEARXNG_URL (the base URL, without /search)"
    else:
        fix = "start SearxNG (docker compose up -d searxng) or fix SEARXNG_URL"
    return CheckResult(Status.FAIL, "searxng", details, fix)


async def check_searxng(settings: Settings) -> list[CheckResult]:
    """One real search for PROBE_QUERY through the SearxNG provider."""
    url = settings.evidence.searxng_url
    if not url:
        details = "searxng is in EVIDENCE_SOURCES but SEARXNG_URL is not set"
        fix = (
            "set SEARXNG_URL (http://searxng:8080 in the compose stack) or drop searxng from EVIDENCE_SOURCES"
        )
        return [CheckResult(Status.FAIL, "searxng", details, fix)]
    await preload("evidence.fetch", "evidence.providers")
    from evidence.providers import ProviderError, SearxNG

    async with _fetcher(settings) as fetcher:
        provider = SearxNG(url, fetcher.get_json)
        try:
            hits = await provider.search(PROBE_QUERY, PROBE_LIMIT)
        except ProviderError as exc:
            return [_searxng_failure(exc, provider.base_url)]
    where = hide_password(provider.base_url)
    if not hits:
        details = f"{where} answered, but found nothing for {PROBE_QUERY!r}"
        fix = "check the instance's engines (its log, or its /stats page)"
        return [CheckResult(Status.WARN, "searxng", details, fix)]
    return [CheckResult(Status.OK, "searxng", f"{where}: {len(hits)} result(s) for {PROBE_QUERY!r}")]


# --- Wikipedia (any MediaWiki API) -----------------------------------------------------------------


def _wikipedia_failure(exc: FetchError, url: str) -> CheckResult:
    """The result for a failed probe request."""
    from evidence.providers import describe_http_error

    where = hide_password(url)
    offline = "on an offline machine, drop wikipedia from EVIDENCE_SOURCES (a ZIM archive works offline)"
    if exc.kind == "blocked":
        return CheckResult(Status.FAIL, "wikipedia", f"{where}: {exc.message}", BLOCKED_FIX)
    if exc.status is not None:
        details = describe_http_error("wikipedia", where, exc.status, exc.retry_after)
        fix = "set HTTP_USER_AGENT with a contact" if exc.status == 403 else "check WIKIPEDIA_API_URL"
        return CheckResult(Status.FAIL, "wikipedia", details, fix)
    if exc.kind == "unsupported":
        details = f"{where} did not answer MediaWiki API JSON ({exc.message})"
        fix = "WIKIPEDIA_API_URL must be the wiki's api.php, e.g. https://en.wikipedia.org/w/api.php"
        return CheckResult(Status.FAIL, "wikipedia", details, fix)
    details = describe_http_error("wikipedia", where, None, None, cause=exc.message)
    return CheckResult(Status.FAIL, "wikipedia", f"{details}; {offline}", f"check the network, or {offline}")


def _site(data: Any, url: str) -> str | None:
    """'<site name> (<host>)' from a siteinfo + search answer; None when it is not MediaWiki's."""
    query = data.get("query") if isinstance(data, dict) else None
    if not isinstance(query, dict) or not isinstance(query.get("search"), list):
        return None
    general = query.get("general")
    general = general if isinstance(general, dict) else {}
    host = str(general.get("servername") or urlsplit(url).hostname or url)
    name = general.get("sitename")
    return f"{name} ({host})" if name else host


async def check_wikipedia(settings: Settings) -> list[CheckResult]:
    """One siteinfo + search request to WIKIPEDIA_API_URL through the fetcher."""
    await preload("evidence.fetch", "evidence.providers")
    from evidence.fetch import FetchError
    from evidence.providers import plain_text

    config = settings.evidence
    url, where = config.wikipedia_api_url, hide_password(config.wikipedia_api_url)
    params = {
        "action": "query",
        "meta": "siteinfo",
        "siprop": "general",
        "list": "search",
        "srsearch": PROBE_QUERY,
        "srlimit": "1",
        "srprop": "",
        "format": "json",
        "formatversion": "2",
    }
    async with _fetcher(settings) as fetcher:
        try:
            data = await fetcher.get_json(url, params)
        except FetchError as exc:
            return [_wikipedia_failure(exc, url)]
    error = data.get("error") if isinstance(data, dict) else None
    if isinstance(error, dict):
        code, info = error.get("code", "error"), plain_text(str(error.get("info", "")))[:120]
        details = f"Wikipedia API at {where} refused the query ({code}: {info})"
        return [CheckResult(Status.FAIL, "wikipedia", details, "check WIKIPEDIA_API_URL")]
    site = _site(data, url)
    if site is None:
        details = f"Wikipedia API at {where} answered something that is not MediaWiki API JSON"
        fix = "WIKIPEDIA_API_URL must be the wiki's api.php, e.g. https://en.wikipedia.org/w/api.php"
        return [CheckResult(Status.FAIL, "wikipedia", details, fix)]
    details = f"{site}: search answers"
    if NO_CONTACT in config.user_agent:
        details += "; HTTP_USER_AGENT has no operator contact"
        fix = (
            "set HTTP_USER_AGENT to e.g. 'AutoIntel/0.1 (https://example.org/bot; ops@example.org)': "
            "Wikimedia's User-Agent policy asks for a contact and may block generic agents"
        )
        return [CheckResult(Status.WARN, "wikipedia", details, fix)]
    return [CheckResult(Status.OK, "wikipedia", details)]


# --- Kiwix ZIM archive --------------------------------------------------------------------------------


def _zim_counts(path: Path) -> tuple[int, bool]:
    """(articles, whether it has a full-text index) of an archive the provider has opened."""
    from libzim.reader import Archive

    archive = Archive(path)
    return int(archive.article_count), bool(archive.has_fulltext_index)


async def check_zim(settings: Settings) -> list[CheckResult]:
    """Open ZIM_PATH and search it through the ZIM provider; report its article count."""
    path = settings.evidence.zim_path
    if path is None:
        details = "zim is in EVIDENCE_SOURCES but ZIM_PATH is not set"
        fix = "set ZIM_PATH to a Kiwix .zim file with a full-text index, or drop zim from EVIDENCE_SOURCES"
        return [CheckResult(Status.FAIL, "zim", details, fix)]
    await preload("evidence.providers", "libzim.reader", "libzim.search")
    from evidence.providers import ProviderError
    from evidence.zim import ZimArchive

    try:
        hits = await ZimArchive(path).search(PROBE_QUERY, 1)
        articles, indexed = await asyncio.to_thread(_zim_counts, path)
    except ProviderError as exc:
        fix = "set ZIM_PATH to a readable Kiwix .zim file with a full-text index (as Kiwix publishes them)"
        return [CheckResult(Status.FAIL, "zim", exc.reason, fix)]
    except RuntimeError as exc:  # the file changed between the search and the count
        return [
            CheckResult(Status.FAIL, "zim", f"ZIM archive {path} cannot be read ({exc})", "check ZIM_PATH")
        ]
    index = "full-text index" if indexed else "no full-text index"
    details = (
        f"{path.name}: {articles} articles, {index}; search works ({len(hits)} hit(s) for {PROBE_QUERY!r})"
    )
    return [CheckResult(Status.OK, "zim", details)]


async def check_reranker(settings: Settings) -> list[CheckResult]:
    """RERANKER_BASE_URL ranks two probe passages through the client evidence gathering uses."""
    await preload("evidence.rerank")
    from evidence.rerank import RerankError, build_reranker

    reranker = build_reranker(settings)
    if reranker is None:
        return []
    where = reranker.where
    try:
        order = await reranker.order(PROBE_QUERY, ["An encyclopedia is a reference work.", "Rain fell."])
    except RerankError as exc:
        fix = "start the rerank server, or fix RERANKER_BASE_URL / RERANKER_MODEL / LLM_API_KEY"
        return [CheckResult(Status.FAIL, "reranker", exc.reason, fix)]
    finally:
        await reranker.aclose()
    if order[0] != 0:
        details = f"{where} ranks a passage about {PROBE_QUERY!r} below one about rain"
        fix = "RERANKER_MODEL must be a reranker (cross-encoder), not an embedding or chat model"
        return [CheckResult(Status.WARN, "reranker", details, fix)]
    model = settings.llm.reranker_model or "its model"
    return [CheckResult(Status.OK, "reranker", f"{model} at {where} ranks evidence passages")]


EVIDENCE_CHECKS: dict[str, Callable[[Settings], Awaitable[list[CheckResult]]]] = {
    "searxng": check_searxng,
    "wikipedia": check_wikipedia,
    "zim": check_zim,
}


def evidence_deadline(settings: Settings, source: str) -> float:
    """How long the doctor gives one source's check: a fetch timeout and slack, or the ZIM's search."""
    return ZIM_DEADLINE if source == "zim" else settings.evidence.fetch_timeout_seconds + NETWORK_TIMEOUT
