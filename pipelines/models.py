"""Pydantic hand-off models: what each stage takes and returns, stored as JSON per stage."""

from __future__ import annotations

from enum import StrEnum
from pathlib import PurePath
from typing import Literal

from pydantic import BaseModel, Field

from crews.schemas import Fallacy, GateCounts, KeyPoint, PerspectivesOutput, SummaryOutput, Verdict

PIPELINE_VERSION = "3"  # bump when a stage's output changes meaning: older results stop being reused


class Depth(StrEnum):
    """How much a run does (and may spend)."""

    QUICK = "quick"
    STANDARD = "standard"
    DEEP = "deep"
    COMPREHENSIVE = "comprehensive"


class Source(BaseModel):
    """A normalised source: a canonical http(s) URL or an absolute local file with its hash."""

    kind: Literal["url", "file"]
    location: str = Field(description="canonical URL, or absolute path of the local file")
    key: str = Field(description="identity for reuse: the canonical URL or 'sha256:<hex>'")

    @property
    def shown(self) -> str:
        """What members and reports see: the URL, or only a file's name (never the server's paths)."""
        return self.location if self.kind == "url" else PurePath(self.location).name


class RunRequest(BaseModel):
    """The input of the first stage: what the user asked for."""

    source: Source
    depth: Depth
    namespace: str = Field(default="cli", description="memory tenant: a guild id, or 'cli'")


class Media(BaseModel):
    """Output of `acquire`: local audio (or subtitles) plus what is known about it."""

    audio_path: str | None = None
    subtitles_path: str | None = None
    subtitles_language: str | None = None
    title: str | None = None
    webpage_url: str | None = None
    extractor: str | None = None
    duration_seconds: float = 0.0
    size_bytes: int = 0


class Segment(BaseModel):
    """One timed piece of transcript."""

    start: float
    end: float
    text: str


class Transcript(BaseModel):
    """Output of `transcribe`."""

    origin: Literal["whisper", "subtitles"]
    model: str | None = None
    language: str
    duration_seconds: float
    segments: list[Segment]
    processing_seconds: float = 0.0
    cached: bool = Field(default=False, description="reused from the transcript cache (same media bytes)")

    @property
    def text(self) -> str:
        """The whole transcript as one string."""
        return " ".join(segment.text.strip() for segment in self.segments).strip()


class Claim(BaseModel):
    """A check-worthy claim found by the analysis, with where it is said."""

    id: int
    text: str
    timestamp: float
    checkworthiness: int
    entities: list[str] = Field(default_factory=list)


class TaskFailure(BaseModel):
    """An analysis item that produced no usable answer (shown in the briefing's caveats)."""

    task: str
    reason: str


class Analysis(BaseModel):
    """Output of `analyze`: summary, claims, fallacies and perspectives of the transcript."""

    summary: SummaryOutput | None = None
    claims: list[Claim] = Field(default_factory=list)
    fallacies: list[Fallacy] | None = None
    perspectives: PerspectivesOutput | None = None
    failures: list[TaskFailure] = Field(default_factory=list)
    chunks: int = 1
    tokens_spent: int = 0
    cost_usd: float = 0.0
    model: str | None = Field(default=None, description="the models that answered, comma-separated")
    notes: list[str] = Field(default_factory=list, description="how the input was prepared (compression)")
    gates: dict[str, GateCounts] = Field(
        default_factory=dict,
        description="what the quality gates did, per task (summary, claims, fallacies, ...)",
    )
    extractive: list[str] = Field(
        default_factory=list, description="parts taken from the transcript by the extractive analyst"
    )
    sentences: int = Field(default=0, description="sentences found in the transcript")
    gate_seconds: float = Field(default=0.0, description="time spent grounding and extracting")


class Evidence(BaseModel):
    """One retrieved piece of evidence for a claim: a memory item or a passage of a page."""

    number: int
    text: str
    source: str | None = None
    kind: str
    run_id: str | None = None
    score: float
    url: str | None = Field(default=None, description="the page it was quoted from (web, Wikipedia, ZIM)")
    title: str | None = None
    site: str | None = None
    published: str | None = None
    provider: str | None = Field(default=None, description="memory, searxng, wikipedia or zim")


class SourceAttempt(BaseModel):
    """One search or page fetch made for a claim, and how it went (provenance)."""

    claim_id: int
    provider: str
    query: str | None = None
    url: str | None = None
    status: str = Field(description="ok, cached, empty, failed, blocked, skipped")
    seconds: float = 0.0
    detail: str | None = None


class CheckedClaim(BaseModel):
    """A claim with its verdict (or why it has none)."""

    claim: Claim
    verdict: Verdict | None = None
    confidence: float | None = None
    rationale: str | None = None
    evidence: list[Evidence] = Field(default_factory=list)
    failure: str | None = None
    model: str | None = Field(default=None, description="the catalogue model that judged it")


class Verification(BaseModel):
    """Output of `verify`: the checked claims and how many were left unchecked."""

    checked: list[CheckedClaim] = Field(default_factory=list)
    unchecked: int = 0
    failures: list[TaskFailure] = Field(default_factory=list)
    sources: list[SourceAttempt] = Field(default_factory=list, description="every search and fetch tried")
    notes: list[str] = Field(default_factory=list, description="evidence sources that could not be used")
    tokens_spent: int = 0
    cost_usd: float = 0.0
    model: str | None = Field(default=None, description="the models that answered, comma-separated")


class MemoryReport(BaseModel):
    """Output of `remember`: what was stored in long-term memory."""

    namespace: str
    vectors: int = 0
    graph_claims: int = 0
    failures: list[TaskFailure] = Field(default_factory=list)


class Briefing(BaseModel):
    """Output of `brief`: everything the user is shown, plus its Markdown rendering."""

    title: str
    tldr: str
    source: str
    depth: Depth
    duration_seconds: float
    key_points: list[KeyPoint] = Field(default_factory=list)
    claims: list[CheckedClaim] = Field(default_factory=list)
    fallacies: list[Fallacy] = Field(default_factory=list)
    perspectives: PerspectivesOutput | None = None
    caveats: list[str] = Field(default_factory=list)
    degraded: bool = Field(default=False, description="some item failed (see caveats)")
    markdown: str = ""


STAGE_OUTPUTS: dict[str, type[BaseModel]] = {
    "acquire": Media,
    "transcribe": Transcript,
    "analyze": Analysis,
    "verify": Verification,
    "remember": MemoryReport,
    "brief": Briefing,
}
"""Each stage's output model by stage name (what pipelines.flow declares), for readers of stored
results that must not import the stages and their heavy dependencies."""
