"""One task's model call: cache, route, call, repair, fall back, learn.

`dispatch` is the only way crew code reaches a model:
1. the router ranks the catalogue for the task (context, capabilities, breakers, cost left);
2. an answer cached for any eligible model is returned at once (no model, no CrewAI import);
3. otherwise the best model is called through the single-flight cache; an invalid answer gets
   one repair prompt on the same model; a timeout, connection error, 5xx or a second invalid
   answer moves on to the next-best model, within `ROUTER_MAX_ATTEMPTS` calls in all;
4. every call's outcome (latency, validity, repair, cost) teaches the router and is counted.

Errors: `InvalidAnswer` (raised by the task's attempt when the answer breaks its schema) and
`TaskFailed` (routing.budget: no usable answer, or a budget ran out).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Generic, NamedTuple, TypeVar

from pydantic import BaseModel

from observability.metrics import (
    CACHE_LOOKUPS,
    LLM_COST,
    LLM_REQUESTS,
    LLM_SECONDS,
    LLM_TOKENS,
    ROUTER_DECISIONS,
    ROUTER_FALLBACKS,
)
from pipelines.stage import Resources
from routing.budget import Budget, TaskFailed, estimate_tokens
from routing.cache import MemoryBackend, ResponseCache, cache_key, ttl_for
from routing.catalog import estimated_cost, model_id, output_tokens
from routing.router import Choice, Router, TaskNeeds
from routing.stats import outcome
from settings import ModelSpec

log = logging.getLogger(__name__)
T = TypeVar("T", bound=BaseModel)


class Answer(NamedTuple, Generic[T]):
    """A task's validated answer and the catalogue model that gave it."""

    value: T
    model: str


class InvalidAnswer(ValueError):
    """The model answered, but not usably: its message says why (it goes into the repair prompt)."""


@dataclass(frozen=True)
class Usage:
    """Tokens one call used (as reported by the server, or estimated)."""

    prompt_tokens: int
    completion_tokens: int


Attempt = Callable[[Any, str], Awaitable[tuple[Any, Usage]]]


@dataclass(frozen=True)
class TaskCall(Generic[T]):
    """One task to answer: its prompt, answer model, and how to ask a model.

    `attempt(llm, prompt)` sends the prompt and returns the parsed answer with its usage (or
    raises `InvalidAnswer`); `repair(error)` is the prompt that asks again after an invalid
    answer; `fingerprint` is whatever else the messages hold (persona, expected output).
    """

    task: str
    description: str
    output: type[T]
    attempt: Attempt
    repair: Callable[[str], str]
    fingerprint: str
    on_invalid: Callable[[str, InvalidAnswer], None] | None = None


def router_of(resources: Resources) -> Router:
    """The process's router (an unpersisted one when the entry point opened none)."""
    if resources.router is None:
        resources.router = Router(resources.settings)
    router: Router = resources.router
    return router


def cache_of(resources: Resources) -> ResponseCache | None:
    """The process's response cache (an in-process LRU when the entry point opened none)."""
    if resources.responses is None and resources.settings.cache.enabled:
        resources.responses = ResponseCache(MemoryBackend(resources.settings.cache.max_entries))
    cache: ResponseCache | None = resources.responses
    return cache


def llm_of(resources: Resources, spec: ModelSpec) -> Any:
    """The CrewAI LLM of a catalogue model, built once per process."""
    name = f"llm:{spec.name}"
    if name not in resources.cache:
        from routing.llms import build_llm

        resources.cache[name] = build_llm(spec, resources.settings)
    return resources.cache[name]


def _key(resources: Resources, spec: ModelSpec, call: TaskCall[Any]) -> str:
    settings = resources.settings
    schema = call.output.model_json_schema()
    params = {"temperature": settings.llm.temperature, "max_tokens": output_tokens(spec, settings)}
    return cache_key(spec.base_url, model_id(spec), call.fingerprint, call.description, schema, params)


async def dispatch(resources: Resources, call: TaskCall[T], budget: Budget) -> Answer[T]:
    """Answer one task on the best available model; raise `TaskFailed` when none can."""
    router = router_of(resources)
    await router.refresh()
    needs = TaskNeeds(
        call.task,
        estimate_tokens(call.fingerprint + call.description),
        quality_floor=budget.quality_floor,
        latency_target=budget.latency_target,
    )
    ranked, excluded = router.rank(needs, budget.cost_left)
    if not ranked:
        if budget.cost_left < float("inf") and any(" left" in reason for reason in excluded):
            cut = f"skipped: the cost budget of this depth (${budget.cost_limit:.4f}) is spent"
            raise TaskFailed(call.task, f"{cut} ({'; '.join(excluded)})")
        raise TaskFailed(call.task, "no model can take it: " + "; ".join(excluded))
    cache = cache_of(resources)
    keys = {choice.spec.name: _key(resources, choice.spec, call) for choice in ranked}
    if cache is not None:
        for choice in ranked:
            hit = await cache.peek(keys[choice.spec.name])
            if hit is not None:
                return _cached(call, choice.spec, hit, budget)
    error = ""
    attempts = [0]
    for position, choice in enumerate(ranked):
        if attempts[0] >= resources.settings.router.max_attempts:
            break
        if not router.available(choice.spec.name):
            continue
        _decided(call.task, choice, position, ranked, excluded)
        try:
            compute = _on_model(resources, router, call, choice, budget, attempts)
            if cache is None:
                text = await compute()
            else:
                key, ttl = keys[choice.spec.name], ttl_for(call.task, resources.settings)
                text, _how = await cache.get_or_compute(key, ttl, compute)
        except _ModelGaveUp as gave_up:
            error = gave_up.reason
            ROUTER_FALLBACKS.labels(task=call.task, model=choice.spec.name, cause=gave_up.cause).inc()
            continue
        budget.answered_by(choice.spec.name)
        return Answer(call.output.model_validate_json(text), choice.spec.name)
    raise TaskFailed(call.task, error or "every eligible model is cooling down after repeated failures")


class _ModelGaveUp(Exception):
    """This model gave no usable answer; the next one may."""

    def __init__(self, cause: str, reason: str) -> None:
        super().__init__(reason)
        self.cause = cause
        self.reason = reason


def _on_model(
    resources: Resources,
    router: Router,
    call: TaskCall[Any],
    choice: Choice,
    budget: Budget,
    attempts: list[int],
) -> Callable[[], Awaitable[str]]:
    """The calls to one model (the prompt, then the repair prompt) as one cache fill."""
    spec = choice.spec

    async def compute() -> str:
        prompt, error = call.description, ""
        for repaired in (False, True):
            if attempts[0] >= resources.settings.router.max_attempts:
                break
            attempts[0] += 1
            answer_tokens = output_tokens(spec, resources.settings)
            tokens = estimate_tokens(call.fingerprint + prompt)
            budget.reserve(call.task, tokens + answer_tokens, estimated_cost(spec, tokens, answer_tokens))
            llm = llm_of(resources, spec)
            started = time.perf_counter()
            try:
                async with router.gate(spec):
                    answer, usage = await call.attempt(llm, prompt)
            except InvalidAnswer as exc:
                seconds = time.perf_counter() - started
                _count(spec, call.task, "invalid", seconds, Usage(tokens, 0))
                error = str(exc).splitlines()[0][:300]
                if call.on_invalid is not None:
                    call.on_invalid(spec.name, exc)
                log.info("task %s on %s: invalid answer (%s)", call.task, spec.name, error)
                prompt = call.repair(error)
                continue
            except Exception as exc:  # a model endpoint's errors have no common base
                seconds = time.perf_counter() - started
                cause = "timeout" if "timeout" in type(exc).__name__.lower() else "error"
                _count(spec, call.task, cause, seconds, Usage(tokens, 0))
                await router.record(call.task, spec, outcome(ok=False, seconds=None), transport_error=True)
                log.warning("task %s on %s failed: %s: %s", call.task, spec.name, type(exc).__name__, exc)
                raise _ModelGaveUp(cause, f"the request failed ({type(exc).__name__})") from exc
            seconds = time.perf_counter() - started
            cost = estimated_cost(spec, usage.prompt_tokens, usage.completion_tokens)
            _count(spec, call.task, "ok", seconds, usage, cost)
            delta = outcome(ok=True, seconds=seconds, repaired=repaired, cost=cost)
            await router.record(call.task, spec, delta, transport_error=False)
            text: str = answer.model_dump_json()
            return text
        # Invalid twice (or once with no attempt left): one failure for the bandit, not two.
        await router.record(call.task, spec, outcome(ok=False, seconds=None), transport_error=False)
        raise _ModelGaveUp("invalid", error or "the attempts of this task are used up")

    return compute


def _cached(call: TaskCall[T], spec: ModelSpec, text: str, budget: Budget) -> Answer[T]:
    CACHE_LOOKUPS.labels(cache="response", result="hit").inc()
    ROUTER_DECISIONS.labels(task=call.task, model=spec.name, reason="cached").inc()
    log.info("route %s → %s: cached answer", call.task, spec.name)
    budget.answered_by(spec.name)
    return Answer(call.output.model_validate_json(text), spec.name)


def _decided(task: str, choice: Choice, position: int, ranked: list[Choice], excluded: list[str]) -> None:
    """Log and count one routing decision with its reasons."""
    reason = "fallback" if position else ("explore" if choice.reasons.startswith("explore") else "best")
    ROUTER_DECISIONS.labels(task=task, model=choice.spec.name, reason=reason).inc()
    others = "; ".join(f"{c.spec.name} {c.reasons}" for c in ranked if c is not choice)
    log.info(
        "route %s → %s [%s] %s | others: %s | excluded: %s",
        task,
        choice.spec.name,
        reason,
        choice.reasons,
        others or "none",
        "; ".join(excluded) or "none",
    )


def _count(spec: ModelSpec, task: str, result: str, seconds: float, usage: Usage, cost: float = 0.0) -> None:
    """Metrics of one call: outcome, duration, tokens and spend."""
    LLM_REQUESTS.labels(model=spec.name, task=task, outcome=result).inc()
    LLM_SECONDS.labels(model=spec.name, task=task).observe(seconds)
    LLM_TOKENS.labels(model=spec.name, task=task, kind="prompt").inc(usage.prompt_tokens)
    LLM_TOKENS.labels(model=spec.name, task=task, kind="completion").inc(usage.completion_tokens)
    if cost:
        LLM_COST.labels(model=spec.name, task=task).inc(cost)
