"""Two scripted model servers and settings whose catalogue points at them."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from fakes.openai_server import ScriptedOpenAI
from settings import Settings

VERDICT = {
    "verdict": "supported",
    "confidence": 0.9,
    "rationale": "Evidence 1 says so.",
    "evidence_used": [1],
}


@pytest.fixture
async def servers() -> AsyncIterator[dict[str, ScriptedOpenAI]]:
    """`primary` and `backup`: two OpenAI-compatible servers answering fact checks."""
    started = {
        name: ScriptedOpenAI(replies={"VerdictOutput": dict(VERDICT)}) for name in ("primary", "backup")
    }
    for server in started.values():
        await server.start()
    yield started
    for server in started.values():
        await server.stop()


@pytest.fixture
def routed_settings(
    make_settings: Callable[..., Settings], servers: dict[str, ScriptedOpenAI]
) -> Callable[..., Settings]:
    """Settings with a two-model catalogue (primary preferred by its priors); overrides per model."""

    def build(router: dict[str, Any] | None = None, **models: dict[str, Any]) -> Settings:
        specs = [
            {
                "name": name,
                "base_url": server.base_url,
                "model": f"{name}-model",
                "latency_seconds": 1.0 if name == "primary" else 4.0,
                "quality": 0.8 if name == "primary" else 0.6,
                "timeout_seconds": 5,
                **models.get(name, {}),
            }
            for name, server in servers.items()
        ]
        return make_settings(router={"models": specs, "seed": 7, "exploration": 0.0, **(router or {})})

    return build
