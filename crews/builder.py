"""The crew builder: fresh CrewAI agents, tasks and crews per run from the YAML in crews/config.

Every task runs as its own single-task crew with its own Agent, so independent tasks can be
awaited concurrently with `asyncio.gather` (the flag-on path) or one after another (flag
off) with the same result. `run_task` answers a task on the model the router picks
(routing.dispatch: response cache, one repair prompt, fallback to the next model) or raises
`TaskFailed`, which callers turn into a marked-failed item instead of aborting the run.
"""

from __future__ import annotations

import functools
import json
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from pipelines.models import Depth
from pipelines.stage import Resources
from routing.budget import Budget, estimate_tokens
from routing.dispatch import Answer, InvalidAnswer, Usage

log = logging.getLogger(__name__)

CONFIG = Path(__file__).parent / "config"
T = TypeVar("T", bound=BaseModel)
R = TypeVar("R")


@dataclass(frozen=True)
class Tier:
    """What a depth tier runs and may spend (crews/config/tiers.yaml)."""

    tasks: tuple[str, ...]
    max_points: int
    max_claims: int
    check_claims: int
    graph: bool
    token_budget: int
    cost_budget: float
    quality_floor: float
    latency_target_seconds: float
    searches_per_claim: int
    pages_per_claim: int
    searches_per_run: int
    pages_per_run: int

    def budget(self, tokens_spent: int = 0, cost_spent: float = 0.0) -> Budget:
        """The spending budget of one run of this tier, less what earlier stages spent."""
        return Budget(
            max(self.token_budget - tokens_spent, 0),
            cost_limit=max(self.cost_budget - cost_spent, 0.0),
            quality_floor=self.quality_floor,
            latency_target=self.latency_target_seconds,
        )


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


@functools.cache
def instructions(key: str) -> str:
    """The task's own words (template, expected output, repair text), unfilled: what answers must not echo."""
    spec = _yaml("tasks.yaml")[key]
    text = spec["description"].replace("{shared}", _yaml("tasks.yaml")["shared"])
    return "\n".join([text, spec["expected_output"], _yaml("tasks.yaml")["repair"]])


GATES_VERSION = 1  # part of every cache key: answers cached before a change of the gates are not reused


def _persona(key: str) -> str:
    """Everything besides the description that the task's messages hold, and the gates' version.

    It is part of the response cache key.
    """
    spec = _yaml("tasks.yaml")[key]
    persona = _yaml("agents.yaml")[spec["agent"]]
    return json.dumps([persona, spec["expected_output"], GATES_VERSION], sort_keys=True)


async def run_task(
    key: str,
    resources: Resources,
    description: str,
    output: type[T],
    budget: Budget,
    *,
    check: Callable[[T], list[str]] | None = None,
    rejected: Callable[[str, InvalidAnswer], None] | None = None,
) -> Answer[T]:
    """Answer one task on the model the router picks (cache, repair and fallback included).

    Every answer passes the quality gates (crews.gates: placeholders, schema echoes, copied
    instructions) plus the task's own `check`; a failing answer is invalid like a schema
    error: it gets the repair prompt, then the next model. `rejected(model, error)` hears of
    every invalid answer.
    """
    from crews.gates import answer_problems, reject
    from routing.dispatch import TaskCall, dispatch

    async def attempt(llm: Any, prompt: str) -> tuple[T, Usage]:
        from crews.runtime import ConverterError

        try:
            result = await _crew(key, llm, prompt, output).akickoff()
            answer = _parse(result, output)
        except (ValidationError, ValueError, ConverterError) as exc:  # the answer broke the schema
            first = str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
            raise InvalidAnswer(f"it did not match the schema ({first})") from exc
        reject(answer_problems(answer, instructions(key)) + (check(answer) if check else []))
        usage = getattr(result, "token_usage", None)
        prompt_tokens = int(getattr(usage, "prompt_tokens", 0) or 0) or estimate_tokens(prompt)
        completion_tokens = int(getattr(usage, "completion_tokens", 0) or 0)
        return answer, Usage(prompt_tokens, completion_tokens or estimate_tokens(str(result.raw or "")))

    call = TaskCall(
        task=key,
        description=description,
        output=output,
        attempt=attempt,
        repair=lambda error: description + task_text("repair", error=error),
        fingerprint=_persona(key),
        on_invalid=rejected,
    )
    return await dispatch(resources, call, budget)


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
