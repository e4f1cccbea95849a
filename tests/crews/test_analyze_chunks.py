"""Long transcripts: map-reduce over chunks, claims keep their own chunk's timestamps."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from fakes.openai_server import ScriptedOpenAI
from pipelines.analyze import AnalyzeInputs, analyze, chunk_segments
from pipelines.models import Depth, Media, RunRequest, Segment, Source, Transcript
from pipelines.stage import Resources, StageDeps
from settings import Settings

CITIES = ["Paris", "Berlin", "Madrid", "Rome", "Vienna", "Prague", "Lisbon", "Dublin", "Oslo", "Athens"]
THINGS = [
    "bridge",
    "museum",
    "harbour",
    "station",
    "library",
    "stadium",
    "tower",
    "market",
    "park",
    "airport",
]


def sentence(i: int) -> str:
    """A distinct sentence per segment (so that no two are near-duplicates)."""
    return f"The {THINGS[i % 10]} of {CITIES[i // 10 % 10]} opened in {1800 + i} with {i + 7} gates."


def claim_at_chunk_start(body: dict[str, Any]) -> dict[str, Any]:
    """One claim per chunk: its first sentence, stamped with the chunk's first [mm:ss]."""
    prompt = " ".join(str(m.get("content", "")) for m in body["messages"])
    found = re.search(r"TRANSCRIPT\s*\n\[(\d+):(\d+)\] (.+)", prompt)
    assert found is not None
    minutes, seconds, text = found.groups()
    at = int(minutes) * 60 + int(seconds)
    return {"claims": [{"text": text.strip(), "timestamp": at, "checkworthiness": 3}]}


def long_transcript() -> Transcript:
    segments = [Segment(start=i * 10.0, end=i * 10.0 + 9.5, text=sentence(i)) for i in range(120)]
    return Transcript(origin="whisper", language="en", duration_seconds=1200.0, segments=segments)


async def test_long_transcript_is_chunked_and_merged(
    make_settings: Callable[..., Settings], scripted: ScriptedOpenAI, tmp_path: Path
) -> None:
    scripted.replies["ClaimsOutput"] = claim_at_chunk_start
    settings = make_settings(
        llm={"base_url": scripted.base_url, "model": "m", "context_tokens": 1024, "max_output_tokens": 64}
    )
    transcript = long_transcript()
    source = Source(kind="url", location="https://example.org/a.mp3", key="https://example.org/a.mp3")
    request = RunRequest(source=source, depth=Depth.STANDARD)
    inputs = AnalyzeInputs(request=request, acquire=Media(), transcribe=transcript)
    analysis = await analyze(StageDeps(Resources(settings), "run1", tmp_path), inputs)

    chunks = chunk_segments(transcript.segments, 1024 - 64 - 700)
    assert analysis.chunks == len(chunks) > 1
    starts = sorted(int(chunk[0].start) for chunk in chunks)
    kept = sorted(int(c.timestamp) for c in analysis.claims)
    assert kept == starts[: len(kept)] and len(kept) == min(len(starts), 6)
    assert all(c.text == sentence(int(c.timestamp) // 10) for c in analysis.claims)
    names = scripted.schema_names()
    assert names.count("SummaryOutput") == len(chunks) + 1  # one per chunk, then the merge
    assert analysis.summary is not None and analysis.failures == []
    covered = [s for chunk in chunks for s in chunk]
    assert covered == transcript.segments  # nothing dropped
