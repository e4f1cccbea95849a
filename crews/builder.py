"""The crew builder: fresh CrewAI agents, tasks and crews per run from the YAML in crews/config.

Every task runs as its own single-task crew with its own Agent, so independent tasks can be
awaited concurrently with `asyncio.gather` (the flag-on path) or one after another (flag
off) with the same result. `run_task` gives one malformed or failed answer a second chance
with a repair prompt, then raises `TaskFailed`, which callers turn into a marked-failed item
instead of aborting the run. `Budget` bounds the tokens a run may spend.
"""

from __future__ import annotations

import functools
import json
import logging
import threading
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from observability.metrics import LLM_REQUESTS, LLM_SECONDS, LLM_TOKENS
from pipelines.models import Depth

log = logging.getLogger(__name__)

CONFIG = Path(__file__).parent / "config"
T = TypeVar("T", bound=BaseModel)
R = TypeVar("R")


class TaskFailed(Exception):
    """A task gave no usable answer after the repair attempt (or the budget ran out)."""

    def __init__(self, task: str, reason: str) -> None:
        super().__init__(f"{task}: {reason}")
        self.task = task
        self.reason = reason


@dataclass(frozen=True)
class Tier:
    """What a depth tier runs and may spend (crews/config/tiers.yaml)."""

    tasks: tuple[str, ...]
    max_points: int
    max_claims: int
    check_claims: int
    graph: bool
    token_budget: int


@functools.cache
def _yaml(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((CONFIG / name).read_text(encoding="utf-8"))
    return loaded


def tier(depth: Depth) -> Tier:
    """The configuration of a depth tier."""
    raw = _yaml("tiers.yaml")[depth.value]
    return Tier(**{**raw, "tasks": tuple(raw["tasks"])})


def task_text(key: str, **fields: str) -> str:
    """A task description with its placeholders filled (plain replacement: transcripts may hold braces)."""
    text: str = _yaml("tasks.yaml")[key]["description"] if key != "repair" else _yaml("tasks.yaml")[key]
    if "{shared}" in text:
        text = text.replace("{shared}", _yaml("tasks.yaml")["shared"])
    for name, value in fields.items():
        text = text.replace("{" + name + "}", value)
    return text


@dataclass
class Budget:
    """Estimated tokens a run may still spend; thread-safe so concurrent tasks share it."""

    limit: int
    spent: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def reserve(self, task: str, tokens: int) -> None:
        """Count `tokens` against the budget or raise `TaskFailed` when they don't fit."""
        with self._lock:
            if self.spent + tokens > self.limit:
                raise TaskFailed(task, f"skipped: the token budget of this depth ({self.limit}) is spent")
            self.spent += tokens


def estimate_tokens(text: str) -> int:
    """A conservative token estimate for English text (about 3.5 characters per token)."""
    return int(len(text) / 3.5) + 1


def _crew(key: str, llm: Any, description: str, output: type[BaseModel]) -> Any:
    """A fresh single-task crew whose agent and task come from the YAML."""
    from crews.runtime import crewai

    spec = _yaml("tasks.yaml")[key]
    persona = _yaml("agents.yaml")[spec["agent"]]
    agent = crewai.Agent(
        role=persona["role"].strip(),
        goal=persona["goal"].strip(),
        backstory=persona["backstory"].strip(),
        llm=llm,
        allow_delegation=False,
        max_iter=1,
        max_retry_limit=0,
        verbose=False,
    )
    task = crewai.Task(
        description=description,
        expected_output=spec["expected_output"],
        agent=agent,
        output_pydantic=output,
    )
    return crewai.Crew(agents=[agent], tasks=[task], verbose=False)


def _parse(result: Any, output: type[T]) -> T:
    if isinstance(result.pydantic, output):
        return result.pydantic
    raw = str(result.raw or "").strip()
    if raw.startswith("```"):
        raw = raw.strip("`").removeprefix("json").strip()
    return output.model_validate(json.loads(raw, strict=False))


async def run_task(
    key: str,
    llm: Any,
    description: str,
    output: type[T],
    budget: Budget,
    max_output_tokens: int,
) -> T:
    """Run one task; on a malformed or failed answer retry once with a repair prompt."""
    from crews.runtime import ConverterError

    error = ""
    model = str(getattr(llm, "model", "unknown"))
    for attempt in (1, 2):
        prompt = description if attempt == 1 else description + task_text("repair", error=error)
        budget.reserve(key, estimate_tokens(prompt) + max_output_tokens)
        started = time.perf_counter()
        outcome = "ok"
        result = None
        try:
            result = await _crew(key, llm, prompt, output).akickoff()
            return _parse(result, output)
        except (ValidationError, ValueError, ConverterError) as exc:
            outcome = "invalid"
            error = f"it did not match the schema ({str(exc).splitlines()[0][:200]})"
        except Exception as exc:  # the model endpoint's errors have no common base
            outcome = "error"
            log.warning("task %s attempt %d failed: %s: %s", key, attempt, type(exc).__name__, exc)
            error = f"the request failed ({type(exc).__name__})"
        finally:
            _record_call(model, key, outcome, time.perf_counter() - started, prompt, result)
        log.info("task %s attempt %d unusable: %s", key, attempt, error)
    raise TaskFailed(key, error)


def _record_call(model: str, task: str, outcome: str, seconds: float, prompt: str, result: Any) -> None:
    """Count one model call: outcome, duration and tokens (the server's usage, else estimated)."""
    LLM_REQUESTS.labels(model=model, task=task, outcome=outcome).inc()
    LLM_SECONDS.labels(model=model, task=task).observe(seconds)
    usage = getattr(result, "token_usage", None)
    prompt_tokens = int(getattr(usage, "prompt_tokens", 0) or 0) or estimate_tokens(prompt)
    completion_tokens = int(getattr(usage, "completion_tokens", 0) or 0)
    if not completion_tokens and result is not None:
        completion_tokens = estimate_tokens(str(getattr(result, "raw", "") or ""))
    LLM_TOKENS.labels(model=model, task=task, kind="prompt").inc(prompt_tokens)
    LLM_TOKENS.labels(model=model, task=task, kind="completion").inc(completion_tokens)


async def run_all(jobs: Sequence[Callable[[], Awaitable[R]]], parallel: bool, limit: int) -> list[R]:
    """Await jobs concurrently (at most `limit` at once) or one after another; results in order."""
    import asyncio

    if not parallel:
        return [await job() for job in jobs]
    gate = asyncio.Semaphore(limit)

    async def gated(job: Callable[[], Awaitable[R]]) -> R:
        async with gate:
            return await job()

    return list(await asyncio.gather(*(gated(job) for job in jobs)))
