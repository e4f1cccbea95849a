"""A fake rerank endpoint on 127.0.0.1 speaking the Jina/Cohere rerank API (as vLLM, llama.cpp's
server and Infinity do): `POST <base>/v1/rerank` with `{model?, query, documents, top_n?}`
answers `{"model", "results": [{"index", "relevance_score"}, ...]}`, best first, at most
`top_n`. A document scores by the first of `prefer` it contains (earlier = higher), else by
its share of the query's words: a scripted cross-encoder. It records each request's JSON body
and Authorization header; `Fault`s (see the SearxNG fake) inject errors and delays.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from fakes.searxng_server import Fault, answer_fault, serve, words


@dataclass
class RerankServer:
    """State and behaviour of the fake endpoint; `base_url` ends in /v1 once started."""

    prefer: list[str] = field(default_factory=list)
    faults: list[Fault] = field(default_factory=list)
    requests: list[dict[str, Any]] = field(default_factory=list)
    authorizations: list[str] = field(default_factory=list)
    base_url: str = ""
    _runner: web.AppRunner | None = None

    async def start(self) -> str:
        """Listen on a free port of 127.0.0.1 and return the base URL (`.../v1`)."""
        app = web.Application()
        app.router.add_post("/v1/rerank", self._rerank)
        self._runner, root = await serve(app)
        self.base_url = f"{root}/v1"
        return self.base_url

    async def stop(self) -> None:
        """Stop listening."""
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    def score(self, query: str, document: str) -> float:
        """The scripted relevance of `document` to `query`."""
        for rank, phrase in enumerate(self.prefer):
            if phrase in document:
                return 10.0 - rank
        wanted = words(query)
        return len(wanted & words(document)) / max(len(wanted), 1)

    async def _rerank(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.requests.append(body)
        self.authorizations.append(request.headers.get("Authorization", ""))
        failed = await answer_fault(self.faults)
        if failed is not None:
            return failed
        query, documents = body.get("query"), body.get("documents")
        if not isinstance(query, str) or not isinstance(documents, list) or not documents:
            return web.json_response({"error": "query and documents are required"}, status=422)
        scored = sorted(
            ((self.score(query, str(text)), index) for index, text in enumerate(documents)),
            key=lambda pair: -pair[0],
        )[: int(body.get("top_n") or len(documents))]
        results = [{"index": index, "relevance_score": score} for score, index in scored]
        return web.json_response({"model": body.get("model", "fake-reranker"), "results": results})
