"""The whole /autointel flow against the scripted model server: briefing, flags, degradation."""

from __future__ import annotations

from collections.abc import Callable

from fakes.openai_server import Fault, ScriptedOpenAI
from fakes.scripted_flow import CLAIMS, run_flow
from pipelines.brief import BriefInputs
from pipelines.models import (
    Analysis,
    Briefing,
    Depth,
    Media,
    MemoryReport,
    RunRequest,
    Source,
    TaskFailure,
    Transcript,
)
from pipelines.runner import RunResult
from settings import Settings


def briefing_of(result: RunResult) -> Briefing:
    briefing = result.outputs["brief"]
    assert isinstance(briefing, Briefing)
    return briefing


async def test_standard_run_briefs_scripted_claims_and_verdicts(
    flow_settings: Callable[..., Settings], scripted: ScriptedOpenAI
) -> None:
    result = await run_flow(flow_settings(), Depth.STANDARD)
    briefing = briefing_of(result)

    assert [s.stage for s in result.stages] == [
        "acquire",
        "transcribe",
        "analyze",
        "verify",
        "remember",
        "brief",
    ]
    assert all(s.status == "succeeded" for s in result.stages)
    assert briefing.title == "Ask not"
    assert [c.claim.text for c in briefing.claims] == [c[0] for c in CLAIMS]
    assert [c.verdict for c in briefing.claims] == [c[3] for c in CLAIMS]
    assert all(c.evidence for c in briefing.claims)
    assert "❌ refuted" in briefing.markdown and "Great Wall" in briefing.markdown
    assert briefing.fallacies == [] and briefing.perspectives is None
    assert not [n for n in briefing.caveats if "failed" in n]
    assert sorted(set(scripted.schema_names())) == ["ClaimsOutput", "SummaryOutput", "VerdictOutput"]


async def test_deep_run_adds_fallacies_perspectives_and_graph(flow_settings: Callable[..., Settings]) -> None:
    result = await run_flow(flow_settings(), Depth.DEEP)
    briefing = briefing_of(result)
    assert briefing.fallacies[0].name == "Appeal to common belief"
    assert briefing.perspectives is not None and briefing.perspectives.bias == "One-sided appeal."
    memory = result.outputs["remember"]
    assert isinstance(memory, MemoryReport)
    assert memory.graph_claims == 3 and memory.vectors >= 5


async def test_quick_run_skips_fact_checking(
    flow_settings: Callable[..., Settings], scripted: ScriptedOpenAI
) -> None:
    result = await run_flow(flow_settings(), Depth.QUICK)
    assert "verify" not in [s.stage for s in result.stages]
    assert "VerdictOutput" not in scripted.schema_names()
    assert any("not fact-checked" in note for note in briefing_of(result).caveats)


async def test_flags_on_and_off_give_the_same_briefing_and_only_on_overlaps(
    flow_settings: Callable[..., Settings], scripted: ScriptedOpenAI
) -> None:
    scripted.delay = 0.2
    on = briefing_of(await run_flow(flow_settings("on"), Depth.STANDARD))
    assert scripted.peak_active > 1
    scripted.peak_active = 0
    off_settings = flow_settings(
        "off", parallel_analysis=False, parallel_fact_checking=False, parallel_memory_ops=False
    )
    off = briefing_of(await run_flow(off_settings, Depth.STANDARD))
    assert scripted.peak_active == 1
    assert on.model_dump() == off.model_dump()


async def test_malformed_answer_is_repaired_once(
    flow_settings: Callable[..., Settings], scripted: ScriptedOpenAI
) -> None:
    scripted.faults["ClaimsOutput"] = Fault("malformed", times=1)
    briefing = briefing_of(await run_flow(flow_settings(), Depth.STANDARD))
    assert len(briefing.claims) == 3
    assert scripted.schema_names().count("ClaimsOutput") >= 2


async def test_persistently_malformed_task_is_marked_failed_and_run_completes(
    flow_settings: Callable[..., Settings], scripted: ScriptedOpenAI
) -> None:
    scripted.faults["ClaimsOutput"] = Fault("malformed", times=100)
    result = await run_flow(flow_settings(), Depth.STANDARD)
    briefing = briefing_of(result)
    assert result.run.status == "succeeded"
    assert [s.stage for s in result.stages][-1] == "brief"
    assert briefing.title == "Ask not"
    assert any(note.startswith("claims failed") for note in briefing.caveats)
    # the claims come from the extractive analyst instead: sentences of the transcript, verbatim
    transcript = result.outputs["transcribe"]
    assert isinstance(transcript, Transcript)
    said = " ".join(s.text for s in transcript.segments)
    assert len(briefing.claims) == 3 and all(c.claim.text in said for c in briefing.claims)
    assert any(
        note.startswith("Claims: built from the transcript's own sentences") for note in briefing.caveats
    )


async def test_failing_endpoint_for_fact_checks_marks_claims_failed(
    flow_settings: Callable[..., Settings], scripted: ScriptedOpenAI
) -> None:
    scripted.faults["VerdictOutput"] = Fault("http", times=100, status=500)
    result = await run_flow(flow_settings(), Depth.STANDARD)
    briefing = briefing_of(result)
    assert result.run.status == "succeeded"
    assert all(c.verdict is None and c.failure for c in briefing.claims)
    assert "⚠️ check failed" in briefing.markdown
    assert sum("fact_check failed" in note for note in briefing.caveats) == 3


async def test_degraded_results_are_recomputed_not_reused(
    flow_settings: Callable[..., Settings], scripted: ScriptedOpenAI
) -> None:
    settings = flow_settings()
    scripted.faults["ClaimsOutput"] = Fault("malformed", times=100)
    first = briefing_of(await run_flow(settings, Depth.STANDARD))
    assert first.degraded and "claims" in first.markdown.split("## Caveats")[1]
    scripted.faults.clear()
    again = await run_flow(settings, Depth.STANDARD)
    reused = {s.stage: s.reused_from for s in again.stages}
    assert reused["transcribe"] is not None  # a complete result is reused
    assert reused["analyze"] is None and reused["brief"] is None
    briefing = briefing_of(again)
    assert not briefing.degraded and len(briefing.claims) == 3


def test_budget_cuts_are_stated_in_the_caveats() -> None:
    from pipelines.brief import caveats

    analysis = Analysis(
        failures=[
            TaskFailure(task="claims", reason="skipped: the cost budget of this depth ($0.0200) is spent")
        ],
        model="embedded, hosted",
        notes=["transcript compressed 1.3× (1,987 → 1,527 tokens) by LLMLingua in 14.0 s"],
    )
    transcript = Transcript(origin="whisper", language="en", duration_seconds=5.0, segments=[])
    request = RunRequest(source=Source(kind="file", location="/a.mp3", key="sha256:a"), depth=Depth.QUICK)
    notes = caveats(BriefInputs(request=request, acquire=Media(), transcribe=transcript, analyze=analysis))
    assert "claims skipped: the cost budget of this depth ($0.0200) is spent" in notes
    assert any(note.startswith("Analysed by the small embedded model") for note in notes)
    assert any("compressed 1.3×" in note for note in notes)
