"""Evidence search providers: a SearxNG instance and the MediaWiki (Wikipedia) API (the Kiwix ZIM
provider is `evidence.zim`).

Each provider has a `name` and `async search(query, limit) -> list[SearchHit]`. The HTTP
providers take an injected `GetJSON` (the project's SSRF-guarded fetcher in production, a
plain client in tests); it sends the User-Agent and raises on HTTP errors with `.status` and
`.retry_after` attributes, which are read structurally here.

Errors (one hierarchy for this module):

    Exception
    └── ProviderError   a provider could not search; `.reason` is one user-facing line

`describe_http_error` is the one place that turns an HTTP failure into that line;
`_get_json` is this layer's one broad `except`, and it logs.
"""

from __future__ import annotations

import asyncio
import html
import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

from crews.text import STOPWORDS
from observability.checks import hide_password

log = logging.getLogger(__name__)

GetJSON = Callable[[str, dict[str, str]], Awaitable[Any]]
"""(url, query params) -> parsed JSON; raises on HTTP errors (with `.status`, `.retry_after`)."""

EXTRACT_CONCURRENCY = 4  # Wikipedia extract requests in flight at once (one page per request)
# Wikipedia and ZIM articles are ranked whole, as fetched pages are (long articles keep their
# facts far past the lead); the cap only keeps one giant article from flooding the cache.
ARTICLE_CHARS = 100_000
_LABELS = {"searxng": "SearxNG", "wikipedia": "Wikipedia API", "zim": "ZIM archive"}
_SETTINGS = {"searxng": "SEARXNG_URL", "wikipedia": "WIKIPEDIA_API_URL", "zim": "ZIM_PATH"}
_TAG = re.compile(r"<[^>]*>")
SPACE = re.compile(r"\s+")
_WORD = re.compile(r"[^\W_]+")
ANY_WORDS = 12  # a claim's first content words a Wikipedia search joins by OR


@dataclass(frozen=True)
class SearchHit:
    """One search result, with the page's full text when the provider returns it."""

    provider: str  # "searxng" | "wikipedia" | "zim"
    url: str  # the page; ZIM entries are "zim://<archive file name>/<entry path>"
    title: str
    snippet: str  # plain text, highlight markup removed
    published: str | None  # ISO date when the provider gives one
    text: str | None  # full plain text (Wikipedia extracts, ZIM articles); None: fetch the page


class ProviderError(Exception):
    """A provider could not answer a search; `reason` is one short user-facing line."""

    def __init__(self, provider: str, reason: str) -> None:
        super().__init__(reason)
        self.provider = provider
        self.reason = reason


def describe_http_error(
    provider: str,
    base_url: str,
    status: int | None,
    retry_after: float | None,
    *,
    cause: str | None = None,
) -> str:
    """The user-facing reason for a failed request to `provider` at `base_url`.

    `status` None means no HTTP answer at all (connection refused, DNS, timeout): `cause`
    then says why, briefly.
    """
    label = f"{_LABELS.get(provider, provider)} at {hide_password(base_url)}"  # reaches the caveats
    if status is None:
        return f"{label} is unreachable ({cause or 'no answer'})"
    if status == 403 and provider == "searxng":
        return f"{label} refuses JSON: add `json` to `search.formats` in its settings.yml"
    if status == 403:
        hint = "Wikimedia blocks generic user agents: set HTTP_USER_AGENT"
        return f"{label} refuses the request (HTTP 403; {hint})"
    if status == 429:
        wait = "no Retry-After given" if retry_after is None else f"retry after {retry_after:g} s"
        return f"{label} is rate limiting ({wait})"
    if status == 404:
        return f"{label} answered HTTP 404: check {_SETTINGS.get(provider, 'its URL')}"
    if status >= 500:
        return f"{label} failed (HTTP {status})"
    return f"{label} answered HTTP {status}"


def short_cause(exc: BaseException) -> str:
    """A few words on why a request got no answer."""
    if isinstance(exc, TimeoutError) or "timeout" in type(exc).__name__.lower():
        return "timed out"
    text = str(exc).strip().splitlines()
    cause = text[0] if text else type(exc).__name__
    return cause if len(cause) <= 80 else cause[:79] + "…"


def _not_json(provider: str, base_url: str) -> ProviderError:
    """The error for an answer that is not the provider's JSON."""
    what = {"searxng": "SearxNG's JSON", "wikipedia": "MediaWiki API JSON"}.get(provider, "JSON")
    label = f"{_LABELS.get(provider, provider)} at {hide_password(base_url)}"
    return ProviderError(provider, f"{label} answered something that is not {what}")


async def _get_json(get_json: GetJSON, provider: str, base_url: str, url: str, params: dict[str, str]) -> Any:
    """Call `get_json`, turning every failure into a ProviderError (the layer's broad except)."""
    try:
        return await get_json(url, params)
    except Exception as exc:
        status, retry_after = getattr(exc, "status", None), getattr(exc, "retry_after", None)
        if isinstance(status, int):
            wait = float(retry_after) if isinstance(retry_after, int | float) else None
            error = ProviderError(provider, describe_http_error(provider, base_url, status, wait))
        elif isinstance(exc, ValueError):  # json.JSONDecodeError and friends
            error = _not_json(provider, base_url)
        else:
            reason = describe_http_error(provider, base_url, None, None, cause=short_cause(exc))
            error = ProviderError(provider, reason)
        log.warning("evidence provider %s failed: %s (%s)", provider, error.reason, type(exc).__name__)
        raise error from exc


def query_words(query: str) -> list[str]:
    """A query's distinct content words, lower-case (search engines read upper-case AND, OR and
    NOT as operators), in order: what a relaxed search matches when the whole query fails."""
    return list(dict.fromkeys(w for w in _WORD.findall(query.lower()) if w not in STOPWORDS))


def plain_text(fragment: str) -> str:
    """Markup-free text of a search snippet: tags removed, entities decoded, spaces collapsed."""
    return SPACE.sub(" ", html.unescape(_TAG.sub("", fragment))).strip()


def truncate(text: str, max_chars: int) -> str:
    """`text` cut to `max_chars`, at a word boundary when one is near."""
    if len(text) <= max_chars:
        return text
    cut = text[:max_chars]
    space = cut.rfind(" ", max_chars - 200)
    return cut[:space] if space > 0 else cut


class SearxNG:
    """Web search through a SearxNG instance's JSON API (`json` must be in `search.formats`)."""

    name = "searxng"

    def __init__(self, base_url: str, get_json: GetJSON) -> None:
        self.base_url = base_url.rstrip("/")
        self._get_json = get_json

    async def search(self, query: str, limit: int) -> list[SearchHit]:
        """Up to `limit` hits for `query`, best first; the pages must be fetched for their text."""
        if limit <= 0:
            return []
        params = {"q": query, "format": "json"}
        data = await _get_json(self._get_json, self.name, self.base_url, f"{self.base_url}/search", params)
        if not isinstance(data, dict) or not isinstance(data.get("results"), list):
            raise _not_json(self.name, self.base_url)
        hits: list[SearchHit] = []
        seen: set[str] = set()
        for result in data["results"]:
            if not isinstance(result, dict):
                continue
            url = result.get("url")
            if not isinstance(url, str) or not url.startswith(("http://", "https://")) or url in seen:
                continue
            seen.add(url)
            title, content, published = (result.get(key) for key in ("title", "content", "publishedDate"))
            hits.append(
                SearchHit(
                    provider=self.name,
                    url=url,
                    title=plain_text(title) if isinstance(title, str) and title.strip() else url,
                    snippet=plain_text(content) if isinstance(content, str) else "",
                    published=published if isinstance(published, str) and published else None,
                    text=None,
                )
            )
            if len(hits) == limit:
                break
        if not hits and data.get("unresponsive_engines"):
            raise ProviderError(self.name, self._unresponsive(data["unresponsive_engines"]))
        return hits

    def _unresponsive(self, engines: Any) -> str:
        """The reason for an empty answer because the instance's engines failed."""
        parts: list[str] = []
        for engine in engines if isinstance(engines, list) else []:
            if isinstance(engine, list | tuple) and engine:
                parts.append(": ".join(str(part) for part in engine[:2]))
        detail = "; ".join(parts[:3]) or "no detail"
        return (
            f"SearxNG at {hide_password(self.base_url)} found nothing: its engines did not answer ({detail})"
        )


def wiki_page_url(api_url: str, title: str) -> str:
    """The article URL for `title` on the wiki whose API is `api_url`.

    `https://host/w/api.php` gives `https://host/wiki/Title_with_underscores` (Wikimedia's
    layout); any other API path gives `<path>/index.php?title=...` beside the api.php.
    """
    parts = urlsplit(api_url)
    page = quote(title.replace(" ", "_"), safe=";@$!*(),/~:")
    path = parts.path
    if path.endswith("/w/api.php"):
        return urlunsplit((parts.scheme, parts.netloc, f"{path[: -len('w/api.php')]}wiki/{page}", "", ""))
    folder = path[: -len("api.php")] if path.endswith("api.php") else path.rstrip("/") + "/"
    return urlunsplit((parts.scheme, parts.netloc, f"{folder}index.php", f"title={page}", ""))


class Wikipedia:
    """Search and full plain-text extracts from a MediaWiki API (Wikipedia by default).

    With `explaintext` and no `exintro`, the TextExtracts API returns one page's extract per
    request (it lowers `exlimit` to 1), so extracts are requested per title, a few at a time.
    """

    name = "wikipedia"

    def __init__(self, api_url: str, get_json: GetJSON, *, max_chars: int = ARTICLE_CHARS) -> None:
        self.api_url = api_url
        self._get_json = get_json
        self.max_chars = max_chars

    async def search(self, query: str, limit: int) -> list[SearchHit]:
        """Up to `limit` articles for `query`, best first, each with its extract as `text`.

        A title the search lists but the extracts call reports missing is left out.
        """
        if limit <= 0:
            return []
        found = await self._titles(query, limit)
        gate = asyncio.Semaphore(EXTRACT_CONCURRENCY)

        async def extract(title: str) -> tuple[str, str | None] | None:
            async with gate:
                return await self._extract(title)

        tasks = [asyncio.ensure_future(extract(r["title"])) for r in found]
        try:
            extracts = await asyncio.gather(*tasks)
        finally:  # one failed (or we were cancelled): stop the requests still waiting
            for task in tasks:
                task.cancel()
        hits: list[SearchHit] = []
        for result, page in zip(found, extracts, strict=True):
            if page is None:
                continue
            title, text = page
            timestamp = result.get("timestamp")
            hits.append(
                SearchHit(
                    provider=self.name,
                    url=wiki_page_url(self.api_url, title),
                    title=title,
                    snippet=plain_text(result.get("snippet") or ""),
                    published=timestamp if isinstance(timestamp, str) and timestamp else None,
                    text=truncate(text, self.max_chars) if text else None,
                )
            )
        return hits

    async def _titles(self, query: str, limit: int) -> list[dict[str, Any]]:
        """The search's results (dicts with a `title`), best first.

        The search engine may rewrite the query (`srenablerewrites`: CirrusSearch corrects
        misspellings, as a transcript has them); a wiki that only suggests a correction gets
        it searched once when the query itself found nothing. CirrusSearch finds only articles
        holding every word of a query, which a spoken claim's words rarely all are: when
        nothing is found, its content words are searched joined by OR (Lucene's SHOULD
        clauses: any word matches, articles holding more of them rank first).
        """
        titled, suggestion = await self._search(query, limit)
        if not titled and suggestion is not None and suggestion not in ("", query):
            titled, _ = await self._search(suggestion, limit)
        words = query_words(query)
        if not titled and len(words) > 1:
            titled, _ = await self._search(" OR ".join(words[:ANY_WORDS]), limit)
        return titled

    async def _search(self, srsearch: str, limit: int) -> tuple[list[dict[str, Any]], str | None]:
        """One search request: its titled results and the wiki's suggested correction, if any."""
        params = {"list": "search", "srsearch": srsearch, "srlimit": str(min(limit, 50))}
        data = await self._call({**params, "srprop": "snippet|timestamp", "srenablerewrites": "1"})
        answer = data.get("query")
        found: dict[str, Any] = answer if isinstance(answer, dict) else {}
        results = found.get("search")
        if not isinstance(results, list):
            raise _not_json(self.name, self.api_url)
        titled = [r for r in results if isinstance(r, dict) and isinstance(r.get("title"), str)][:limit]
        info = found.get("searchinfo")
        suggestion = info.get("suggestion") if isinstance(info, dict) else None
        return titled, suggestion.strip() if isinstance(suggestion, str) else None

    async def _extract(self, title: str) -> tuple[str, str | None] | None:
        """(canonical title, plain-text extract) of one page, or None when it does not exist."""
        params = {"prop": "extracts", "explaintext": "1", "exsectionformat": "plain", "titles": title}
        data = await self._call({**params, "redirects": "1"})
        pages = data.get("query", {}).get("pages") if isinstance(data.get("query"), dict) else None
        if isinstance(pages, dict):  # a wiki older than MediaWiki 1.25 answers formatversion 1
            pages = list(pages.values())
        if not isinstance(pages, list):
            raise _not_json(self.name, self.api_url)
        for page in pages:
            if not isinstance(page, dict) or "missing" in page or "invalid" in page:
                continue
            extract = page.get("extract")
            return str(page.get("title") or title), extract if isinstance(extract, str) else None
        return None

    async def _call(self, params: dict[str, str]) -> dict[str, Any]:
        """One API request; an `error` answer (HTTP 200 in MediaWiki) becomes a ProviderError."""
        params = {"action": "query", **params, "format": "json", "formatversion": "2"}
        data = await _get_json(self._get_json, self.name, self.api_url, self.api_url, params)
        if not isinstance(data, dict):
            raise _not_json(self.name, self.api_url)
        error = data.get("error")
        if isinstance(error, dict):
            code, info = error.get("code", "error"), plain_text(str(error.get("info", "")))[:120]
            where = hide_password(self.api_url)
            raise ProviderError(self.name, f"Wikipedia API at {where} refused the query ({code}: {info})")
        return data
