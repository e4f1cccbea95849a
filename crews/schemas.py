"""Pydantic models of every LLM answer the code consumes (CrewAI `output_pydantic`).

Strings and lists are bounded so that grammar-constrained local models cannot run away, and
timestamps are seconds from the start of the media.
"""

from __future__ import annotations

import functools
from typing import Annotated, Any, Literal, TypeVar

from pydantic import BaseModel, Field, create_model

Verdict = Literal["supported", "refuted", "not_enough_evidence", "disputed"]


class KeyPoint(BaseModel):
    """One key point and where it is said."""

    timestamp: float = Field(ge=0, description="seconds from the start where this is said")
    point: str = Field(max_length=200)


class SummaryOutput(BaseModel):
    """Answer of the summary task."""

    title: str = Field(max_length=120)
    tldr: str = Field(max_length=600, description="two or three sentences")
    key_points: list[KeyPoint] = Field(max_length=8)


class ExtractedClaim(BaseModel):
    """A check-worthy factual claim."""

    text: str = Field(max_length=200, description="the claim as a self-contained sentence")
    timestamp: float = Field(ge=0, description="seconds from the start where it is said")
    checkworthiness: int = Field(ge=1, le=5, description="5 = most important to check")
    entities: list[Annotated[str, Field(max_length=40)]] = Field(
        default_factory=list, max_length=3, description="people, places, things named"
    )


class ClaimsOutput(BaseModel):
    """Answer of the claims task."""

    claims: list[ExtractedClaim] = Field(max_length=10)


class Fallacy(BaseModel):
    """A logical fallacy with the quote that commits it."""

    name: str = Field(max_length=60)
    quote: str = Field(max_length=300)
    explanation: str = Field(max_length=300)
    timestamp: float = Field(ge=0)


class FallaciesOutput(BaseModel):
    """Answer of the fallacies task."""

    fallacies: list[Fallacy] = Field(max_length=6)


class Perspective(BaseModel):
    """A viewpoint present in (or missing from) the media."""

    viewpoint: str = Field(max_length=200)
    assessment: str = Field(max_length=300)


class PerspectivesOutput(BaseModel):
    """Answer of the perspectives task."""

    perspectives: list[Perspective] = Field(max_length=5)
    bias: str = Field(max_length=500, description="overall slant and what is left out")


class SearchQueriesOutput(BaseModel):
    """Answer of the search-queries task: what to search for to check one claim."""

    queries: list[Annotated[str, Field(max_length=120)]] = Field(
        max_length=3, description="short web search queries"
    )


class VerdictOutput(BaseModel):
    """Answer of the fact-check task for one claim."""

    verdict: Verdict
    confidence: float = Field(ge=0, le=1)
    rationale: str = Field(max_length=500)
    evidence_used: list[int] = Field(
        default_factory=list, max_length=6, description="numbers of cited evidence"
    )


class GateCounts(BaseModel):
    """What the quality gates did to one task's items in one run."""

    kept: int = 0
    ungrounded: int = Field(default=0, description="dropped: not aligned to the transcript")
    duplicates: int = Field(default=0, description="dropped: repeats an item kept before it")
    placeholders: int = Field(default=0, description="answers rejected as placeholders or schema echoes")

    @property
    def dropped(self) -> int:
        """Items removed by the gates."""
        return self.ungrounded + self.duplicates


M = TypeVar("M", bound=BaseModel)


@functools.cache
def bounded(model: type[M], field: str, limit: int) -> type[M]:
    """`model` with the list `field` capped at `limit` items (same name, so the same schema name).

    The tier's limits become part of the JSON schema, so a grammar-constrained model cannot
    produce (and spend tokens on) more items than the tier asked for.
    """
    info = model.model_fields[field]
    bounds = Field(max_length=limit, description=info.description)
    fields: dict[str, Any] = {field: (info.annotation, bounds)}
    bounded_model: type[M] = create_model(model.__name__, __base__=model, __doc__=model.__doc__, **fields)
    return bounded_model
