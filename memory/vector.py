"""Vector memory in Qdrant: one collection per namespace (tenant), cosine distance.

A namespace is a Discord guild id, "cli" (the CLI's default) or `REFERENCE_NAMESPACE` (the
shared reference corpus used for fact-checking). Each lives in its own collection
`autointel_<namespace>`; names are validated, so one tenant can never address another's
collection, and a search only ever reads one namespace.

`VectorMemory.open(settings, embedder)` uses Qdrant local mode in `<data dir>/qdrant` by
default, or the server at QDRANT_URL. Local mode is exact brute force, writes every point
as its own SQLite commit, and admits one process at a time (a second one gets
`MemoryUnavailableError`); production uses the server. Points have deterministic ids
(`MemoryItem.id`), so writing the same item again replaces it instead of duplicating it.
"""

from __future__ import annotations

import asyncio
import functools
import json
import time
import uuid
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, TypeVar

from qdrant_client import AsyncQdrantClient, models
from qdrant_client.http.exceptions import ApiException

from memory import KINDS
from memory.embeddings import Embedder
from memory.errors import DimensionMismatchError, MemoryStoreError, MemoryUnavailableError
from memory.namespaces import CLI_NAMESPACE, REFERENCE_NAMESPACE, validate_namespace
from observability.metrics import MEMORY_OPERATIONS, MEMORY_SECONDS
from settings import Settings

__all__ = [
    "CLI_NAMESPACE",
    "KINDS",
    "REFERENCE_NAMESPACE",
    "Hit",
    "MemoryItem",
    "VectorMemory",
    "collection_name",
]

COLLECTION_PREFIX = "autointel_"
QUERY_CACHE_SIZE = 256  # recent query embeddings kept per VectorMemory
EMBED_SLAB_BATCHES = 16  # texts embedded per call = 16 batches, then one Qdrant upsert per batch
_ID_NAMESPACE = uuid.UUID("6f1c2a4e-9d0b-5e27-8a43-5b1d0f3c7e21")  # fixed: ids must never change
_T = TypeVar("_T")
F = TypeVar("F", bound=Callable[..., Awaitable[Any]])


def _measured(operation: str) -> Callable[[F], F]:
    """Decorate an async method: count the memory operation, its outcome and its duration."""

    def decorate(method: F) -> F:
        @functools.wraps(method)
        async def measured(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            outcome = "error"
            try:
                result = await method(*args, **kwargs)
                outcome = "ok"
                return result
            finally:
                MEMORY_OPERATIONS.labels(operation=operation, outcome=outcome).inc()
                MEMORY_SECONDS.labels(operation=operation).observe(time.perf_counter() - started)

        return measured  # type: ignore[return-value]

    return decorate


def collection_name(namespace: str) -> str:
    """The Qdrant collection of a namespace (validated)."""
    return COLLECTION_PREFIX + validate_namespace(namespace)


def _check_kind(kind: str) -> None:
    if kind not in KINDS:
        raise ValueError(f"unknown memory kind {kind!r}; expected one of {', '.join(KINDS)}")


@dataclass(frozen=True)
class MemoryItem:
    """One remembered text with where it came from; `extra` holds any further payload."""

    text: str
    kind: str
    run_id: str | None = None
    source: str | None = None
    start: float | None = None
    end: float | None = None
    extra: dict[str, Any] = field(default_factory=dict, hash=False)

    def __post_init__(self) -> None:
        _check_kind(self.kind)

    @property
    def id(self) -> str:
        """Deterministic point id over (kind, run_id, source, start, text) — not the namespace."""
        key = json.dumps([self.kind, self.run_id, self.source, self.start, self.text], ensure_ascii=False)
        return str(uuid.uuid5(_ID_NAMESPACE, key))

    def payload(self) -> dict[str, Any]:
        """The Qdrant payload of this item."""
        return {
            "text": self.text,
            "kind": self.kind,
            "run_id": self.run_id,
            "source": self.source,
            "start": self.start,
            "end": self.end,
            "extra": self.extra,
        }

    @classmethod
    def from_payload(cls, payload: dict[str, Any]) -> MemoryItem:
        """Rebuild an item from a stored payload."""
        return cls(
            text=str(payload.get("text", "")),
            kind=str(payload.get("kind", "reference")),
            run_id=payload.get("run_id"),
            source=payload.get("source"),
            start=payload.get("start"),
            end=payload.get("end"),
            extra=dict(payload.get("extra") or {}),
        )


@dataclass(frozen=True)
class Hit:
    """A search result: the item and its cosine similarity to the query (higher is closer)."""

    item: MemoryItem
    score: float


class VectorMemory:
    """Namespaced vector memory over one Qdrant client; open with `await VectorMemory.open(...)`."""

    def __init__(
        self, client: AsyncQdrantClient, embedder: Embedder, *, where: str, local: bool, batch_size: int = 32
    ) -> None:
        """Wrap an open client; prefer `open()`, which builds the client from settings."""
        self._client = client
        self._embedder = embedder
        self._where = where
        self._local = local
        self._batch_size = batch_size
        self._dimensions: dict[str, int] = {}
        self._create_lock = asyncio.Lock()
        self._query_cache: OrderedDict[str, list[float]] = OrderedDict()

    @classmethod
    async def open(
        cls, settings: Settings, embedder: Embedder, *, location: str | None = None
    ) -> VectorMemory:
        """Connect: QDRANT_URL's server if set, else local mode in `<data dir>/qdrant`.

        `location=":memory:"` (tests) keeps everything in memory; any other `location` is a
        local-mode folder. Raises `MemoryUnavailableError` when the server cannot be reached
        or the local folder is in use by another process.
        """
        batch = settings.llm.embeddings_batch_size
        if location is None and settings.qdrant.url:
            url = settings.qdrant.url
            api_key = settings.qdrant.api_key.get_secret_value() if settings.qdrant.api_key else None
            client = AsyncQdrantClient(url=url, api_key=api_key, check_compatibility=False)
            memory = cls(client, embedder, where=f"the Qdrant server at {url}", local=False, batch_size=batch)
            try:
                await memory._call(client.get_collections())
            except BaseException:
                await client.close()
                raise
            return memory
        if location == ":memory:":
            client = AsyncQdrantClient(location=":memory:")
            return cls(client, embedder, where="in-memory Qdrant", local=True, batch_size=batch)
        path = location or str(settings.pipeline.data_dir / "qdrant")
        try:
            client = AsyncQdrantClient(path=path)
        except RuntimeError as exc:
            if "already accessed" not in str(exc):
                raise
            raise MemoryUnavailableError(
                f"the Qdrant local storage {path} is in use by another process: Qdrant local mode allows "
                "only one process at a time; stop the other process or set QDRANT_URL to a Qdrant server"
            ) from exc
        return cls(client, embedder, where=f"the Qdrant local storage {path}", local=True, batch_size=batch)

    async def close(self) -> None:
        """Close the client (releases the local-mode lock)."""
        await self._client.close()

    async def __aenter__(self) -> VectorMemory:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    async def _call(self, awaitable: Awaitable[_T]) -> _T:
        """Await a Qdrant call, turning transport and server failures into `MemoryUnavailableError`."""
        try:
            return await awaitable
        except (ApiException, OSError) as exc:
            reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise MemoryUnavailableError(f"vector memory failed at {self._where}: {reason}") from exc

    async def _existing_dimension(self, name: str) -> int | None:
        if name in self._dimensions:
            return self._dimensions[name]
        if not await self._call(self._client.collection_exists(name)):
            return None
        info = await self._call(self._client.get_collection(name))
        vectors = info.config.params.vectors
        if not isinstance(vectors, models.VectorParams):
            raise MemoryStoreError(f"collection {name} at {self._where} was not created by AutoIntel")
        self._dimensions[name] = vectors.size
        return vectors.size

    def _check_dimension(self, name: str, stored: int, given: int) -> None:
        if stored != given:
            raise DimensionMismatchError(
                f"memory collection {name} holds {stored}-dimensional vectors but the embedder "
                f"{self._embedder.name} makes {given}-dimensional ones; use the embedder it was built "
                "with (EMBEDDINGS_BASE_URL/EMBEDDINGS_MODEL) or a new collection"
            )

    async def _ensure_collection(self, name: str, dimension: int) -> None:
        async with self._create_lock:
            stored = await self._existing_dimension(name)
            if stored is not None:
                self._check_dimension(name, stored, dimension)
                return
            params = models.VectorParams(size=dimension, distance=models.Distance.COSINE)
            await self._call(self._client.create_collection(name, vectors_config=params))
            if not self._local:  # local mode ignores payload indexes (and warns about them)
                for key in ("kind", "run_id"):
                    await self._call(
                        self._client.create_payload_index(name, key, models.PayloadSchemaType.KEYWORD)
                    )
            self._dimensions[name] = dimension

    @_measured("upsert")
    async def upsert(self, namespace: str, items: Sequence[MemoryItem]) -> int:
        """Embed and store `items` in `namespace`; return how many distinct points were written.

        Embeds up to 16 batches of EMBEDDINGS_BATCH_SIZE texts per embedder call and makes one
        Qdrant upsert per batch; creates the collection (cosine, the embedder's dimension) on
        first use. Items with the same `id` are written once (the last wins); re-upserting an
        item replaces its point.
        """
        name = collection_name(namespace)
        unique = list({item.id: item for item in items}.values())
        slab = self._batch_size * EMBED_SLAB_BATCHES
        for slab_start in range(0, len(unique), slab):
            slab_items = unique[slab_start : slab_start + slab]
            # one embed call per slab: the embedder sorts a call's texts by length, so its
            # batches pad little (2x faster than embedding each upsert batch on its own)
            vectors = await self._embedder.embed([item.text for item in slab_items])
            await self._ensure_collection(name, len(vectors[0]))
            for start in range(0, len(slab_items), self._batch_size):
                points = [
                    models.PointStruct(id=item.id, vector=vector, payload=item.payload())
                    for item, vector in zip(
                        slab_items[start : start + self._batch_size],
                        vectors[start : start + self._batch_size],
                        strict=True,
                    )
                ]
                await self._call(self._client.upsert(name, points=points, wait=True))
        return len(unique)

    @_measured("search")
    async def search(
        self,
        namespace: str,
        query: str,
        *,
        limit: int = 5,
        kinds: Sequence[str] | None = None,
        exclude_run: str | None = None,
    ) -> list[Hit]:
        """The `limit` items of `namespace` closest to `query`, best first.

        `kinds` keeps only those kinds; `exclude_run` drops items of that run (e.g. the run
        being analysed, when looking for earlier analyses). A namespace with nothing stored
        yet returns [].
        """
        name = collection_name(namespace)
        for kind in kinds or ():
            _check_kind(kind)
        stored = await self._existing_dimension(name)
        if stored is None:
            return []
        vector = await self._query_vector(query)
        self._check_dimension(name, stored, len(vector))
        must: list[models.Condition] = []
        must_not: list[models.Condition] = []
        if kinds:
            must.append(models.FieldCondition(key="kind", match=models.MatchAny(any=list(kinds))))
        if exclude_run is not None:
            must_not.append(models.FieldCondition(key="run_id", match=models.MatchValue(value=exclude_run)))
        query_filter = (
            models.Filter(must=must or None, must_not=must_not or None) if must or must_not else None
        )
        response = await self._call(
            self._client.query_points(
                name, query=vector, limit=limit, query_filter=query_filter, with_payload=True
            )
        )
        return [Hit(MemoryItem.from_payload(dict(p.payload or {})), float(p.score)) for p in response.points]

    async def _query_vector(self, query: str) -> list[float]:
        """The query's embedding; recent ones are cached (a claim is often searched in 2 namespaces)."""
        vector = self._query_cache.pop(query, None)
        if vector is None:
            vector = (await self._embedder.embed([query]))[0]
        self._query_cache[query] = vector
        while len(self._query_cache) > QUERY_CACHE_SIZE:
            self._query_cache.popitem(last=False)
        return vector

    async def count(self, namespace: str) -> int:
        """How many points `namespace` holds (0 when nothing was stored)."""
        name = collection_name(namespace)
        if await self._existing_dimension(name) is None:
            return 0
        return (await self._call(self._client.count(name, exact=True))).count

    @_measured("delete")
    async def delete_run(self, namespace: str, run_id: str) -> None:
        """Forget every item of `run_id` in `namespace` (e.g. before re-analysing it fresh)."""
        name = collection_name(namespace)
        if await self._existing_dimension(name) is None:
            return
        selector = models.FilterSelector(
            filter=models.Filter(
                must=[models.FieldCondition(key="run_id", match=models.MatchValue(value=run_id))]
            )
        )
        await self._call(self._client.delete(name, points_selector=selector, wait=True))
