"""Trust in the briefing, end to end: gated answers, the extractive fallback, honest verdicts, bad input."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from cli.runs import gates_line
from fakes.openai_server import ScriptedOpenAI
from fakes.scripted_flow import run_flow
from observability.metrics import GATE_REJECTIONS
from pipelines.analyze import AnalyzeInputs, analyze
from pipelines.brief import BriefInputs, brief, moment_link
from pipelines.models import Analysis, Briefing, Depth, Media, RunRequest, Segment, Source, Transcript
from pipelines.stage import Resources, StageDeps
from settings import Settings

ECHOES: dict[str, Any] = {
    "SummaryOutput": {
        "title": "SummaryOutput",
        "tldr": "The summary task",
        "key_points": [{"timestamp": 15, "point": "Point"}] * 5,
    },
    "ClaimsOutput": {
        "claims": [
            {"text": "The claim as a self-contained sentence.", "timestamp": 15, "checkworthiness": 5},
        ]
    },
}


def briefing_of(result: Any) -> Briefing:
    briefing = result.outputs["brief"]
    assert isinstance(briefing, Briefing)
    return briefing


async def test_placeholder_answers_get_one_repair_then_the_extractive_analyst(
    flow_settings: Callable[..., Settings], scripted: ScriptedOpenAI
) -> None:
    scripted.replies.update(ECHOES)
    before = GATE_REJECTIONS.labels(task="summary", model="scripted")._value.get()
    result = await run_flow(flow_settings(), Depth.STANDARD)
    briefing = briefing_of(result)
    assert scripted.schema_names().count("SummaryOutput") == 2  # the answer, then the repair
    chats = [body for body in scripted.requests if "messages" in body]
    repair = [
        body for body, name in zip(chats, scripted.schema_names(), strict=True) if name == "SummaryOutput"
    ][1]
    assert "quality checks" in str(repair["messages"]) and "repeats the answer schema" in str(
        repair["messages"]
    )
    said = " ".join(s.text for s in result.outputs["transcribe"].segments)
    assert briefing.title != "SummaryOutput" and "Point" not in [k.point for k in briefing.key_points]
    assert briefing.key_points and all(k.point in said for k in briefing.key_points)
    assert briefing.claims and all(c.claim.text in said for c in briefing.claims)
    analysis = result.outputs["analyze"]
    assert isinstance(analysis, Analysis)
    assert analysis.gates["summary"].placeholders == 2 and analysis.gates["claims"].placeholders == 2
    assert set(analysis.extractive) >= {"key points", "title", "TL;DR", "claims"}
    assert GATE_REJECTIONS.labels(task="summary", model="scripted")._value.get() == before + 2
    assert any("extractive analysis" in note for note in briefing.caveats)
    assert "summary: 0 kept, 0 ungrounded, 0 duplicate(s), 2 placeholder answer(s)" in gates_line(
        analysis.model_dump(mode="json")
    )


async def test_ungrounded_items_are_dropped_and_the_briefing_says_so(
    flow_settings: Callable[..., Settings], scripted: ScriptedOpenAI
) -> None:
    scripted.replies["SummaryOutput"] = {
        "title": "Facts about landmarks",
        "tldr": "Three well known claims are checked.",
        "key_points": [
            {"timestamp": 14.9, "point": "The Great Wall of China is visible from the Moon."},
            {"timestamp": 14.9, "point": "The Great Wall of China is visible from the Moon."},
            {"timestamp": 3, "point": "Interest rates will fall sharply next spring in Europe."},
            {"timestamp": 3, "point": "The central bank printed money to pay for the war."},
        ],
    }
    scripted.replies["ClaimsOutput"] = {
        "claims": [
            {"text": "Unemployment fell to 3 percent in 2019.", "timestamp": 2, "checkworthiness": 5},
            {"text": "The Louvre is the most visited museum on Earth.", "timestamp": 5, "checkworthiness": 4},
        ]
    }
    result = await run_flow(flow_settings(), Depth.QUICK)
    briefing = briefing_of(result)
    assert [k.point for k in briefing.key_points] == ["The Great Wall of China is visible from the Moon."]
    assert 4 <= briefing.key_points[0].timestamp <= 10  # where it is said, not the model's 14.9
    analysis = result.outputs["analyze"]
    assert isinstance(analysis, Analysis)
    counts = analysis.gates["summary"]
    assert (counts.kept, counts.ungrounded, counts.duplicates) == (1, 2, 1)
    # "Three well known claims are checked." is not said: the TL;DR is made of the grounded points
    assert "TL;DR" in analysis.extractive and "title" not in analysis.extractive
    assert briefing.title == "Facts about landmarks" and briefing.tldr == briefing.key_points[0].point
    assert any(
        "Quality checks on key points: 2 not found in the transcript, 1 repeated" in n
        for n in briefing.caveats
    )
    assert any(n.startswith("Most of what the model produced could not be found") for n in briefing.caveats)


async def test_a_verdict_that_contradicts_its_rationale_becomes_not_enough_evidence(
    flow_settings: Callable[..., Settings], scripted: ScriptedOpenAI
) -> None:
    scripted.replies["VerdictOutput"] = {
        "verdict": "supported",
        "confidence": 0.0,
        "rationale": "not_enough_evidence",
        "evidence_used": [],
    }
    briefing = briefing_of(await run_flow(flow_settings(), Depth.STANDARD))
    checked = [c for c in briefing.claims if c.verdict]
    assert checked and all(c.verdict == "not_enough_evidence" and c.confidence == 0 for c in checked)
    assert all("inconsistent" in (c.rationale or "") for c in checked)
    assert scripted.schema_names().count("VerdictOutput") == 2 * len(checked)  # each got its repair


async def test_a_supported_verdict_against_the_evidences_year_is_refuted(
    flow_settings: Callable[..., Settings], scripted: ScriptedOpenAI
) -> None:
    scripted.replies["ClaimsOutput"] = {
        "claims": [{"text": "The Eiffel Tower was completed in 1889.", "timestamp": 1, "checkworthiness": 5}]
    }
    scripted.replies["VerdictOutput"] = {
        "verdict": "supported",
        "confidence": 0.9,
        "rationale": "Evidence [1] confirms the claim.",
        "evidence_used": [1],
    }
    settings = flow_settings()
    from memory.vector import REFERENCE_NAMESPACE, MemoryItem
    from pipelines.runner import execute, submit
    from pipelines.service import open_services
    from pipelines.sources import normalise_source

    async with open_services(settings) as (store, resources):
        wrong = "The Eiffel Tower was completed in 1887 for the World's Fair in Paris."
        await resources.memory.upsert(REFERENCE_NAMESPACE, [MemoryItem(text=wrong, kind="reference")])
        run = await submit(
            store, normalise_source(str(Path(__file__).parent.parent / "data" / "claims.ogg")), Depth.STANDARD
        )
        briefing = briefing_of(await execute(store, resources, run.id))
    [claim] = briefing.claims
    assert claim.verdict in ("refuted", "disputed")
    assert "“1889”" in (claim.rationale or "") and "“1887”" in (claim.rationale or "")


def _inputs(segments: list[Segment], duration: float) -> AnalyzeInputs:
    source = Source(kind="file", location="/talk.ogg", key="sha256:t")
    transcript = Transcript(origin="whisper", language="en", duration_seconds=duration, segments=segments)
    return AnalyzeInputs(
        request=RunRequest(source=source, depth=Depth.DEEP),
        acquire=Media(title="talk"),
        transcribe=transcript,
    )


async def _briefing(settings: Settings, inputs: AnalyzeInputs, tmp: Path) -> tuple[Analysis, Briefing]:
    deps = StageDeps(Resources(settings), "run1", tmp)
    analysis = await analyze(deps, inputs)
    media = Media(title="talk")
    made = await brief(
        deps,
        BriefInputs(request=inputs.request, acquire=media, transcribe=inputs.transcribe, analyze=analysis),
    )
    return analysis, made


def offline(make_settings: Callable[..., Settings], scripted: ScriptedOpenAI) -> Settings:
    """The embedded default for the analysis (no LLM_BASE_URL), the scripted embedder for speed."""
    return make_settings(llm={"embeddings_base_url": scripted.base_url, "embeddings_model": "scripted"})


async def test_silence_gives_a_briefing_that_says_there_is_no_speech(
    make_settings: Callable[..., Settings], scripted: ScriptedOpenAI, tmp_path: Path
) -> None:
    inputs = _inputs([Segment(start=0, end=30, text="♪ ♪")], 30.0)
    analysis, made = await _briefing(offline(make_settings, scripted), inputs, tmp_path)
    assert analysis.summary is None and analysis.claims == [] and analysis.sentences == 0
    assert made.tldr == "No speech was found in the recording." and made.key_points == []
    assert any(n.startswith("No speech was found") for n in made.caveats)
    assert scripted.schema_names() == []


async def test_a_three_hour_transcript_is_analysed_offline_without_a_model(
    make_settings: Callable[..., Settings], scripted: ScriptedOpenAI, tmp_path: Path
) -> None:
    talk = (
        (Path(__file__).parent.parent / "data" / "talk" / "talk.txt").read_text(encoding="utf-8").splitlines()
    )
    segments = [Segment(start=i * 10.0, end=i * 10.0 + 9.0, text=talk[i % len(talk)]) for i in range(1080)]
    analysis, made = await _briefing(offline(make_settings, scripted), _inputs(segments, 10800.0), tmp_path)
    said = {s.text for s in segments}
    assert analysis.sentences >= 1080 and analysis.model is None and scripted.schema_names() == []
    assert len(made.key_points) == 8 and all(k.point in said for k in made.key_points)
    assert len(made.claims) == 10 and all(c.claim.text in said for c in made.claims)
    assert made.fallacies == [] and any(
        "Fallacies and perspectives need a capable model" in n for n in made.caveats
    )


@pytest.mark.parametrize(
    ("url", "link"),
    [
        ("https://www.youtube.com/watch?v=abc&t=5s", "https://www.youtube.com/watch?v=abc&t=83s"),
        ("https://vimeo.com/12345", "https://vimeo.com/12345#t=83s"),
        ("https://example.org/talks/climate.mp3", "https://example.org/talks/climate.mp3#t=83"),
        ("https://example.org/article", None),
        (None, None),
    ],
)
def test_timestamps_link_to_the_moment_where_the_source_allows(url: str | None, link: str | None) -> None:
    assert moment_link(url, 83.6) == link


async def test_evidence_in_another_language_is_not_taken_as_support(
    make_settings: Callable[..., Settings],
) -> None:
    from memory.embeddings import MiniLMEmbedder
    from memory.vector import REFERENCE_NAMESPACE, MemoryItem, VectorMemory
    from pipelines.models import Claim
    from pipelines.verify import check_claim
    from routing.budget import Budget

    settings = make_settings()
    embedder = MiniLMEmbedder()
    async with await VectorMemory.open(settings, embedder, location=":memory:") as memory:
        french = "La tour Eiffel a été achevée en 1887 pour l'Exposition universelle de Paris."
        await memory.upsert(REFERENCE_NAMESPACE, [MemoryItem(text=french, kind="reference")])
        claim = Claim(id=1, text="The Eiffel Tower was completed in 1889.", timestamp=0, checkworthiness=5)
        resources = Resources(settings, memory=memory, embedder=embedder)
        checked = await check_claim(resources, REFERENCE_NAMESPACE, claim, Budget(10**6), None)
    assert checked.verdict == "not_enough_evidence" and checked.failure is None
