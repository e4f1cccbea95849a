"""Fetch web pages and JSON search answers for fact-checks, safely.

One `Fetcher` holds one `httpx.AsyncClient` (build it once, `aclose()` it). Every request and
every redirect hop (at most `MAX_REDIRECTS`, followed here, not by httpx) is checked alike:

1. the URL: http(s), no credentials, a host. Numeric IPv4 hosts in any notation the WHATWG URL
   standard accepts (`2130706433`, `0x7f000001`, `127.1`, `0x7f.1`) are rewritten to the
   dotted quad first, so the address judged is the address connected to;
2. `pipelines.netguard.check_host` on the host (or literal): a non-public address is refused
   before any connection is made;
3. pages only: robots.txt, fetched once per origin (kept for the Fetcher's life, and in the
   cache when given), read by `urllib.robotparser` for our user agent; missing, failing or
   unreachable = everything allowed (RFC 9309 would refuse on a 5xx; we fetch few pages);
4. the request runs inside `pipelines.netguard.guarded`, so a DNS answer that changes between
   check and connect is still refused at `socket.connect`;
5. per-host concurrency, one deadline per request for connect and the whole body, a streamed
   byte cap (Content-Length is checked first) and, for pages, only HTML, XHTML and plain text
   (checked from the headers before the body is read, then sniffed).

Errors: every failure is a `FetchError` with a one-line `message` fit for a user and a `kind`:

    blocked      not a public address, or credentials in the URL (no connection was made)
    robots       the site's robots.txt disallows the page for our user agent
    timeout      no complete answer within EVIDENCE_FETCH_TIMEOUT_SECONDS
    too_large    the body exceeds EVIDENCE_MAX_PAGE_BYTES
    unsupported  not http(s), malformed URL, not a web page (PDF, image, binary), invalid JSON
    http         an error status or too many redirects (`status`, `retry_after` in seconds)
    unreachable  the name does not resolve or the connection failed
"""

from __future__ import annotations

import asyncio
import email.utils
import json
import re
import time
from collections import defaultdict
from dataclasses import asdict, dataclass, replace
from datetime import UTC
from typing import Any
from urllib.robotparser import RobotFileParser

import httpx

from evidence.cache import EvidenceCache
from evidence.passages import decode_text, looks_binary, main_text
from pipelines.errors import BlockedAddressError, UnreachableHostError
from pipelines.netguard import check_host, guarded, numeric_ipv4
from settings import EvidenceSettings

MAX_REDIRECTS = 5
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
PAGE_TYPES = {"text/html": "html", "application/xhtml+xml": "html", "text/plain": "text"}
PAGE_ACCEPT = "text/html,application/xhtml+xml;q=0.9,text/plain;q=0.8"
ROBOTS_MAX_BYTES = 512 * 1024  # RFC 9309: read at least 500 KiB, ignore the rest
ROBOTS_TTL_SECONDS = 86400  # RFC 9309: a cached robots.txt is good for a day at most
ERROR_KINDS = ("blocked", "robots", "timeout", "too_large", "unsupported", "http", "unreachable")

_BLOCKED_TARGET = re.compile(r"refused to connect to (.+): not a public address")


class FetchError(Exception):
    """A page or JSON answer could not be had; `kind` says why (see the module docstring)."""

    def __init__(self, kind: str, message: str, *, url: str = "", status: int | None = None) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.url = url
        self.status = status
        self.retry_after: float | None = None


@dataclass(frozen=True)
class Page:
    """The readable content of one web page."""

    requested: str  # the URL asked for
    url: str  # the final URL, after redirects
    status: int
    title: str | None
    text: str  # main text without boilerplate, one paragraph per line
    published: str | None  # ISO date, when the page says
    site: str  # host name without "www."
    content_type: str

    @classmethod
    def from_json(cls, data: Any) -> Page | None:
        """The page `dataclasses.asdict` made (cache entries), or None when `data` is not one."""
        try:
            return cls(**data)
        except TypeError:
            return None


@dataclass(frozen=True)
class Target:
    """A checked request URL: IPv4 literal normalised, fragment dropped."""

    url: httpx.URL
    host: str  # ASCII (IDNA) host without brackets: what check_host judges
    port: int
    origin: str  # scheme://host:port, the scope of a robots.txt

    def fail(self, kind: str, message: str, status: int | None = None) -> FetchError:
        """A FetchError about this URL."""
        return FetchError(kind, message, url=str(self.url), status=status)


@dataclass(frozen=True)
class _Answer:
    url: httpx.URL
    status: int
    headers: httpx.Headers
    body: bytes


def ipv4_literal(host: str) -> str | None:
    """The dotted quad a numeric host means (`pipelines.netguard.numeric_ipv4`), or None for a name.

    `2130706433`, `0x7f000001`, `127.1` and `0177.0.0.1` all mean 127.0.0.1. A host whose
    last label is numeric but that is no valid address raises `ValueError`.
    """
    address = numeric_ipv4(host)
    return None if address is None else str(address)


def parse_target(url: str | httpx.URL, params: dict[str, str] | None = None) -> Target:
    """Check a URL's form (scheme, credentials, host), add `params`, normalise; raises `FetchError`."""
    text = str(url)[:300]
    try:
        parsed = httpx.URL(url)
        parsed = parsed.copy_merge_params(params) if params else parsed  # merging re-encodes the query
        host = parsed.raw_host.decode("ascii").lower()
        literal = None if ":" in host or not host else ipv4_literal(host)
    except (httpx.InvalidURL, TypeError, ValueError) as exc:
        raise FetchError("unsupported", f"not a valid URL: {text}", url=text) from exc
    if parsed.scheme not in ("http", "https") or not host:
        raise FetchError("unsupported", f"not an http(s) URL with a host: {text}", url=text)
    if parsed.userinfo:
        raise FetchError("blocked", "refused: the URL contains credentials", url=text)
    if literal is not None:
        host = literal
        parsed = parsed.copy_with(host=literal)
    parsed = parsed.copy_with(fragment=None)
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    origin = f"{parsed.scheme}://{f'[{host}]' if ':' in host else host}:{port}"
    return Target(url=parsed, host=host, port=port, origin=origin)


def retry_after_seconds(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (a delay in seconds or an HTTP date)."""
    value = (value or "").strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    when = when if when.tzinfo is not None else when.replace(tzinfo=UTC)
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def media_type(headers: httpx.Headers) -> str:
    """The lower-case media type of the Content-Type header ("" when absent)."""
    return headers.get("content-type", "").split(";", 1)[0].strip().lower()


def _read_page(requested: str, answer: _Answer) -> Page:
    """Turn a fetched body into a Page (decoding, main-text extraction); blocking."""
    content_type = answer.headers.get("content-type", "")
    kind = PAGE_TYPES.get(media_type(answer.headers))
    if kind is None:  # no Content-Type: sniff
        kind = "html" if answer.body.lstrip()[:1] == b"<" else "text"
    text = decode_text(answer.body, content_type, html=kind == "html")
    title: str | None = None
    published: str | None = None
    if kind == "html":
        title, text, published = main_text(text, str(answer.url))
    content_type = content_type or ("text/html" if kind == "html" else "text/plain")
    text = text.replace("\r\n", "\n").strip()
    site = answer.url.host.removeprefix("www.")
    return Page(requested, str(answer.url), answer.status, title, text, published, site, content_type)


class Fetcher:
    """SSRF-guarded, robots-aware, size- and time-bounded fetching over one shared HTTP client."""

    def __init__(
        self,
        settings: EvidenceSettings,
        *,
        allow_private: bool,
        cache: EvidenceCache | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        """Build the client (nothing connects until the first request)."""
        self.settings = settings
        self.allow_private = allow_private
        self.cache = cache
        # The search APIs the operator configured may live on a private network (the compose
        # stack's SearxNG); only their JSON endpoints are trusted, never pages or redirects.
        self.api_origins = {
            parse_target(url).origin for url in (settings.searxng_url, settings.wikipedia_api_url) if url
        }
        self.user_agent = settings.user_agent
        counters = ("requests", "cache_hits", "redirects", "robots_fetched", "bytes", *ERROR_KINDS)
        self.stats: dict[str, int] = dict.fromkeys(counters, 0)
        self._client = httpx.AsyncClient(
            follow_redirects=False,
            trust_env=False,  # settings.py alone reads the environment; a proxy would bypass the guard
            timeout=httpx.Timeout(settings.fetch_timeout_seconds),
            headers={"User-Agent": settings.user_agent, "Accept-Encoding": "gzip, deflate"},
            transport=transport,
        )
        concurrency = settings.per_host_concurrency
        self._slots: defaultdict[str, asyncio.Semaphore] = defaultdict(lambda: asyncio.Semaphore(concurrency))
        self._robots: dict[str, RobotFileParser] = {}
        self._robots_locks: defaultdict[str, asyncio.Lock] = defaultdict(asyncio.Lock)

    async def __aenter__(self) -> Fetcher:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the HTTP client (the cache belongs to the caller)."""
        await self._client.aclose()

    async def page(self, url: str) -> Page:
        """A web page's main text; from the cache, without any request, when given and fresh."""
        try:
            target = parse_target(url)
            key = str(target.url)
            if self.cache is not None:
                cached = Page.from_json(await self.cache.get("page", key))
                if cached is not None:
                    self.stats["cache_hits"] += 1
                    return replace(cached, requested=url)
            answer = await self._get(target, PAGE_ACCEPT, robots=True, page=True)
            if looks_binary(answer.body, answer.headers.get("content-type", "")):
                raise FetchError("unsupported", f"{answer.url} is not a web page (binary content)", url=url)
        except FetchError as exc:
            self.stats[exc.kind] += 1
            raise
        page = await asyncio.to_thread(_read_page, url, answer)
        if self.cache is not None:
            await self.cache.put("page", key, asdict(page), self.settings.cache_ttl_seconds)
        return page

    async def get_json(self, url: str, params: dict[str, str]) -> Any:
        """The decoded JSON answer of a GET (search APIs): the same address checks, no robots.txt."""
        try:
            answer = await self._get(parse_target(url, params), "application/json", api=True)
            try:
                return await asyncio.to_thread(json.loads, answer.body)
            except ValueError as exc:  # includes UnicodeDecodeError
                message = f"{answer.url} did not answer with valid JSON"
                raise FetchError("unsupported", message, url=str(answer.url)) from exc
        except FetchError as exc:
            self.stats[exc.kind] += 1
            raise

    async def _get(
        self,
        target: Target,
        accept: str,
        *,
        robots: bool = False,
        page: bool = False,
        limit: int = 0,
        api: bool = False,
        headers: dict[str, str] | None = None,
    ) -> _Answer:
        """GET with checked redirects; a final non-2xx answer raises FetchError("http").

        `page` refuses non-page content types before the body is read; a `limit` (robots.txt)
        truncates the body there instead of refusing it at EVIDENCE_MAX_PAGE_BYTES; `headers`
        are sent with every hop (conditional requests: a 304 is an "http" error with that status).
        """
        for _ in range(MAX_REDIRECTS + 1):
            private = self.allow_private or (api and target.origin in self.api_origins)
            await self._check_address(target, private)
            if robots and not await self._robots_allow(target):
                raise target.fail("robots", f"{target.url} is disallowed by the site's robots.txt")
            answer = await self._once(
                target, accept, page=page, limit=limit, private=private, headers=headers
            )
            location = answer.headers.get("location")
            if answer.status not in REDIRECT_STATUSES or not location:
                break
            self.stats["redirects"] += 1
            try:
                following = target.url.join(location)
            except (httpx.InvalidURL, ValueError) as exc:
                raise target.fail("unsupported", f"{target.url} redirects to an invalid URL") from exc
            target = parse_target(following)
        else:
            raise target.fail("http", f"{target.url} redirects too often", answer.status)
        if not 200 <= answer.status < 300:
            wait = retry_after_seconds(answer.headers.get("retry-after"))
            suffix = f" (retry after {round(wait)} s)" if wait is not None else ""
            error = target.fail("http", f"{answer.url} answered HTTP {answer.status}{suffix}", answer.status)
            error.retry_after = wait
            raise error
        return answer

    async def _check_address(self, target: Target, private: bool) -> None:
        """Refuse a non-public host (unless `private`) before anything connects."""
        try:
            await check_host(target.host, target.port, private)
        except BlockedAddressError as exc:
            found = _BLOCKED_TARGET.search(exc.message)
            address = found.group(1) if found else target.host
            raise target.fail("blocked", f"refused: {address} is not a public address") from exc
        except UnreachableHostError as exc:
            raise target.fail("unreachable", exc.message) from exc

    async def _once(
        self,
        target: Target,
        accept: str,
        *,
        page: bool,
        limit: int,
        private: bool,
        headers: dict[str, str] | None,
    ) -> _Answer:
        """One guarded request under the host's slot; reads the body (capped) of a 2xx answer only."""
        timeout = self.settings.fetch_timeout_seconds
        async with self._slots[target.host]:
            with guarded(private) as guard:
                try:
                    async with asyncio.timeout(timeout):
                        self.stats["requests"] += 1
                        request = self._client.stream(
                            "GET", target.url, headers={"Accept": accept, **(headers or {})}
                        )
                        async with request as response:
                            body = b""
                            if 200 <= response.status_code < 300:
                                body = await self._body(target, response, page=page, limit=limit)
                            return _Answer(target.url, response.status_code, response.headers, body)
                except (TimeoutError, httpx.TimeoutException) as exc:
                    raise target.fail("timeout", f"{target.url} did not answer within {timeout:g} s") from exc
                except httpx.DecodingError as exc:
                    raise target.fail("unsupported", f"{target.url} sent an undecodable body") from exc
                except (httpx.HTTPError, OSError) as exc:
                    if guard.blocked:  # refused at connect time: DNS gave httpx another address
                        refused = f"refused: {guard.blocked[0]} is not a public address"
                        raise target.fail("blocked", refused) from exc
                    reason = str(exc) or type(exc).__name__
                    raise target.fail("unreachable", f"could not reach {target.host}: {reason}") from exc

    async def _body(self, target: Target, response: httpx.Response, *, page: bool, limit: int) -> bytes:
        """The (decompressed) body, refused or cut as soon as it passes the byte cap."""
        media = media_type(response.headers)
        if page and media and media not in PAGE_TYPES:
            raise target.fail("unsupported", f"{target.url} is not a web page ({media})")
        cap = limit or self.settings.max_page_bytes
        too_large = target.fail("too_large", f"{target.url} is larger than {cap} bytes")
        declared = response.headers.get("content-length", "")
        plain = "content-encoding" not in response.headers  # else Content-Length counts compressed bytes
        if not limit and plain and declared.isdigit() and int(declared) > cap:
            raise too_large
        body = bytearray()
        async for chunk in response.aiter_bytes():
            body += chunk
            self.stats["bytes"] += len(chunk)
            if len(body) > cap:
                if limit:
                    return bytes(body[:cap])
                raise too_large
        return bytes(body)

    async def _robots_allow(self, target: Target) -> bool:
        """Whether the origin's robots.txt lets our user agent fetch the URL."""
        parser = self._robots.get(target.origin)
        if parser is None:
            async with self._robots_locks[target.origin]:  # one download per origin, even concurrently
                parser = self._robots.get(target.origin)
                if parser is None:
                    parser = RobotFileParser()
                    parser.parse((await self._robots_text(target)).splitlines())
                    self._robots[target.origin] = parser
        return parser.can_fetch(self.user_agent, str(target.url))

    async def _robots_text(self, target: Target) -> str:
        """The origin's robots.txt ("" when missing or unreachable), through the cache when given."""
        if self.cache is not None:
            cached = await self.cache.get("robots", target.origin)
            if isinstance(cached, str):
                return cached
        self.stats["robots_fetched"] += 1
        try:
            robots = parse_target(target.url.copy_with(path="/robots.txt", query=None))
            answer = await self._get(robots, "text/plain", limit=ROBOTS_MAX_BYTES)
            text = decode_text(answer.body, answer.headers.get("content-type", ""), html=False)
        except FetchError:
            text = ""  # RFC 9309: an unavailable robots.txt allows everything
        if self.cache is not None:
            ttl = min(self.settings.cache_ttl_seconds, ROBOTS_TTL_SECONDS)
            await self.cache.put("robots", target.origin, text, ttl)
        return text
