"""A fake MediaWiki API (`/w/api.php`) on 127.0.0.1, answering like Wikipedia with formatversion=2.

It serves `action=query&list=search` (snippets with `<span class="searchmatch">` and HTML
escapes) matching as CirrusSearch does: every word of the query but stopwords must be in the
article, unless the words are joined by `OR` (Lucene's SHOULD clauses: any one will do);
results are ranked by word overlap. It also serves `action=query&prop=extracts`
(TextExtracts): as on the real API, a full-article plain-text extract request (`explaintext`
without `exintro`) gets an extract for one page only — the others come back without one,
with a warning and `continue`.
Titles in `stale_titles` are listed by search but answered `missing` by the extracts call (a
search index lagging behind a deletion). `legacy=True` answers like a wiki older than
MediaWiki 1.25, which ignores formatversion=2: pages keyed by page id, flags as "".
`corrections` (query → corrected query) act like CirrusSearch's "did you mean": a query that
finds nothing is answered with the correction's results and `searchinfo.rewrittenquery` when
the request has `srenablerewrites=1` and the wiki `rewrites`, else with `searchinfo.suggestion`
only. It records
each request's parameters and User-Agent;
`Fault`s (see the SearxNG fake) inject HTTP errors, non-JSON bodies, API errors and delays.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from crews.text import STOPWORDS
from fakes.searxng_server import Fault, answer_fault, serve, words

TIMESTAMP = "2024-01-01T00:00:00Z"
EXLIMIT_WARNING = '"exlimit" was too large for a whole article extracts request, lowered to 1.'


@dataclass
class MediaWikiServer:
    """State and behaviour of the fake API; `api_url` is `<base>/w/api.php` once started."""

    articles: dict[str, str]
    stale_titles: list[str] = field(default_factory=list)
    redirects: dict[str, str] = field(default_factory=dict)
    legacy: bool = False
    corrections: dict[str, str] = field(default_factory=dict)
    rewrites: bool = True
    faults: list[Fault] = field(default_factory=list)
    requests: list[dict[str, str]] = field(default_factory=list)
    user_agents: list[str] = field(default_factory=list)
    base_url: str = ""
    api_url: str = ""
    _runner: web.AppRunner | None = None

    async def start(self) -> str:
        """Listen on a free port of 127.0.0.1 and return the base URL (the API is /w/api.php)."""
        app = web.Application()
        app.router.add_get("/w/api.php", self._api)
        self._runner, self.base_url = await serve(app)
        self.api_url = f"{self.base_url}/w/api.php"
        return self.base_url

    async def stop(self) -> None:
        """Stop listening."""
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _api(self, request: web.Request) -> web.Response:
        params = dict(request.query)
        self.requests.append(params)
        self.user_agents.append(request.headers.get("User-Agent", ""))
        failed = await answer_fault(self.faults)
        if failed is not None:
            return failed
        if params.get("format") != "json":  # the real default is jsonfm: an HTML help page
            return web.Response(text="<html><body><pre>{...}</pre></body></html>", content_type="text/html")
        if params.get("action") == "query" and params.get("list") == "search":
            return web.json_response(self._search(params))
        if params.get("action") == "query" and params.get("prop") == "extracts":
            return web.json_response(self._extracts(params))
        info = f'Unrecognized value for parameter "action": {params.get("action", "")}.'
        return web.json_response({"error": {"code": "badvalue", "info": info}, "servedby": "fake"})

    def _pageid(self, title: str) -> int:
        return list(self.articles).index(title) + 1 if title in self.articles else 9000 + len(title)

    def _search(self, params: dict[str, str]) -> dict[str, Any]:
        query = params.get("srsearch", "")
        answer = self._search_for(query, params)
        correction = self.corrections.get(query)
        if answer["query"]["search"] or correction is None:
            return answer
        if self.rewrites and params.get("srenablerewrites") in ("1", "true"):
            answer = self._search_for(correction, params)
            answer["query"]["searchinfo"]["rewrittenquery"] = correction
            return answer
        answer["query"]["searchinfo"]["suggestion"] = correction
        return answer

    def _search_for(self, query: str, params: dict[str, str]) -> dict[str, Any]:
        tokens = query.split()
        any_word = "OR" in tokens  # all SHOULD clauses: at least one word must match
        wanted = words(" ".join(t for t in tokens if t != "OR")) - STOPWORDS
        limit = min(int(params.get("srlimit", "10")), 500)
        scored = []
        for title, text in [*self.articles.items(), *((t, t) for t in self.stale_titles)]:
            held = words(f"{title} {text}")
            overlap = len(wanted & held)
            if overlap and (any_word or wanted <= held):
                scored.append((overlap, title, text))
        scored.sort(key=lambda triple: -triple[0])
        results = [
            {
                "ns": 0,
                "title": title,
                "pageid": self._pageid(title),
                "size": len(text.encode()),
                "wordcount": len(text.split()),
                "snippet": _snippet(text, wanted),
                "timestamp": TIMESTAMP,
            }
            for _, title, text in scored[:limit]
        ]
        answer: dict[str, Any] = {"batchcomplete": True}
        if len(scored) > limit:
            answer["continue"] = {"sroffset": limit, "continue": "-||"}
        answer["query"] = {"searchinfo": {"totalhits": len(scored)}, "search": results}
        return answer

    def _extracts(self, params: dict[str, str]) -> dict[str, Any]:
        titles = [t for t in params.get("titles", "").split("|") if t]
        whole = "exintro" not in params
        answer: dict[str, Any] = {"batchcomplete": True}
        query: dict[str, Any] = {}
        if params.get("redirects") and any(t in self.redirects for t in titles):
            query["redirects"] = [{"from": t, "to": self.redirects[t]} for t in titles if t in self.redirects]
            titles = [self.redirects.get(t, t) for t in titles]
        pages: list[dict[str, Any]] = []
        given = 0
        for title in titles:
            if title not in self.articles:
                pages.append({"ns": 0, "title": title, "missing": True})
                continue
            page: dict[str, Any] = {"pageid": self._pageid(title), "ns": 0, "title": title}
            if not whole or given == 0:
                text = self.articles[title]
                page["extract"] = text if whole else text.split("\n\n")[0]
                given += 1
            pages.append(page)
        if whole and len([p for p in pages if "pageid" in p]) > 1:
            answer = {"continue": {"excontinue": 1, "continue": "||"}}  # no batchcomplete: more to come
            answer["warnings"] = {"extracts": {"warnings": EXLIMIT_WARNING}}
        query["pages"] = pages
        if self.legacy:  # formatversion 1: a map by page id (missing pages get negative ids)
            legacy = [{**p, "missing": ""} if p.get("missing") else p for p in pages]
            query["pages"] = {str(p.get("pageid", -1 - i)): p for i, p in enumerate(legacy)}
            answer = {**answer, "batchcomplete": ""} if "batchcomplete" in answer else answer
        answer["query"] = query
        return answer


def _snippet(text: str, wanted: set[str]) -> str:
    """A search snippet as MediaWiki writes it: escaped text, matches in searchmatch spans."""
    tokens = text.split()
    first = next((i for i, token in enumerate(tokens) if words(token) & wanted), 0)
    window = tokens[max(0, first - 10) : first + 20]
    marked = []
    for token in window:
        escaped = html.escape(token)
        marked.append(f'<span class="searchmatch">{escaped}</span>' if words(token) & wanted else escaped)
    return " ".join(marked)
