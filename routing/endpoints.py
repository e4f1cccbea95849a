"""Model endpoints from settings, and `llm_for`: the one way crew code gets a model.

No model names live in crews/. Per-task choice is a simple mapping today (every task uses the
configured endpoint); the learning router replaces `llm_for` without touching the crews.
This module stays light: the CrewAI-backed LLM classes (routing/llms.py) load on first use.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pipelines.stage import Resources
from settings import Settings

EMBEDDED_MODEL_NAME = "SmolLM2-135M-Instruct (embedded)"
EMBEDDED_CONTEXT = 8192


@dataclass(frozen=True)
class Endpoint:
    """One model endpoint and what it can do."""

    model: str
    base_url: str | None
    structured_output: str
    context_tokens: int
    max_concurrency: int

    @property
    def embedded(self) -> bool:
        """Whether this is the in-process bundled model."""
        return self.base_url is None


def endpoint_from_settings(settings: Settings) -> Endpoint:
    """The configured endpoint, or the embedded model when `LLM_BASE_URL` is unset."""
    llm = settings.llm
    if llm.base_url:
        return Endpoint(
            model=llm.model or "default",
            base_url=llm.base_url,
            structured_output=llm.structured_output,
            context_tokens=llm.context_tokens,
            max_concurrency=llm.concurrency,
        )
    return Endpoint(
        model=EMBEDDED_MODEL_NAME,
        base_url=None,
        structured_output="grammar",
        context_tokens=min(llm.context_tokens, EMBEDDED_CONTEXT),
        max_concurrency=1,
    )


def llm_for(task: str, resources: Resources) -> Any:
    """The LLM a task should use (today: the configured endpoint for every task)."""
    cached = resources.cache.get("llm")
    if cached is None:
        from routing.llms import build_llm

        cached = resources.cache["llm"] = build_llm(resources.settings)
    return cached
