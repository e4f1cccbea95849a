"""The catalogue from settings, and each structured-output mode against the scripted server."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from crews.builder import run_task, task_text
from crews.schemas import VerdictOutput
from fakes.openai_server import ScriptedOpenAI
from pipelines.stage import Resources
from routing.budget import Budget, TaskFailed
from routing.catalog import EMBEDDED_MODEL_NAME, catalogue, max_concurrency
from routing.dispatch import llm_of
from settings import Settings, SettingsError, load_settings


@pytest.fixture
async def server() -> AsyncIterator[ScriptedOpenAI]:
    fake = ScriptedOpenAI(
        replies={
            "VerdictOutput": {
                "verdict": "refuted",
                "confidence": 0.8,
                "rationale": "Evidence [1] contradicts the claim.",
                "evidence_used": [1],
            }
        }
    )
    await fake.start()
    yield fake
    await fake.stop()


def test_embedded_default_when_no_endpoint(make_settings: Callable[..., Settings]) -> None:
    settings = make_settings()
    [spec] = catalogue(settings)
    assert spec.name == EMBEDDED_MODEL_NAME and spec.base_url is None and spec.concurrency == 1
    assert spec.structured_output == "grammar" and max_concurrency(settings) == 1


def test_configured_endpoint(make_settings: Callable[..., Settings]) -> None:
    settings = make_settings(llm={"base_url": "http://127.0.0.1:8000/v1", "model": "qwen", "concurrency": 8})
    [spec] = catalogue(settings)
    assert (spec.name, spec.model, spec.concurrency, spec.structured_output) == (
        "qwen",
        "qwen",
        8,
        "json_schema",
    )
    assert spec.cost_per_1k_input == 0 and "json_schema" in spec.capabilities


def test_yaml_catalogue(make_settings: Callable[..., Settings], tmp_path: Path) -> None:
    path = tmp_path / "models.yaml"
    path.write_text(
        """
models:
  - name: small
    base_url: http://127.0.0.1:8001/v1
    model: qwen2.5-3b
    structured_output: json_object
    context_tokens: 4096
    latency_seconds: 1.5
    quality: 0.4
  - name: hosted
    base_url: https://api.example.com/v1
    model: gpt-x
    api_key: sk-secret-value
    cost_per_1k_input: 0.5
    cost_per_1k_output: 1.5
    capabilities: [json_schema, tools]
    quality: 0.9
  - name: embedded
""",
        encoding="utf-8",
    )
    settings = make_settings(router={"models_file": path})
    small, hosted, embedded = catalogue(settings)
    assert (small.structured_output, small.context_tokens, small.quality) == ("json_object", 4096, 0.4)
    assert hosted.cost_per_1k_output == 1.5 and hosted.capabilities == ["json_schema", "tools"]
    assert embedded.base_url is None and embedded.structured_output == "grammar"
    assert "sk-secret-value" in settings.secret_values()
    assert "sk-secret-value" not in repr(settings)


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("models: [{name: a}, {name: a}]", "unique"),
        ("models: [{name: a, base_url: 'http://x/v1', structured_output: grammar}]", "grammar"),
        ("models: [{name: a, colour: red}]", "colour"),
        ("nothing: here", "models:"),
    ],
)
def test_bad_catalogue_names_the_setting(tmp_path: Path, text: str, problem: str) -> None:
    path = tmp_path / "models.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(SettingsError, match="ROUTER_MODELS_FILE") as raised:
        load_settings(router={"models_file": path})
    assert problem in str(raised.value)


def test_missing_catalogue_file(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match=r"ROUTER_MODELS_FILE: .*cannot read"):
        load_settings(router={"models_file": tmp_path / "absent.yaml"})


async def test_llm_is_built_once_per_process(
    make_settings: Callable[..., Settings], server: ScriptedOpenAI
) -> None:
    resources = Resources(make_settings(llm={"base_url": server.base_url, "model": "m"}))
    [spec] = catalogue(resources.settings)
    assert llm_of(resources, spec) is llm_of(resources, spec)


@pytest.mark.parametrize("mode", ["json_schema", "json_object"])
async def test_structured_output_modes_reach_the_server(
    make_settings: Callable[..., Settings], server: ScriptedOpenAI, mode: str
) -> None:
    settings = make_settings(llm={"base_url": server.base_url, "model": "m", "structured_output": mode})
    prompt = task_text("fact_check", claim="The Moon is made of cheese.", evidence="[1] The Moon is rock.")
    answer, model = await run_task("fact_check", Resources(settings), prompt, VerdictOutput, Budget(10**6))
    assert model == "m"
    assert answer.verdict == "refuted"
    fmt = server.requests[0]["response_format"]
    assert fmt["type"] == mode
    if mode == "json_object":
        assert fmt["schema"]["title"] == "VerdictOutput"
    else:
        assert fmt["json_schema"]["name"] == "VerdictOutput"


async def test_budget_stops_tasks(make_settings: Callable[..., Settings], server: ScriptedOpenAI) -> None:
    resources = Resources(make_settings(llm={"base_url": server.base_url, "model": "m"}))
    prompt = task_text("fact_check", claim="x", evidence="[1] y")
    with pytest.raises(TaskFailed, match="token budget"):
        await run_task("fact_check", resources, prompt, VerdictOutput, Budget(50))
    assert server.requests == []
