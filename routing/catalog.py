"""The model catalogue: every model the router may choose, from settings.

Declared with `ROUTER_MODELS_FILE` (YAML, a `models:` list) or `ROUTER_MODELS` (JSON); when
neither is set the catalogue is the single `LLM_*` endpoint, or the embedded model when
`LLM_BASE_URL` is unset. Entries are `settings.ModelSpec`s; this module only derives them.
"""

from __future__ import annotations

from settings import ModelSpec, Settings

EMBEDDED_MODEL_NAME = "embedded"
EMBEDDED_MODEL_ID = "SmolLM2-135M-Instruct (embedded)"
EMBEDDED_CONTEXT = 8192


def catalogue(settings: Settings) -> list[ModelSpec]:
    """The models the router chooses from, in declaration order."""
    if settings.router.models:
        return list(settings.router.models)
    llm = settings.llm
    if llm.base_url:
        return [
            ModelSpec(
                name=llm.model or "default",
                base_url=llm.base_url,
                model=llm.model or "default",
                structured_output=llm.structured_output,
                context_tokens=llm.context_tokens,
                concurrency=llm.concurrency,
                timeout_seconds=llm.timeout_seconds,
            )
        ]
    return [embedded_spec(settings)]


def embedded_only(settings: Settings) -> bool:
    """Whether the embedded model is the only one: too small to analyse or judge, so nothing asks it."""
    return all(spec.name == EMBEDDED_MODEL_NAME and not spec.base_url for spec in catalogue(settings))


def embedded_spec(settings: Settings) -> ModelSpec:
    """The bundled in-process model as a catalogue entry (local: no cost, one call at a time)."""
    return ModelSpec(
        name=EMBEDDED_MODEL_NAME,
        model=EMBEDDED_MODEL_ID,
        structured_output="grammar",
        context_tokens=min(settings.llm.context_tokens, EMBEDDED_CONTEXT),
        concurrency=1,
        latency_seconds=30.0,
        quality=0.1,
    )


def model_id(spec: ModelSpec) -> str:
    """The id sent to the server (or shown for the embedded model)."""
    return spec.model or spec.name


def output_tokens(spec: ModelSpec, settings: Settings) -> int:
    """The answer budget of one call on this model."""
    return spec.max_output_tokens or settings.llm.max_output_tokens


def estimated_cost(spec: ModelSpec, prompt_tokens: int, completion_tokens: int) -> float:
    """US dollars for one call at catalogue prices."""
    return (prompt_tokens * spec.cost_per_1k_input + completion_tokens * spec.cost_per_1k_output) / 1000


def max_concurrency(settings: Settings) -> int:
    """How many model calls a run may have in flight across the whole catalogue."""
    return sum(spec.concurrency for spec in catalogue(settings))
