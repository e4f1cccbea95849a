"""What the router has learnt, per task and model, and where it is kept.

Every statistic is a sum (successes, failures, latency sums of logs, quality sums, spend), so
outcomes from many processes merge by addition: `StatsStore.add` is one additive upsert
(`INSERT ... ON CONFLICT DO UPDATE SET x = x + excluded.x`) on SQLite and PostgreSQL, and a
restarted bot or worker reloads exactly what the others learnt.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields
from typing import Any

from sqlalchemy import Float, Integer, String, select
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.orm import Mapped, mapped_column

from pipelines.tables import Base


class RouterStatRow(Base):
    """Learnt outcome sums of one (task, model) arm (migration 0005)."""

    __tablename__ = "router_stats"

    task: Mapped[str] = mapped_column(String(64), primary_key=True)
    model: Mapped[str] = mapped_column(String(64), primary_key=True)
    calls: Mapped[int] = mapped_column(Integer, default=0)
    successes: Mapped[float] = mapped_column(Float, default=0.0)
    failures: Mapped[float] = mapped_column(Float, default=0.0)
    repairs: Mapped[int] = mapped_column(Integer, default=0)
    latency_n: Mapped[int] = mapped_column(Integer, default=0)
    latency_log_sum: Mapped[float] = mapped_column(Float, default=0.0)
    latency_log_sq: Mapped[float] = mapped_column(Float, default=0.0)
    quality_sum: Mapped[float] = mapped_column(Float, default=0.0)
    quality_n: Mapped[int] = mapped_column(Integer, default=0)
    cost_usd: Mapped[float] = mapped_column(Float, default=0.0)


@dataclass
class ArmStats:
    """Outcome sums of one (task, model) arm; also used as the delta of one call."""

    calls: int = 0
    successes: float = 0.0
    failures: float = 0.0
    repairs: int = 0
    latency_n: int = 0
    latency_log_sum: float = 0.0
    latency_log_sq: float = 0.0
    quality_sum: float = 0.0
    quality_n: int = 0
    cost_usd: float = 0.0

    def add(self, other: ArmStats) -> None:
        """Merge another arm's sums (or one call's delta) into this one."""
        for name in FIELDS:
            setattr(self, name, getattr(self, name) + getattr(other, name))

    @property
    def success_rate(self) -> float | None:
        """Observed share of successful calls (None before any)."""
        total = self.successes + self.failures
        return self.successes / total if total else None

    @property
    def mean_latency(self) -> float | None:
        """Geometric mean latency in seconds (None before any timed call)."""
        return math.exp(self.latency_log_sum / self.latency_n) if self.latency_n else None

    @property
    def repair_rate(self) -> float | None:
        """Share of calls that needed a repair prompt."""
        return self.repairs / self.calls if self.calls else None


FIELDS = tuple(f.name for f in fields(ArmStats))


def outcome(
    *, ok: bool, seconds: float | None, repaired: bool = False, quality: float | None = None, cost: float = 0
) -> ArmStats:
    """The delta one call contributes.

    A first-time valid answer is a success; one that needed the repair prompt counts half a
    success and half a failure (so a high schema-repair rate lowers reliability); an error
    or twice-invalid answer is a failure. Latency is learnt from answered calls only.
    """
    delta = ArmStats(calls=1, repairs=int(repaired), cost_usd=cost)
    if ok:
        delta.successes, delta.failures = (0.5, 0.5) if repaired else (1.0, 0.0)
    else:
        delta.failures = 1.0
    if ok and seconds is not None and seconds > 0:
        log = math.log(seconds)
        delta.latency_n, delta.latency_log_sum, delta.latency_log_sq = 1, log, log * log
    if quality is not None:
        delta.quality_sum, delta.quality_n = min(max(quality, 0.0), 1.0), 1
    return delta


class StatsStore:
    """Router statistics in the run store's database."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def load(self) -> dict[tuple[str, str], ArmStats]:
        """Every arm's sums, keyed by (task, model)."""
        async with self.engine.connect() as conn:
            rows = (await conn.execute(select(RouterStatRow.__table__))).mappings().all()
        return {(row["task"], row["model"]): ArmStats(**{n: row[n] for n in FIELDS}) for row in rows}

    async def add(self, task: str, model: str, delta: ArmStats) -> None:
        """Add one call's delta to the stored sums (concurrency-safe across processes)."""
        from sqlalchemy.dialects import postgresql, sqlite

        values = {"task": task, "model": model, **asdict(delta)}
        table = RouterStatRow.__table__
        dialect: Any = postgresql if self.engine.dialect.name == "postgresql" else sqlite
        statement = dialect.insert(table).values(values)
        statement = statement.on_conflict_do_update(
            index_elements=["task", "model"],
            set_={name: table.c[name] + statement.excluded[name] for name in FIELDS},
        )
        async with self.engine.begin() as conn:
            await conn.execute(statement)
