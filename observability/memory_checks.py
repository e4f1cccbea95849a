"""The doctor's vector-memory checks: the embedder's vector size and Qdrant's collections.

- embeddings: the bundled MiniLM's dimension from its config, or one probe of
  EMBEDDINGS_BASE_URL's `/embeddings`.
- vector memory: Qdrant reachable (server) or its local folder present or creatable (never
  created), and every AutoIntel collection's vector size equal to the embedder's.

Each check only reads; every network call gives up after `NETWORK_TIMEOUT` seconds.
"""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path

import aiohttp

from observability.checks import (
    NETWORK_TIMEOUT,
    CheckResult,
    Status,
    bearer,
    client_timeout,
    error_text,
    hide_password,
    preload,
    reason,
)
from settings import Settings

_MEMORY, _EMBEDDINGS = "vector memory", "embeddings"


async def _embedder(settings: Settings) -> tuple[CheckResult, int | None]:
    """The embedder's result and vector size: the bundled MiniLM's config, or one probe of the endpoint."""
    llm = settings.llm
    if not llm.embeddings_base_url:
        from memory.embeddings import MINILM_NAME, MiniLMEmbedder
        from memory.errors import EmbedderError

        try:
            dimension = MiniLMEmbedder().dimension
        except EmbedderError as exc:
            return CheckResult(Status.FAIL, _EMBEDDINGS, str(exc), "run make install"), None
        return CheckResult(Status.OK, _EMBEDDINGS, f"{MINILM_NAME} (bundled): {dimension}-d"), dimension
    fix = "start the embeddings server, or fix EMBEDDINGS_BASE_URL / EMBEDDINGS_MODEL / LLM_API_KEY"
    if not llm.embeddings_model:
        return CheckResult(Status.FAIL, _EMBEDDINGS, "EMBEDDINGS_MODEL is not set", fix), None
    url = hide_password(llm.embeddings_base_url.rstrip("/") + "/embeddings")
    body = {"model": llm.embeddings_model, "input": ["dimension probe"], "encoding_format": "float"}
    try:
        async with (
            aiohttp.ClientSession(headers=bearer(settings), timeout=client_timeout()) as http,
            http.post(llm.embeddings_base_url.rstrip("/") + "/embeddings", json=body) as response,
        ):
            if response.status != 200:
                return CheckResult(
                    Status.FAIL, _EMBEDDINGS, f"{url}: {await error_text(response)}", fix
                ), None
            dimension = len((await response.json())["data"][0]["embedding"])
    except (aiohttp.ClientError, TimeoutError, ValueError, KeyError, IndexError, TypeError) as exc:
        return CheckResult(Status.FAIL, _EMBEDDINGS, f"{url}: {reason(exc)}", fix), None
    details = f"{llm.embeddings_model} at {url}: {dimension}-d"
    return CheckResult(Status.OK, _EMBEDDINGS, details), dimension


async def _server_sizes(settings: Settings) -> dict[str, int]:
    """Vector size of every AutoIntel collection on the Qdrant server."""
    from qdrant_client import AsyncQdrantClient, models

    from memory.vector import COLLECTION_PREFIX

    key = settings.qdrant.api_key.get_secret_value() if settings.qdrant.api_key else None
    client = AsyncQdrantClient(
        url=settings.qdrant.url, api_key=key, timeout=int(NETWORK_TIMEOUT), check_compatibility=False
    )
    try:
        async with asyncio.timeout(NETWORK_TIMEOUT * 2):
            names = [c.name for c in (await client.get_collections()).collections]
            names = [name for name in names if name.startswith(COLLECTION_PREFIX)]
            infos = await asyncio.gather(*(client.get_collection(name) for name in names))
    finally:
        await client.close()
    vectors = {name: info.config.params.vectors for name, info in zip(names, infos, strict=True)}
    return {name: v.size for name, v in vectors.items() if isinstance(v, models.VectorParams)}


def _local_sizes(path: Path) -> dict[str, int]:
    """Vector sizes from AutoIntel's local-mode storage's meta.json (read without taking Qdrant's lock)."""
    meta = path / "meta.json"
    if not meta.exists():
        return {}
    collections = json.loads(meta.read_text(encoding="utf-8")).get("collections", {})
    return {
        name: int(config["vectors"]["size"])
        for name, config in collections.items()
        if isinstance(config.get("vectors"), dict)
    }


def _creatable(path: Path) -> tuple[bool, Path]:
    """Whether `path` is a writable folder, or could be created: (that, the nearest existing path)."""
    probe = path
    while not probe.exists():
        probe = probe.parent
    return probe.is_dir() and os.access(probe, os.W_OK | os.X_OK), probe


async def _qdrant_sizes(settings: Settings) -> tuple[str, dict[str, int]] | CheckResult:
    """(where, vector size per AutoIntel collection), or the final result when there is nothing to compare."""
    if settings.qdrant.url:
        from qdrant_client.http.exceptions import ApiException

        where = f"Qdrant server {hide_password(settings.qdrant.url)}"
        try:
            return where, await _server_sizes(settings)
        except (ApiException, OSError, TimeoutError) as exc:
            fix = "start Qdrant, or fix QDRANT_URL / QDRANT_API_KEY (unset QDRANT_URL for local mode)"
            return CheckResult(Status.FAIL, _MEMORY, f"cannot reach the {where}: {reason(exc)}", fix)
    path = settings.pipeline.data_dir.absolute() / "qdrant"
    where = f"Qdrant local mode in {path}"
    writable, probe = await asyncio.to_thread(_creatable, path)
    if not writable:
        fix = "make it writable, or set AUTOINTEL_DATA_DIR or QDRANT_URL"
        return CheckResult(Status.FAIL, _MEMORY, f"{where}: {probe} is not a writable folder", fix)
    if probe != path:
        return CheckResult(Status.OK, _MEMORY, f"{where}: not created yet (created at first use)")
    try:
        return where, await asyncio.to_thread(_local_sizes, path)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        fix = "move the damaged folder away (memory starts empty) or restore a backup"
        return CheckResult(Status.FAIL, _MEMORY, f"{where}: unreadable meta.json: {reason(exc)}", fix)


async def check_memory(settings: Settings) -> list[CheckResult]:
    """The embedder (its dimension) and Qdrant (reachable; collection vector sizes match the embedder)."""
    await preload(
        "memory.vector" if settings.qdrant.url else "memory.embeddings"
    )  # the server needs the client
    (embedder, dimension), found = await asyncio.gather(_embedder(settings), _qdrant_sizes(settings))
    if isinstance(found, CheckResult):
        return [embedder, found]
    where, sizes = found
    summary = f"{where}: {len(sizes)} collection(s)"
    if dimension is None:
        details = f"{summary}; vector sizes not compared (the embedder failed)"
        return [embedder, CheckResult(Status.WARN, _MEMORY, details, "fix the embeddings first")]
    wrong = [f"{name} ({size})" for name, size in sorted(sizes.items()) if size != dimension]
    if wrong:
        details = f"{summary}; vector sizes differ from the embedder's {dimension}: {', '.join(wrong)}"
        fix = "switch back to the embedder that wrote them, or delete those collections (memories are lost)"
        return [embedder, CheckResult(Status.FAIL, _MEMORY, details, fix)]
    return [embedder, CheckResult(Status.OK, _MEMORY, f"{summary}, vector sizes match ({dimension})")]
