"""The run store: runs and per-stage results in SQLite (aiosqlite) or PostgreSQL (asyncpg).

Open it with `RunStore.open(url)`, which applies the Alembic migrations, and close it
(or use `async with`). Every write is its own short transaction, so a stage's output is
durable before the next stage starts.
"""

from __future__ import annotations

import asyncio
import functools
import json
import threading
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

from sqlalchemy import event, func, inspect, select, text, true, update
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlalchemy.orm import aliased

from pipelines.dbretry import retrying
from pipelines.errors import RunNotFoundError, StoreUnavailableError
from pipelines.models import Depth, Source
from pipelines.records import RunRecord, StageRecord, run_record, stage_record
from pipelines.tables import SCHEMA_REVISION, RunRow, StageRow, utcnow

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


def _alembic_config() -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return config


@functools.cache
def head_revision() -> str:
    """The newest migration's revision id, as Alembic reads it from the migration scripts."""
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(_alembic_config()).get_current_head()
    assert head is not None
    return head


def _alembic_upgrade(connection: Connection) -> None:
    if inspect(connection).has_table("alembic_version"):
        current = connection.execute(text("SELECT version_num FROM alembic_version")).scalar()
        if current == SCHEMA_REVISION:
            # Already current: skip Alembic, which is slow to import and keeps its migration
            # context in module globals (not concurrency-safe).
            return
    from alembic import command

    config = _alembic_config()
    config.attributes["connection"] = connection
    command.upgrade(config, "head")


# Alembic keeps its migration context in module globals: one migration at a time per process,
# across threads (each with its own event loop), without blocking an event loop while waiting.
_MIGRATING = threading.Lock()


async def _acquire_migration_lock() -> None:
    """Take `_MIGRATING` in a thread; if cancelled meanwhile, release it once it is taken."""
    acquiring = asyncio.ensure_future(asyncio.to_thread(_MIGRATING.acquire))
    try:
        await asyncio.shield(acquiring)
    except asyncio.CancelledError:
        acquiring.add_done_callback(lambda done: _MIGRATING.release() if done.result() else None)
        raise


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


@dataclass(frozen=True)
class QuotaCounts:
    """What the bot's limits are checked against."""

    user_recent: int
    user_oldest: datetime | None
    guild_recent: int
    guild_oldest: datetime | None
    guild_active: int


def _aware(value: datetime | None) -> datetime | None:
    """Aggregates may bypass the column type on SQLite: make sure the result is aware UTC."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.replace(tzinfo=UTC) if value is not None and value.tzinfo is None else value


class RunStore:
    """Async access to runs and stage results."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self._sessions = async_sessionmaker(engine, expire_on_commit=False)

    @classmethod
    async def open(cls, url: str, *, echo: bool = False, pool_size: int = 5) -> RunStore:
        """Connect, create the SQLite directory if needed, and migrate to the latest schema."""
        parsed = make_url(url)
        kwargs: dict[str, Any] = {"echo": echo}
        if parsed.get_backend_name() == "sqlite":
            if parsed.database and parsed.database != ":memory:":
                Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        else:
            kwargs.update(pool_size=pool_size, pool_pre_ping=True)
        engine = create_async_engine(url, **kwargs)
        if parsed.get_backend_name() == "sqlite":
            event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        try:
            await _acquire_migration_lock()
            try:
                async with engine.begin() as conn:
                    await conn.run_sync(_alembic_upgrade)
            finally:
                _MIGRATING.release()
        except (OSError, SQLAlchemyError) as exc:
            await engine.dispose()
            where = parsed.render_as_string(hide_password=True)
            reason = str(getattr(exc, "orig", None) or exc).splitlines()[0]
            raise StoreUnavailableError(f"cannot open the run store {where}: {reason}") from exc
        except BaseException:
            await engine.dispose()
            raise
        return cls(engine)

    async def close(self) -> None:
        """Release all connections."""
        await self.engine.dispose()

    async def __aenter__(self) -> RunStore:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    # --- runs -------------------------------------------------------------------------

    @retrying
    async def create_run(
        self,
        source: Source,
        depth: Depth,
        pipeline_version: str,
        *,
        fresh: bool = False,
        requester: str | None = None,
        namespace: str = "cli",
    ) -> RunRecord:
        """Record a new queued run and return it."""
        row = RunRow(
            id=uuid.uuid4().hex,
            source_key=source.key,
            source_json=source.model_dump_json(),
            depth=depth.value,
            pipeline_version=pipeline_version,
            fresh=fresh,
            requester=requester,
            namespace=namespace,
            status="queued",
            created_at=utcnow(),
        )
        async with self._sessions.begin() as session:
            session.add(row)
        return run_record(row)

    @retrying
    async def get_run(self, run_id: str, *, namespace: str | None = None) -> RunRecord:
        """The run with this id (a unique prefix of at least 6 characters also works).

        With `namespace`, only that namespace's runs are found: another guild's run, whole id
        or prefix, is "not found", and a prefix is unique within the namespace.
        """
        scope = RunRow.namespace == namespace if namespace is not None else true()
        async with self._sessions() as session:
            row = await session.scalar(select(RunRow).where(RunRow.id == run_id, scope))
            if row is None and len(run_id) >= 6:
                query = select(RunRow).where(RunRow.id.startswith(run_id, autoescape=True), scope)
                rows = (await session.scalars(query.limit(2))).all()
                row = rows[0] if len(rows) == 1 else None
        if row is None:
            raise RunNotFoundError(f"no run with id {run_id!r}")
        return run_record(row)

    @retrying
    async def list_runs(self, limit: int = 20, *, namespace: str | None = None) -> list[RunRecord]:
        """The most recent runs (of one namespace when given), newest first."""
        query = select(RunRow).order_by(RunRow.created_at.desc()).limit(limit)
        if namespace is not None:
            query = query.where(RunRow.namespace == namespace)
        async with self._sessions() as session:
            return [run_record(row) for row in await session.scalars(query)]

    @retrying
    async def quota_counts(
        self, *, requester: str, namespace: str, since: datetime, active: tuple[str, ...]
    ) -> QuotaCounts:
        """In one query: the requester's and the namespace's runs since `since` (with the oldest
        one's creation time, for "try again at" answers) and the namespace's active runs."""
        mine = (RunRow.requester == requester) & (RunRow.created_at >= since)
        theirs = (RunRow.namespace == namespace) & (RunRow.created_at >= since)
        running = (RunRow.namespace == namespace) & RunRow.status.in_(active)
        query = select(
            func.count().filter(mine),
            func.min(RunRow.created_at).filter(mine),
            func.count().filter(theirs),
            func.min(RunRow.created_at).filter(theirs),
            func.count().filter(running),
        ).where((RunRow.requester == requester) | (RunRow.namespace == namespace))
        async with self._sessions() as session:
            row = (await session.execute(query)).one()
        return QuotaCounts(int(row[0]), _aware(row[1]), int(row[2]), _aware(row[3]), int(row[4]))

    @retrying
    async def find_finished(
        self, source_key: str, depth: Depth, pipeline_version: str, *, namespace: str | None = None
    ) -> RunRecord | None:
        """The newest succeeded run of this source at this depth and pipeline version (in `namespace`)
        whose briefing is complete: a degraded one (an item failed) is worth running again."""
        brief = (StageRow.run_id == RunRow.id) & (StageRow.stage == "brief")
        query = (
            select(RunRow, StageRow.output_json)
            .join(StageRow, brief)
            .where(
                RunRow.source_key == source_key,
                RunRow.depth == depth.value,
                RunRow.pipeline_version == pipeline_version,
                RunRow.status == "succeeded",
            )
            .order_by(RunRow.finished_at.desc())
            .limit(10)
        )
        if namespace is not None:
            query = query.where(RunRow.namespace == namespace)
        async with self._sessions() as session:
            rows = (await session.execute(query)).all()
        complete = (row for row, output in rows if output and not json.loads(output).get("degraded"))
        return next((run_record(row) for row in complete), None)

    @retrying
    async def set_run_status(
        self,
        run_id: str,
        status: str,
        *,
        error_code: str | None = None,
        error_message: str | None = None,
    ) -> None:
        """Move a run to `running`, `succeeded` or `failed` (with the reason)."""
        values: dict[str, Any] = {"status": status, "error_code": error_code, "error_message": error_message}
        if status == "running":
            values["started_at"] = utcnow()
            values["finished_at"] = None
        else:
            values["finished_at"] = utcnow()
        async with self._sessions.begin() as session:
            await session.execute(update(RunRow).where(RunRow.id == run_id).values(**values))

    # --- stages -----------------------------------------------------------------------

    @retrying
    async def stages(self, run_id: str) -> list[StageRecord]:
        """All stored stage results of a run, in flow order."""
        async with self._sessions() as session:
            rows = await session.scalars(
                select(StageRow).where(StageRow.run_id == run_id).order_by(StageRow.position)
            )
            return [stage_record(row) for row in rows]

    @retrying
    async def stage_started(self, run_id: str, stage: str, position: int) -> None:
        """Mark a stage as running (counting the attempt)."""
        async with self._sessions.begin() as session:
            row = await session.get(StageRow, (run_id, stage))
            if row is None:
                row = StageRow(run_id=run_id, stage=stage, position=position, attempts=0)
                session.add(row)
            row.status = "running"
            row.attempts = (row.attempts or 0) + 1
            row.started_at = utcnow()
            row.finished_at = None
            row.error_code = row.error_message = None

    @retrying
    async def stage_succeeded(
        self,
        run_id: str,
        stage: str,
        position: int,
        output_json: str,
        duration_seconds: float,
        *,
        reused_from: str | None = None,
    ) -> None:
        """Persist a stage's output (in one transaction) and mark it succeeded."""
        async with self._sessions.begin() as session:
            row = await session.get(StageRow, (run_id, stage))
            if row is None:
                row = StageRow(run_id=run_id, stage=stage, position=position, attempts=0, started_at=utcnow())
                session.add(row)
            row.status = "succeeded"
            row.output_json = output_json
            row.reused_from = reused_from
            row.error_code = row.error_message = None
            row.finished_at = utcnow()
            row.duration_seconds = duration_seconds

    @retrying
    async def stage_failed(
        self, run_id: str, stage: str, error_code: str, error_message: str, duration_seconds: float
    ) -> None:
        """Record why a stage failed."""
        async with self._sessions.begin() as session:
            await session.execute(
                update(StageRow)
                .where(StageRow.run_id == run_id, StageRow.stage == stage)
                .values(
                    status="failed",
                    error_code=error_code,
                    error_message=error_message,
                    finished_at=utcnow(),
                    duration_seconds=duration_seconds,
                )
            )

    @retrying
    async def find_reusable(
        self,
        source_key: str,
        pipeline_version: str,
        stage: str,
        *,
        depth: Depth | None,
        namespace: str | None = None,
        exclude_run: str,
        after: tuple[str, str] | None = None,
    ) -> StageRecord | None:
        """The newest succeeded result of `stage` from another run of the same source.

        `depth=None` / `namespace=None` match any depth / namespace (for stages whose output
        does not depend on them). `after=(stage, origin)` requires that, in the run where the
        candidate result was computed, the previous stage's result came from `origin` too:
        a reused result was computed from the very inputs this run has.
        Results that were themselves reused point at their origin, so chains stay short.
        """
        query = (
            select(StageRow)
            .join(RunRow, RunRow.id == StageRow.run_id)
            .where(
                RunRow.source_key == source_key,
                RunRow.pipeline_version == pipeline_version,
                RunRow.id != exclude_run,
                StageRow.stage == stage,
                StageRow.status == "succeeded",
            )
            .order_by(StageRow.finished_at.desc())
            .limit(1)
        )
        if depth is not None:
            query = query.where(RunRow.depth == depth.value)
        if namespace is not None:
            query = query.where(RunRow.namespace == namespace)
        if after is not None:
            previous = aliased(StageRow)
            query = query.join(
                previous,
                (previous.run_id == func.coalesce(StageRow.reused_from, StageRow.run_id))
                & (previous.stage == after[0])
                & (func.coalesce(previous.reused_from, previous.run_id) == after[1]),
            )
        async with self._sessions() as session:
            row = (await session.scalars(query)).first()
        return stage_record(row) if row else None
