"""An optional cross-encoder reranker for evidence passages, behind a `/rerank` endpoint.

The embedder ranks passages by cosine similarity to the claim: fast, but a bi-encoder prefers
passages that share the claim's wording over the ones that answer it. A cross-encoder reads
claim and passage together. With `RERANKER_BASE_URL` set, the embedder's best `RERANK_POOL`
passages go to the reranker, and its best become the judge's evidence (their `score` stays the
embedder's cosine: the judge's similarity gates are calibrated on it).

The protocol is the Jina/Cohere rerank API that vLLM (score models such as
`BAAI/bge-reranker-v2-m3`), llama.cpp's server (`--reranking`), Infinity and LocalAI serve:

    POST {RERANKER_BASE_URL}/rerank  {"model": ..., "query": ..., "documents": [...], "top_n": n}
    → {"results": [{"index": 2, "relevance_score": 0.93}, ...]}

`RERANKER_MODEL` is sent when set; `LLM_API_KEY`, when set, as a bearer token.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import httpx

from evidence.providers import short_cause
from observability.checks import hide_password
from settings import Settings

log = logging.getLogger(__name__)

RERANK_POOL = 20  # passages the embedder hands to the reranker, per claim


class RerankError(Exception):
    """The reranker could not rank; `reason` is one short user-facing line."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Reranker:
    """A client of one rerank endpoint (open it once per verification, `aclose()` it)."""

    def __init__(
        self, base_url: str, model: str | None, api_key: str | None, *, timeout_seconds: float = 30.0
    ) -> None:
        """Point at `{base_url}/rerank`; no request is made until `order()`."""
        self.url = base_url.rstrip("/") + "/rerank"
        self.where = hide_password(self.url)  # what messages show (they reach the briefing's caveats)
        self.model = model
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._client = httpx.AsyncClient(timeout=timeout_seconds, headers=headers)

    async def order(self, query: str, documents: Sequence[str]) -> list[int]:
        """Indexes into `documents`, most relevant to `query` first, each exactly once."""
        if len(documents) < 2:
            return list(range(len(documents)))
        try:
            scores = await self._scores(query, documents)
        except RerankError as exc:
            log.warning("evidence reranker failed: %s", exc.reason)
            raise
        ranked = sorted(scores, key=lambda index: -scores[index])
        return ranked + [i for i in range(len(documents)) if i not in scores]  # unscored ones last

    async def _scores(self, query: str, documents: Sequence[str]) -> dict[int, float]:
        body: dict[str, Any] = {"query": query, "documents": list(documents), "top_n": len(documents)}
        if self.model:
            body["model"] = self.model
        try:
            response = await self._client.post(self.url, json=body)
        except httpx.HTTPError as exc:
            raise RerankError(f"the reranker at {self.where} is unreachable ({short_cause(exc)})") from exc
        if response.status_code >= 400:
            raise RerankError(f"the reranker at {self.where} answered HTTP {response.status_code}")
        try:
            return _parse(response.json(), len(documents))
        except ValueError as exc:
            raise RerankError(
                f"the reranker at {self.where} answered something that is not a ranking"
            ) from exc

    async def aclose(self) -> None:
        """Close the connection pool."""
        await self._client.aclose()


def _parse(data: Any, count: int) -> dict[int, float]:
    """{document index: relevance} from a rerank answer; ValueError when it is not one."""
    results = data.get("results") if isinstance(data, dict) else None
    if not isinstance(results, list) or not results:
        raise ValueError("no results")
    scores: dict[int, float] = {}
    for item in results:
        index = item.get("index") if isinstance(item, dict) else None
        score = item.get("relevance_score", item.get("score")) if isinstance(item, dict) else None
        if not isinstance(index, int) or not 0 <= index < count or not isinstance(score, int | float):
            raise ValueError(f"bad result {item!r:.80}")
        scores.setdefault(index, float(score))
    return scores


def build_reranker(settings: Settings) -> Reranker | None:
    """The configured reranker, or None when RERANKER_BASE_URL is not set."""
    llm = settings.llm
    if not llm.reranker_base_url:
        return None
    api_key = llm.api_key.get_secret_value() if llm.api_key else None
    return Reranker(llm.reranker_base_url, llm.reranker_model, api_key, timeout_seconds=llm.timeout_seconds)
