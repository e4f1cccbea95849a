"""Long transcripts: map-reduce over chunks, claims keep their own chunk's timestamps."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from fakes.openai_server import ScriptedOpenAI
from pipelines.analyze import AnalyzeInputs, analyze, chunk_segments
from pipelines.models import Depth, RunRequest, Segment, Source, Transcript
from pipelines.stage import Resources, StageDeps
from settings import Settings


def claim_at_chunk_start(body: dict[str, Any]) -> dict[str, Any]:
    """One claim per chunk, stamped with the chunk's first [mm:ss]."""
    prompt = " ".join(str(m.get("content", "")) for m in body["messages"])
    minutes, seconds = re.search(r"TRANSCRIPT\s*\n\[(\d+):(\d+)\]", prompt).groups()  # type: ignore[union-attr]
    at = int(minutes) * 60 + int(seconds)
    return {"claims": [{"text": f"Claim said at {at} seconds.", "timestamp": at, "checkworthiness": 3}]}


def long_transcript() -> Transcript:
    words = "the committee reported that the bridge carried forty thousand vehicles every day last year"
    segments = [Segment(start=i * 10.0, end=i * 10.0 + 9.5, text=f"{words} part {i}.") for i in range(120)]
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
    inputs = AnalyzeInputs(request=RunRequest(source=source, depth=Depth.STANDARD), transcribe=transcript)
    analysis = await analyze(StageDeps(Resources(settings), "run1", tmp_path), inputs)

    chunks = chunk_segments(transcript.segments, 1024 - 64 - 700)
    assert analysis.chunks == len(chunks) > 1
    starts = sorted(int(chunk[0].start) for chunk in chunks)
    kept = sorted(int(c.timestamp) for c in analysis.claims)
    assert kept == starts[: len(kept)] and len(kept) == min(len(starts), 6)
    assert all(c.text == f"Claim said at {int(c.timestamp)} seconds." for c in analysis.claims)
    names = scripted.schema_names()
    assert names.count("SummaryOutput") == len(chunks) + 1  # one per chunk, then the merge
    assert analysis.summary is not None and analysis.failures == []
    covered = [s for chunk in chunks for s in chunk]
    assert covered == transcript.segments  # nothing dropped
