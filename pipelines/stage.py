"""The stage contract: a stage is an async function with a Pydantic input and output model.

A stage's input model has one field per earlier output it needs, named after that output
("request" for the user's request, otherwise the producing stage's name); the runner builds
it from the run store, so stages never talk to the store themselves.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generic, TypeVar

from pydantic import BaseModel

from settings import Settings

InT = TypeVar("InT", bound=BaseModel)
OutT = TypeVar("OutT", bound=BaseModel)


@dataclass
class Resources:
    """Process-wide, load-once resources shared by all runs (models, clients).

    `memory` (a `memory.vector.VectorMemory`), `embedder` (memory.embeddings, the one the
    memory uses) and `graph` (a `memory.graph.GraphMemory`) are opened by the entry point and
    closed by it; stages that need memory fail clearly without it, the quality gates build
    the configured embedder when none was opened.
    `router` (routing.router.Router), `responses` (routing.cache.ResponseCache) and
    `transcripts` (pipelines.transcripts.TranscriptCache) likewise; model calls fall back to
    an unpersisted router and an in-process cache when the entry point opened none.
    """

    settings: Settings
    memory: Any = None
    embedder: Any = None
    graph: Any = None
    router: Any = None
    responses: Any = None
    transcripts: Any = None
    cache: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class StageDeps:
    """What a stage may use: settings, process resources and its run's work directory."""

    resources: Resources
    run_id: str
    workdir: Path

    @property
    def settings(self) -> Settings:
        """Shortcut to the process settings."""
        return self.resources.settings


@dataclass(frozen=True)
class Stage(Generic[InT, OutT]):
    """One step of the flow.

    `depth_sensitive` stages are reused only from earlier runs of the same depth and
    `tenant_sensitive` ones only from runs of the same memory namespace (guild);
    `still_valid` lets a stage reject a stored output whose side effects are gone
    (e.g. a downloaded file that was cleaned up), forcing a re-run.
    """

    name: str
    run: Callable[[StageDeps, InT], Awaitable[OutT]]
    inputs: type[InT]
    output: type[OutT]
    depth_sensitive: bool = False
    tenant_sensitive: bool = False
    still_valid: Callable[[OutT], bool] = field(default=lambda _output: True)
