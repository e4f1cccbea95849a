"""Watches and the entries they have seen, in the run store's database (SQLite or PostgreSQL).

Exactly once per (watch, entry): a poller *claims* an entry by inserting its row, and the
UNIQUE (watch_id, entry_key) constraint decides between racing pollers (`INSERT … ON CONFLICT
DO NOTHING RETURNING`: a poller submits only the keys the insert returned to it). A claim whose
poller died before submitting its run is taken over later by a compare-and-set update
(`take_orphans`), so an entry is neither lost nor run twice. The daily digest's window is
claimed the same way (`claim_digest`).
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker

from pipelines.errors import WatchExistsError, WatchLimitError
from pipelines.tables import RunRow, WatchEntryRow, WatchRow, utcnow

FINISHED = ("succeeded", "failed", "cancelled")


@dataclass(frozen=True)
class Entry:
    """One upload of a watched source, as a listing shows it."""

    key: str  # stable identity within the watch (feed guid, video id or URL)
    url: str  # what a run analyses: the enclosure, or the video's page
    title: str | None = None
    published_at: datetime | None = None


@dataclass(frozen=True)
class WatchRecord:
    """A watch as stored."""

    id: int
    guild_id: str
    channel_id: str
    url: str
    kind: str | None
    depth: str
    digest: str
    backfill: int
    created_by: str | None
    created_at: datetime
    baselined_at: datetime | None
    next_poll_at: datetime
    last_polled_at: datetime | None
    etag: str | None
    last_modified: str | None
    error_count: int
    last_error: str | None
    digest_through: datetime | None


@dataclass(frozen=True)
class DigestItem:
    """A finished run of a watch, for the daily digest."""

    run_id: str
    status: str
    title: str | None
    url: str | None
    finished_at: datetime | None


def _record(row: WatchRow) -> WatchRecord:
    return WatchRecord(**{f.name: getattr(row, f.name) for f in fields(WatchRecord)})


class WatchStore:
    """Watches and seen entries in the run store's database."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._sessions = async_sessionmaker(engine, expire_on_commit=False)
        self._insert = postgresql.insert if engine.dialect.name == "postgresql" else sqlite.insert

    # --- watches ------------------------------------------------------------------------

    async def add(
        self,
        *,
        guild_id: str,
        channel_id: str,
        url: str,
        depth: str,
        digest: str = "none",
        backfill: int = 0,
        created_by: str | None = None,
        max_per_guild: int,
    ) -> WatchRecord:
        """Record a watch (polled at once); refuses a guild's extra watch and a duplicate."""
        count = len(await self.watches(guild_id))
        if count >= max_per_guild:
            raise WatchLimitError(
                f"this server already has {count} watches (limit {max_per_guild}); remove one first"
            )
        now = utcnow()
        row = WatchRow(
            guild_id=guild_id,
            channel_id=channel_id,
            url=url,
            depth=depth,
            digest=digest,
            backfill=backfill,
            created_by=created_by,
            created_at=now,
            next_poll_at=now,
            error_count=0,
        )
        try:
            async with self._sessions.begin() as session:
                session.add(row)
        except IntegrityError as exc:
            raise WatchExistsError(f"<#{channel_id}> already watches {url}") from exc
        return _record(row)

    async def get(self, watch_id: int) -> WatchRecord | None:
        """The watch with this id."""
        async with self._sessions() as session:
            row = await session.get(WatchRow, watch_id)
        return _record(row) if row else None

    async def watches(self, guild_id: str | None = None) -> list[WatchRecord]:
        """Every watch (of one guild when given), oldest first."""
        query = select(WatchRow).order_by(WatchRow.id)
        if guild_id is not None:
            query = query.where(WatchRow.guild_id == guild_id)
        async with self._sessions() as session:
            return [_record(row) for row in await session.scalars(query)]

    async def remove(self, watch_id: int, guild_id: str | None = None) -> bool:
        """Delete a watch (of this guild when given) and its seen entries; False when there is none."""
        query = delete(WatchRow).where(WatchRow.id == watch_id)
        if guild_id is not None:
            query = query.where(WatchRow.guild_id == guild_id)
        async with self._sessions.begin() as session:
            result = await session.execute(query)
        return bool(getattr(result, "rowcount", 0))

    async def due(self, now: datetime) -> list[WatchRecord]:
        """Watches whose next poll time has come, most overdue first."""
        query = select(WatchRow).where(WatchRow.next_poll_at <= now).order_by(WatchRow.next_poll_at)
        async with self._sessions() as session:
            return [_record(row) for row in await session.scalars(query)]

    async def in_error(self) -> list[WatchRecord]:
        """Watches whose last poll failed."""
        query = select(WatchRow).where(WatchRow.error_count > 0).order_by(WatchRow.id)
        async with self._sessions() as session:
            return [_record(row) for row in await session.scalars(query)]

    async def polled(self, watch_id: int, *, now: datetime, next_poll_at: datetime, **values: Any) -> None:
        """A successful poll: errors cleared, next poll set; `values` may set kind, etag,
        last_modified, baselined_at and a `last_error` note (e.g. the daily limit)."""
        values.setdefault("last_error", None)
        await self._update(watch_id, last_polled_at=now, next_poll_at=next_poll_at, error_count=0, **values)

    async def polled_unchanged(self, watch_ids: list[int], *, now: datetime, next_poll_at: datetime) -> None:
        """Many successful polls that found nothing new, in one statement."""
        if not watch_ids:
            return
        async with self._sessions.begin() as session:
            await session.execute(
                update(WatchRow)
                .where(WatchRow.id.in_(watch_ids))
                .values(last_polled_at=now, next_poll_at=next_poll_at, error_count=0, last_error=None)
            )

    async def failed(self, watch_id: int, *, now: datetime, error: str, next_poll_at: datetime) -> None:
        """A failed poll: the error is kept and counted; the next poll is pushed back."""
        await self._update(
            watch_id,
            last_polled_at=now,
            next_poll_at=next_poll_at,
            error_count=WatchRow.error_count + 1,
            last_error=error[:2000],
        )

    async def _update(self, watch_id: int, **values: Any) -> None:
        async with self._sessions.begin() as session:
            await session.execute(update(WatchRow).where(WatchRow.id == watch_id).values(**values))

    # --- entries ------------------------------------------------------------------------

    async def claim(
        self, watch_id: int, entries: list[Entry], *, now: datetime, state: str = "claimed"
    ) -> list[str]:
        """Insert rows for `entries` (claimed at `now`); the keys this caller won (absent: seen
        before, or claimed by a racing poller). Nothing when the watch was removed meanwhile."""
        if not entries:
            return []
        rows = [
            {
                "watch_id": watch_id,
                "entry_key": entry.key,
                "url": entry.url[:2048],
                "title": (entry.title or "")[:300] or None,
                "published_at": entry.published_at,
                "state": state,
                "claimed_at": now,
            }
            for entry in entries
        ]
        statement = (
            self._insert(WatchEntryRow)
            .values(rows)
            .on_conflict_do_nothing(index_elements=["watch_id", "entry_key"])
            .returning(WatchEntryRow.entry_key)
        )
        try:
            async with self._sessions.begin() as session:
                return list((await session.execute(statement)).scalars())
        except IntegrityError:  # the watch's row is gone (foreign key)
            return []

    async def seen_keys(self, watch_id: int, keys: list[str]) -> set[str]:
        """Which of `keys` the watch has a row for (a shortcut: claiming decides)."""
        if not keys:
            return set()
        query = select(WatchEntryRow.entry_key).where(
            WatchEntryRow.watch_id == watch_id, WatchEntryRow.entry_key.in_(keys)
        )
        async with self._sessions() as session:
            return set(await session.scalars(query))

    async def with_orphans(self, stale_before: datetime) -> set[int]:
        """Ids of the watches with entries claimed before `stale_before` and never submitted."""
        query = select(WatchEntryRow.watch_id).where(
            WatchEntryRow.state == "claimed", WatchEntryRow.claimed_at < stale_before
        )
        async with self._sessions() as session:
            return set(await session.scalars(query.distinct()))

    async def take_orphans(self, watch_id: int, *, stale_before: datetime, now: datetime) -> list[Entry]:
        """Entries claimed before `stale_before` whose run was never submitted, re-claimed by
        this caller (compare-and-set on the claim time, so one caller gets each)."""
        query = select(WatchEntryRow).where(
            WatchEntryRow.watch_id == watch_id,
            WatchEntryRow.state == "claimed",
            WatchEntryRow.claimed_at < stale_before,
        )
        async with self._sessions() as session:
            rows = list(await session.scalars(query))
        taken: list[Entry] = []
        for row in rows:
            async with self._sessions.begin() as session:
                result = await session.execute(
                    update(WatchEntryRow)
                    .where(
                        WatchEntryRow.id == row.id,
                        WatchEntryRow.state == "claimed",
                        WatchEntryRow.claimed_at == row.claimed_at,
                    )
                    .values(claimed_at=now)
                )
            if getattr(result, "rowcount", 0) == 1:
                taken.append(Entry(row.entry_key, row.url or "", row.title, row.published_at))
        return taken

    async def submitted(self, watch_id: int, key: str, run_id: str) -> None:
        """The entry's run is recorded."""
        await self._set_entry(watch_id, key, state="submitted", run_id=run_id)

    async def skipped(self, watch_id: int, key: str, note: str) -> None:
        """The entry cannot be analysed (e.g. no usable link); `note` says why."""
        await self._set_entry(watch_id, key, state="skipped", note=note[:2000])

    async def _set_entry(self, watch_id: int, key: str, **values: Any) -> None:
        async with self._sessions.begin() as session:
            await session.execute(
                update(WatchEntryRow)
                .where(WatchEntryRow.watch_id == watch_id, WatchEntryRow.entry_key == key)
                .values(**values)
            )

    async def runs_since(self, guild_id: str, since: datetime) -> int:
        """Entries a guild's watches claimed for runs since `since` (the daily limit's count)."""
        query = (
            select(func.count())
            .select_from(WatchEntryRow)
            .join(WatchRow, WatchRow.id == WatchEntryRow.watch_id)
            .where(
                WatchRow.guild_id == guild_id,
                WatchEntryRow.state.in_(("claimed", "submitted")),
                WatchEntryRow.claimed_at >= since,
            )
        )
        async with self._sessions() as session:
            return int((await session.execute(query)).scalar_one())

    # --- digests ------------------------------------------------------------------------

    async def claim_digest(self, watch: WatchRecord, through: datetime) -> bool:
        """Take the right to send the digest for (previous end, `through`]; one caller wins."""
        previous = watch.digest_through
        condition = (
            WatchRow.digest_through.is_(None) if previous is None else WatchRow.digest_through == previous
        )
        async with self._sessions.begin() as session:
            result = await session.execute(
                update(WatchRow).where(WatchRow.id == watch.id, condition).values(digest_through=through)
            )
        return getattr(result, "rowcount", 0) == 1

    async def release_digest(self, watch: WatchRecord, through: datetime) -> None:
        """Give a claimed digest window back (its message could not be posted)."""
        async with self._sessions.begin() as session:
            await session.execute(
                update(WatchRow)
                .where(WatchRow.id == watch.id, WatchRow.digest_through == through)
                .values(digest_through=watch.digest_through)
            )

    async def digest_items(self, watch_id: int, start: datetime, end: datetime) -> list[DigestItem]:
        """The watch's runs that finished in (start, end], in the order they finished."""
        query = (
            select(RunRow.id, RunRow.status, WatchEntryRow.title, WatchEntryRow.url, RunRow.finished_at)
            .join(WatchEntryRow, WatchEntryRow.run_id == RunRow.id)
            .where(
                WatchEntryRow.watch_id == watch_id,
                RunRow.status.in_(FINISHED),
                RunRow.finished_at > start,
                RunRow.finished_at <= end,
            )
            .order_by(RunRow.finished_at)
        )
        async with self._sessions() as session:
            rows = (await session.execute(query)).all()
        return [DigestItem(*row) for row in rows]
