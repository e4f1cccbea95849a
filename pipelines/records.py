"""What the run store hands out: immutable records of runs and stage results."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from pydantic import BaseModel

from pipelines.models import Depth, Source
from pipelines.tables import RunRow, StageRow


@dataclass(frozen=True)
class RunResult:
    """A finished run: its record, stage records and the typed output of every stage."""

    run: RunRecord
    stages: list[StageRecord]
    outputs: dict[str, BaseModel]


@dataclass(frozen=True)
class RunRecord:
    """A run as stored."""

    id: str
    source: Source
    depth: Depth
    pipeline_version: str
    fresh: bool
    requester: str | None
    namespace: str
    status: str
    error_code: str | None
    error_message: str | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None


@dataclass(frozen=True)
class StageRecord:
    """One stage's stored result."""

    run_id: str
    stage: str
    position: int
    status: str
    output_json: str | None
    error_code: str | None
    error_message: str | None
    reused_from: str | None
    attempts: int
    started_at: datetime | None
    finished_at: datetime | None
    duration_seconds: float | None


def run_record(row: RunRow) -> RunRecord:
    """The record of a runs row."""
    return RunRecord(
        id=row.id,
        source=Source.model_validate_json(row.source_json),
        depth=Depth(row.depth),
        pipeline_version=row.pipeline_version,
        fresh=row.fresh,
        requester=row.requester,
        namespace=row.namespace,
        status=row.status,
        error_code=row.error_code,
        error_message=row.error_message,
        created_at=row.created_at,
        started_at=row.started_at,
        finished_at=row.finished_at,
    )


def stage_record(row: StageRow) -> StageRecord:
    """The record of a stage_results row."""
    return StageRecord(
        run_id=row.run_id,
        stage=row.stage,
        position=row.position,
        status=row.status,
        output_json=row.output_json,
        error_code=row.error_code,
        error_message=row.error_message,
        reused_from=row.reused_from,
        attempts=row.attempts,
        started_at=row.started_at,
        finished_at=row.finished_at,
        duration_seconds=row.duration_seconds,
    )
