"""Smoke test: the whole flow on the real embedded model (SmolLM2 via llama-cpp-python).

The model is far too small for good analysis, so this asserts structure, not wording.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from pipelines.models import Analysis, Briefing, Depth
from pipelines.runner import execute, submit
from pipelines.service import open_services
from pipelines.sources import normalise_source
from settings import Settings

DATA = Path(__file__).parent.parent / "data"


async def test_embedded_model_runs_the_whole_flow(make_settings: Callable[..., Settings]) -> None:
    settings = make_settings(llm={"max_output_tokens": 300})
    async with open_services(settings) as (store, resources):
        run = await submit(store, normalise_source(str(DATA / "jfk.flac")), Depth.QUICK)
        result = await execute(store, resources, run.id)
    assert [s.stage for s in result.stages] == ["acquire", "transcribe", "analyze", "remember", "brief"]
    analysis = result.outputs["analyze"]
    assert isinstance(analysis, Analysis)
    assert analysis.summary is not None and analysis.failures == []
    briefing = result.outputs["brief"]
    assert isinstance(briefing, Briefing)
    assert briefing.title and briefing.markdown.startswith("# ")
    assert any("embedded model" in note for note in briefing.caveats)
    assert all(0 <= c.claim.timestamp <= 11.5 for c in briefing.claims)
    assert result.outputs["remember"].vectors >= 1  # type: ignore[attr-defined]
