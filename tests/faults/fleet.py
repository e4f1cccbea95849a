"""The fleet of the fault suite, and what the tests read back from the run store.

`Fleet` is the bot under test (the e2e `world`, in this process) in queue mode with
`autointel worker` processes beside it; the helpers read stage records, degraded items and
lease owners straight from the store the fleet shares.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import select

from e2e.harness import BotWorld
from faults.services import ServiceProcess, child_env, worker_process
from pipelines.models import Analysis
from pipelines.store import RunStore, StageRecord
from pipelines.tables import RunRow


@dataclass
class Fleet:
    """The bot under test (`world`) in queue mode and the worker processes that run its jobs."""

    world: BotWorld
    tmp_path: Path
    workers: list[ServiceProcess] = field(default_factory=list)

    def worker(self, clock_skew: float = 0.0, **env: str) -> ServiceProcess:
        """Start one more `autointel worker` process with its own data dir (and a skewed clock)."""
        n = len(self.workers)
        overrides = {"AUTOINTEL_DATA_DIR": str(self.tmp_path / f"worker{n}"), "METRICS_PORT": "0"}
        overrides.update(LOG_LEVEL="INFO", **env)  # INFO: "ready on queue" and the reaper's work
        log = self.tmp_path / f"worker{n}.log"
        process = worker_process(child_env(**overrides), log, clock_skew=clock_skew)
        self.workers.append(process.start())
        return process

    def logs(self) -> str:
        """The workers' output tails (for assertion messages)."""
        return "\n".join(f"--- worker {n}\n{w.log_tail()}" for n, w in enumerate(self.workers))


MakeFleet = Callable[..., Fleet]


async def stage_records(database_url: str, run_id: str) -> dict[str, StageRecord]:
    """{stage: record} of a run, read from the run store."""
    async with await RunStore.open(database_url) as store:
        return {record.stage: record for record in await store.stages(run_id)}


async def stage_running(database_url: str, run_id: str, stage: str) -> bool:
    """Whether `stage` of the run is running now."""
    record = (await stage_records(database_url, run_id)).get(stage)
    return record is not None and record.status == "running"


async def failed_items(database_url: str, run_id: str) -> list[str]:
    """The analysis items of a run that degraded (their task failed), as "task: reason"."""
    record = (await stage_records(database_url, run_id)).get("analyze")
    assert record is not None and record.output_json, "the analysis was not stored"
    return [f"{f.task}: {f.reason}" for f in Analysis.model_validate_json(record.output_json).failures]


async def lease_owner(database_url: str, run_id: str) -> str | None:
    """Who holds the run's lease ("host:pid:suffix"), or None."""
    async with await RunStore.open(database_url) as store, store.engine.connect() as conn:
        return (await conn.execute(select(RunRow.lease_owner).where(RunRow.id == run_id))).scalar()


def holder(fleet: Fleet, owner: str | None) -> ServiceProcess | None:
    """The worker process whose lease owner name this is."""
    pid = int(owner.split(":")[1]) if owner else 0
    return next((w for w in fleet.workers if w.alive and w.pid == pid), None)
