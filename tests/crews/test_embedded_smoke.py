"""Smoke tests on the real embedded model (SmolLM2 via llama-cpp-python) and the embedded defaults.

The model is far too small for analysis: with it alone, the flow never asks it (the offline
analyst and the evidence-consistency judge answer instead), and when the router does pick it
(a catalogue that lists it), its answers pass the same quality gates as any model's.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from crews.builder import instructions, run_task, task_text
from crews.gates import answer_problems
from crews.schemas import SummaryOutput
from pipelines.analyze import render_segments
from pipelines.models import Analysis, Briefing, Depth, Segment
from pipelines.runner import execute, submit
from pipelines.service import open_services
from pipelines.sources import normalise_source
from pipelines.stage import Resources
from routing.budget import Budget, TaskFailed
from settings import Settings

DATA = Path(__file__).parent.parent / "data"


async def test_the_embedded_defaults_run_the_whole_flow_without_asking_the_model(
    make_settings: Callable[..., Settings],
) -> None:
    settings = make_settings()
    async with open_services(settings) as (store, resources):
        run = await submit(store, normalise_source(str(DATA / "jfk.flac")), Depth.QUICK)
        result = await execute(store, resources, run.id)
    assert [s.stage for s in result.stages] == ["acquire", "transcribe", "analyze", "remember", "brief"]
    analysis = result.outputs["analyze"]
    assert isinstance(analysis, Analysis)
    assert analysis.model is None and analysis.failures == [] and "claims" in analysis.extractive
    briefing = result.outputs["brief"]
    assert isinstance(briefing, Briefing)
    said = result.outputs["transcribe"].text  # type: ignore[attr-defined]
    assert briefing.key_points and all(k.point in said for k in briefing.key_points)
    assert any("extractive analysis" in note for note in briefing.caveats)
    assert all(0 <= c.claim.timestamp <= 11.5 for c in briefing.claims)
    assert result.outputs["remember"].vectors >= 1  # type: ignore[attr-defined]


async def test_the_embedded_models_answers_pass_the_gates_or_fail_the_task(
    make_settings: Callable[..., Settings],
) -> None:
    settings = make_settings(llm={"max_output_tokens": 300})
    segments = [
        Segment(start=0, end=11, text="And so my fellow Americans, ask not what your country can do for you.")
    ]
    prompt = task_text("summary", transcript=render_segments(segments), max_points="3", max_claims="3")
    try:
        answer = await run_task("summary", Resources(settings), prompt, SummaryOutput, Budget(10**6))
    except TaskFailed as failed:  # SmolLM2 usually echoes the schema: rejected twice
        assert "quality checks" in failed.reason or "schema" in failed.reason
    else:
        assert answer.model == "embedded"
        assert answer_problems(answer.value, instructions("summary")) == []
