"""Fixtures for memory tests: the bundled embedder (loaded once) and the scripted embeddings server."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from fakes.openai_server import ScriptedOpenAI
from memory.embeddings import MiniLMEmbedder


@pytest.fixture(scope="session")
def minilm() -> MiniLMEmbedder:
    """The real bundled all-MiniLM-L6-v2 embedder (weights load once per process anyway)."""
    return MiniLMEmbedder()


@pytest.fixture
async def embeddings_server() -> AsyncIterator[ScriptedOpenAI]:
    """An OpenAI-compatible server on 127.0.0.1 answering /v1/embeddings with 16-d vectors."""
    server = ScriptedOpenAI(embedding_dimension=16)
    await server.start()
    yield server
    await server.stop()
