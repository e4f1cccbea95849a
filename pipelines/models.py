"""Pydantic hand-off models: what each stage takes and returns, stored as JSON per stage."""

from __future__ import annotations

from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, Field


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


class RunRequest(BaseModel):
    """The input of the first stage: what the user asked for."""

    source: Source
    depth: Depth


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

    @property
    def text(self) -> str:
        """The whole transcript as one string."""
        return " ".join(segment.text.strip() for segment in self.segments).strip()
