"""Delivery records: exactly-once posting of a run's briefing to each destination.

A destination (e.g. "channel:<id>") is registered when the run is submitted, with the
interaction's token while it is valid. Posting is claimed first (`claim`, one process wins; the
winner renews its claim while it posts, and a claim not renewed within `stale_after` belongs
to a process that died and may be taken over), each posted part is counted
(`part_sent`), and the record is closed with `delivered`. So a retried job or a restarted
bot continues where the last one stopped and never posts a part twice; `undelivered` lists
the finished runs whose briefing is still owed (results finished while the bot was down).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker

from pipelines.clock import database_now
from pipelines.dbretry import retrying
from pipelines.tables import DeliveryRow, RunRow, utcnow

FINISHED = ("succeeded", "failed", "cancelled")


@dataclass(frozen=True)
class DeliveryRecord:
    """A destination of a run and the state of its delivery."""

    id: int
    run_id: str
    destination: str
    guild_id: str | None
    channel_id: str
    application_id: str | None
    interaction_token: str | None
    interaction_at: datetime | None
    attachment_limit: int | None
    status_route: str | None
    status_message_id: str | None
    state: str
    route: str | None
    parts_sent: int
    message_id: str | None
    attempts: int
    last_error: str | None

    def __repr__(self) -> str:  # the token is a credential: keep it out of logs
        return f"DeliveryRecord(id={self.id}, run_id={self.run_id!r}, state={self.state!r})"


def _record(row: DeliveryRow) -> DeliveryRecord:
    return DeliveryRecord(
        **{field: getattr(row, field) for field in DeliveryRecord.__dataclass_fields__},
    )


class DeliveryStore:
    """Delivery records in the run store's database."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._sessions = async_sessionmaker(engine, expire_on_commit=False)

    @retrying
    async def now(self) -> datetime:
        """The database's clock, which stamps and judges claims and interaction tokens."""
        return await database_now(self._engine)

    @retrying
    async def add(
        self,
        run_id: str,
        destination: str,
        *,
        channel_id: str,
        guild_id: str | None = None,
        application_id: str | None = None,
        interaction_token: str | None = None,
        interaction_at: datetime | None = None,
        attachment_limit: int | None = None,
        status_route: str | None = None,
    ) -> DeliveryRecord:
        """Register a destination for a run (an existing registration is returned unchanged).

        A token is stamped with the database's clock unless `interaction_at` says when it was issued.
        """
        if interaction_token is not None and interaction_at is None:
            interaction_at = await database_now(self._engine)
        row = DeliveryRow(
            run_id=run_id,
            destination=destination,
            channel_id=channel_id,
            guild_id=guild_id,
            application_id=application_id,
            interaction_token=interaction_token,
            interaction_at=interaction_at,
            attachment_limit=attachment_limit,
            status_route=status_route,
            state="pending",
            parts_sent=0,
            attempts=0,
            created_at=utcnow(),
        )
        try:
            async with self._sessions.begin() as session:
                session.add(row)
        except IntegrityError:
            existing = await self.get(run_id, destination)
            if existing is None:
                raise
            return existing
        return _record(row)

    @retrying
    async def get(self, run_id: str, destination: str) -> DeliveryRecord | None:
        """The record of one run and destination."""
        async with self._sessions() as session:
            row = (
                await session.scalars(
                    select(DeliveryRow).where(
                        DeliveryRow.run_id == run_id, DeliveryRow.destination == destination
                    )
                )
            ).first()
        return _record(row) if row else None

    @retrying
    async def for_run(self, run_id: str) -> list[DeliveryRecord]:
        """Every destination of a run."""
        async with self._sessions() as session:
            rows = await session.scalars(
                select(DeliveryRow).where(DeliveryRow.run_id == run_id).order_by(DeliveryRow.id)
            )
            return [_record(row) for row in rows]

    @retrying
    async def undelivered(self, *, max_attempts: int = 5) -> list[DeliveryRecord]:
        """Records of finished runs whose briefing is still owed, oldest first."""
        query = (
            select(DeliveryRow)
            .join(RunRow, RunRow.id == DeliveryRow.run_id)
            .where(
                DeliveryRow.state != "delivered",
                DeliveryRow.attempts < max_attempts,
                RunRow.status.in_(FINISHED),
            )
            .order_by(DeliveryRow.id)
        )
        async with self._sessions() as session:
            return [_record(row) for row in await session.scalars(query)]

    @retrying
    async def unfinished_runs(self) -> list[str]:
        """Runs that still owe a destination a result and have not finished (to resume on start)."""
        query = (
            select(RunRow.id)
            .join(DeliveryRow, DeliveryRow.run_id == RunRow.id)
            .where(DeliveryRow.state != "delivered", RunRow.status.not_in(FINISHED))
            .group_by(RunRow.id, RunRow.created_at)
            .order_by(RunRow.created_at)
        )
        async with self._sessions() as session:
            return list(await session.scalars(query))

    @retrying
    async def claim(self, delivery_id: int, *, stale_after: timedelta) -> datetime | None:
        """Take the right to post: the claim's time (its token for `renew_claim`), or None when it
        is delivered or another process holds a claim renewed within `stale_after`."""
        now = await database_now(self._engine)
        async with self._sessions.begin() as session:
            result = await session.execute(
                update(DeliveryRow)
                .where(
                    DeliveryRow.id == delivery_id,
                    (DeliveryRow.state.in_(("pending", "failed")))
                    | ((DeliveryRow.state == "delivering") & (DeliveryRow.claimed_at < now - stale_after)),
                )
                .values(state="delivering", claimed_at=now, attempts=DeliveryRow.attempts + 1)
            )
        return now if getattr(result, "rowcount", 0) == 1 else None

    @retrying
    async def renew_claim(self, delivery_id: int, claimed_at: datetime) -> datetime | None:
        """Keep our claim fresh: its new time, or None when another process took it over."""
        now = await database_now(self._engine)
        async with self._sessions.begin() as session:
            result = await session.execute(
                update(DeliveryRow)
                .where(
                    DeliveryRow.id == delivery_id,
                    DeliveryRow.state == "delivering",
                    DeliveryRow.claimed_at == claimed_at,
                )
                .values(claimed_at=now)
            )
        return now if getattr(result, "rowcount", 0) == 1 else None

    @retrying
    async def _update(self, delivery_id: int, **values: Any) -> None:
        async with self._sessions.begin() as session:
            await session.execute(update(DeliveryRow).where(DeliveryRow.id == delivery_id).values(**values))

    async def set_status_message(self, delivery_id: int, route: str, message_id: str | None) -> None:
        """Remember which message shows the run's progress, and through which route it is edited."""
        await self._update(delivery_id, status_route=route, status_message_id=message_id)

    async def forget_token(self, delivery_id: int) -> None:
        """The interaction token is dead (expired or refused): erase it."""
        await self._update(delivery_id, interaction_token=None)

    async def part_sent(self, delivery_id: int, parts_sent: int, route: str, message_id: str | None) -> None:
        """Count a posted briefing part (the first part's message id is kept)."""
        values: dict[str, Any] = {"parts_sent": parts_sent, "route": route}
        if parts_sent == 1:
            values["message_id"] = message_id
        await self._update(delivery_id, **values)

    async def delivered(self, delivery_id: int) -> None:
        """Close the record: every part is posted."""
        await self._update(delivery_id, state="delivered", delivered_at=utcnow(), last_error=None)

    async def failed(self, delivery_id: int, error: str) -> None:
        """Every route failed this time; the reason is kept and a later attempt may retry."""
        await self._update(delivery_id, state="failed", last_error=error[:2000])
