"""Fixtures for flow tests: the scripted OpenAI-compatible server and settings pointing at it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from fakes.openai_server import ScriptedOpenAI
from fakes.scripted_flow import REPLIES
from settings import Settings


@pytest.fixture
async def scripted() -> AsyncIterator[ScriptedOpenAI]:
    """The scripted model server with replies for every task."""
    server = ScriptedOpenAI(replies=dict(REPLIES))
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
def flow_settings(
    make_settings: Callable[..., Settings], scripted: ScriptedOpenAI, tmp_path: Path
) -> Callable[..., Settings]:
    """Settings pointing every model call at the scripted server; keyword args override flags."""

    def build(name: str = "run", **flags: bool) -> Settings:
        return make_settings(
            pipeline={"data_dir": tmp_path / name},
            llm={
                "base_url": scripted.base_url,
                "model": "scripted",
                "embeddings_base_url": scripted.base_url,
                "embeddings_model": "scripted-embed",
                "concurrency": 4,
            },
            flags=flags,
        )

    return build
