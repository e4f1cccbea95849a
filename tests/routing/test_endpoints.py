"""Endpoints from settings and the json_object custom LLM against the scripted server."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import pytest

from crews.builder import Budget, run_task, task_text
from crews.schemas import VerdictOutput
from fakes.openai_server import ScriptedOpenAI
from pipelines.stage import Resources
from routing.endpoints import EMBEDDED_MODEL_NAME, endpoint_from_settings, llm_for
from settings import Settings


@pytest.fixture
async def server() -> AsyncIterator[ScriptedOpenAI]:
    fake = ScriptedOpenAI(
        replies={
            "VerdictOutput": {
                "verdict": "refuted",
                "confidence": 0.8,
                "rationale": "No.",
                "evidence_used": [1],
            }
        }
    )
    await fake.start()
    yield fake
    await fake.stop()


def test_embedded_default_when_no_endpoint(make_settings: Callable[..., Settings]) -> None:
    endpoint = endpoint_from_settings(make_settings())
    assert endpoint.embedded and endpoint.model == EMBEDDED_MODEL_NAME and endpoint.max_concurrency == 1


def test_configured_endpoint(make_settings: Callable[..., Settings]) -> None:
    settings = make_settings(llm={"base_url": "http://127.0.0.1:8000/v1", "model": "qwen", "concurrency": 8})
    endpoint = endpoint_from_settings(settings)
    assert not endpoint.embedded
    assert (endpoint.model, endpoint.max_concurrency, endpoint.structured_output) == (
        "qwen",
        8,
        "json_schema",
    )


async def test_llm_is_built_once_per_process(
    make_settings: Callable[..., Settings], server: ScriptedOpenAI
) -> None:
    resources = Resources(make_settings(llm={"base_url": server.base_url, "model": "m"}))
    assert llm_for("claims", resources) is llm_for("fact_check", resources)


@pytest.mark.parametrize("mode", ["json_schema", "json_object"])
async def test_structured_output_modes_reach_the_server(
    make_settings: Callable[..., Settings], server: ScriptedOpenAI, mode: str
) -> None:
    settings = make_settings(llm={"base_url": server.base_url, "model": "m", "structured_output": mode})
    llm = llm_for("fact_check", Resources(settings))
    prompt = task_text("fact_check", claim="The Moon is made of cheese.", evidence="[1] The Moon is rock.")
    answer = await run_task("fact_check", llm, prompt, VerdictOutput, Budget(10**6), 200)
    assert answer.verdict == "refuted"
    fmt = server.requests[0]["response_format"]
    assert fmt["type"] == mode
    if mode == "json_object":
        assert fmt["schema"]["title"] == "VerdictOutput"
    else:
        assert fmt["json_schema"]["name"] == "VerdictOutput"


async def test_budget_stops_tasks(make_settings: Callable[..., Settings], server: ScriptedOpenAI) -> None:
    from crews.builder import TaskFailed

    llm = llm_for("fact_check", Resources(make_settings(llm={"base_url": server.base_url, "model": "m"})))
    prompt = task_text("fact_check", claim="x", evidence="[1] y")
    with pytest.raises(TaskFailed, match="token budget"):
        await run_task("fact_check", llm, prompt, VerdictOutput, Budget(50), 200)
    assert server.requests == []
