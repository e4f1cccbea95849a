"""A fake SearxNG instance on 127.0.0.1 speaking its real JSON API.

`GET /search?q=...&format=json` answers SearxNG's JSON shape (`query`, `number_of_results`,
`results[]` with url/title/content/engine/engines/score/publishedDate, `answers`, `infoboxes`,
`suggestions`, `unresponsive_engines`), ranking the pages by word overlap with `q`. Any other
`format` gets 403, like an instance whose settings.yml lacks `json` under `search.formats`;
`json_enabled=False` makes `format=json` itself answer 403. `Fault`s (shared with the
MediaWiki fake) make the next requests answer an HTTP error (with Retry-After), a body that is
not JSON, or come late.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from evidence.passages import bm25_scores

_WORD = re.compile(r"\w+")


def words(text: str) -> set[str]:
    """Lower-case words of `text`, for the fakes' overlap ranking."""
    return {w.lower() for w in _WORD.findall(text)}


@dataclass
class Fault:
    """Make the next `times` requests fail: an HTTP `status` (with optional Retry-After),
    a custom `body` (e.g. not JSON, or a JSON error with status 200), and/or a `delay`."""

    status: int | None = None
    retry_after: float | None = None
    body: str | None = None
    delay: float = 0.0
    times: int = 1


async def answer_fault(faults: list[Fault]) -> web.Response | None:
    """Apply the first pending fault: sleep its delay, then its response (None: answer normally)."""
    if not faults:
        return None
    fault = faults[0]
    fault.times -= 1
    if fault.times <= 0:
        faults.pop(0)
    if fault.delay:
        await asyncio.sleep(fault.delay)
    if fault.status is None and fault.body is None:
        return None
    headers = {} if fault.retry_after is None else {"Retry-After": f"{fault.retry_after:g}"}
    body = fault.body if fault.body is not None else f"<html><body>HTTP {fault.status}</body></html>"
    content_type = "application/json" if body.lstrip().startswith("{") else "text/html"
    return web.Response(status=fault.status or 200, text=body, content_type=content_type, headers=headers)


async def serve(app: web.Application) -> tuple[web.AppRunner, str]:
    """Run `app` on a free port of 127.0.0.1; return the runner and the base URL."""
    # shutdown_timeout: stopping does not wait for replies a test left sleeping in a delay
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    return runner, f"http://127.0.0.1:{port}"


@dataclass(frozen=True)
class FakePage:
    """A page the fake instance can find."""

    url: str
    title: str
    content: str  # the snippet the result shows
    published: str | None = None
    body: str | None = None  # the page's whole text as the engine indexed it (default: the snippet)


@dataclass
class SearxNGServer:
    """State and behaviour of the fake instance; `requests` logs each query's parameters."""

    pages: list[FakePage]
    json_enabled: bool = True
    results_per_query: int = 10
    unresponsive_engines: list[list[str]] = field(default_factory=list)
    faults: list[Fault] = field(default_factory=list)
    requests: list[dict[str, str]] = field(default_factory=list)
    base_url: str = ""
    _runner: web.AppRunner | None = None

    async def start(self) -> str:
        """Listen on a free port of 127.0.0.1 and return the base URL."""
        app = web.Application()
        app.router.add_get("/search", self._search)
        self._runner, self.base_url = await serve(app)
        return self.base_url

    async def stop(self) -> None:
        """Stop listening."""
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _search(self, request: web.Request) -> web.Response:
        params = dict(request.query)
        self.requests.append(params)
        failed = await answer_fault(self.faults)
        if failed is not None:
            return failed
        if params.get("format", "html") != "json" or not self.json_enabled:
            return web.Response(status=403, text="403 Forbidden", content_type="text/html")
        query = params.get("q", "")
        # Okapi BM25 over each page's title and indexed text, as a search engine ranks
        indexed = [f"{page.title} {page.body or page.content}" for page in self.pages]
        scores = bm25_scores(query, indexed)
        scored = sorted(
            ((score, page) for score, page in zip(scores, self.pages, strict=True) if score > 0),
            key=lambda pair: -pair[0],
        )[: self.results_per_query]
        return web.json_response(
            {
                "query": query,
                "number_of_results": len(scored),
                "results": [self._result(page, score) for score, page in scored],
                "answers": [],
                "corrections": [],
                "infoboxes": [],
                "suggestions": [],
                "unresponsive_engines": self.unresponsive_engines,
            }
        )

    @staticmethod
    def _result(page: FakePage, score: float) -> dict[str, Any]:
        """One result as SearxNG writes it (`content` as given, markup included)."""
        return {
            "url": page.url,
            "title": page.title,
            "content": page.content,
            "engine": "duckduckgo",
            "engines": ["duckduckgo", "brave"],
            "positions": [1],
            "score": float(score),
            "category": "general",
            "parsed_url": ["https", page.url.split("/")[2], "/", "", "", ""],
            "template": "default.html",
            "publishedDate": page.published,
            "thumbnail": None,
        }
