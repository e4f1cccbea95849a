"""SQLAlchemy tables of the run store (the schema Alembic migrates)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    DateTime,
    Float,
    ForeignKey,
    Index,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC timestamps on every backend (SQLite drops tzinfo; this restores it)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Store UTC; naive values are refused rather than guessed."""
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the run store")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        """Always hand back an aware UTC datetime."""
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


SCHEMA_REVISION = "0006"  # the newest migration; a test keeps it equal to Alembic's head


def utcnow() -> datetime:
    """The current time, timezone-aware."""
    return datetime.now(UTC)


class Base(DeclarativeBase):
    """Declarative base of the run store."""


class RunRow(Base):
    """One /autointel run: what was asked, by whom, and how it ended."""

    __tablename__ = "runs"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    source_key: Mapped[str] = mapped_column(String(2048))
    source_json: Mapped[str] = mapped_column(Text)
    depth: Mapped[str] = mapped_column(String(16))
    pipeline_version: Mapped[str] = mapped_column(String(16))
    fresh: Mapped[bool] = mapped_column(default=False)
    requester: Mapped[str | None] = mapped_column(String(128), default=None)
    namespace: Mapped[str] = mapped_column(String(64), default="cli")
    status: Mapped[str] = mapped_column(String(16), default="queued")
    error_code: Mapped[str | None] = mapped_column(String(64), default=None)
    error_message: Mapped[str | None] = mapped_column(Text, default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    lease_owner: Mapped[str | None] = mapped_column(String(96), default=None)
    lease_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)

    __table_args__ = (
        Index("ix_runs_source", "source_key", "pipeline_version", "depth"),
        Index("ix_runs_created", "created_at"),
    )


class StageRow(Base):
    """The persisted result of one stage of one run."""

    __tablename__ = "stage_results"

    run_id: Mapped[str] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True)
    stage: Mapped[str] = mapped_column(String(64), primary_key=True)
    position: Mapped[int] = mapped_column(default=0)
    status: Mapped[str] = mapped_column(String(16))
    output_json: Mapped[str | None] = mapped_column(Text, default=None)
    error_code: Mapped[str | None] = mapped_column(String(64), default=None)
    error_message: Mapped[str | None] = mapped_column(Text, default=None)
    reused_from: Mapped[str | None] = mapped_column(String(32), default=None)
    attempts: Mapped[int] = mapped_column(default=0)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    duration_seconds: Mapped[float | None] = mapped_column(Float, default=None)


class DeliveryRow(Base):
    """Where a run's progress and briefing go, and how far delivery got (exactly once per destination).

    `state` moves pending → delivering (claimed by one process) → delivered; `parts_sent`
    counts the briefing messages already posted, so a resumed delivery continues after them.
    The interaction token is a 15-minute credential: it is erased once it is known to be dead.
    """

    __tablename__ = "deliveries"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    run_id: Mapped[str] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"))
    destination: Mapped[str] = mapped_column(String(64))
    guild_id: Mapped[str | None] = mapped_column(String(32), default=None)
    channel_id: Mapped[str] = mapped_column(String(32))
    application_id: Mapped[str | None] = mapped_column(String(32), default=None)
    interaction_token: Mapped[str | None] = mapped_column(Text, default=None)
    interaction_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    attachment_limit: Mapped[int | None] = mapped_column(default=None)  # bytes, from the interaction
    status_route: Mapped[str | None] = mapped_column(String(16), default=None)
    status_message_id: Mapped[str | None] = mapped_column(String(32), default=None)
    state: Mapped[str] = mapped_column(String(16), default="pending")
    route: Mapped[str | None] = mapped_column(String(16), default=None)
    parts_sent: Mapped[int] = mapped_column(default=0)
    message_id: Mapped[str | None] = mapped_column(String(32), default=None)
    attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str | None] = mapped_column(Text, default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)

    __table_args__ = (
        UniqueConstraint("run_id", "destination", name="uq_deliveries_destination"),
        Index("ix_deliveries_state", "state"),
    )


class WatchRow(Base):
    """A watched channel, playlist or feed: where its new entries' briefings go and how polling goes.

    `kind` ("feed" or "playlist") is learnt on the first poll; `baselined_at` marks the first
    successful listing (entries seen then are back catalogue, except the newest `backfill`).
    `etag` / `last_modified` make feed polls conditional. A failing poll raises `error_count`
    and pushes `next_poll_at` back exponentially. `digest_through` is the end of the window
    the last daily digest covered.
    """

    __tablename__ = "watches"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    guild_id: Mapped[str] = mapped_column(String(32))
    channel_id: Mapped[str] = mapped_column(String(32))
    url: Mapped[str] = mapped_column(String(2048))
    kind: Mapped[str | None] = mapped_column(String(16), default=None)
    depth: Mapped[str] = mapped_column(String(16))
    digest: Mapped[str] = mapped_column(String(16), default="none")
    backfill: Mapped[int] = mapped_column(default=0)
    created_by: Mapped[str | None] = mapped_column(String(64), default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    baselined_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    next_poll_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_polled_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    etag: Mapped[str | None] = mapped_column(String(512), default=None)
    last_modified: Mapped[str | None] = mapped_column(String(128), default=None)
    error_count: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str | None] = mapped_column(Text, default=None)
    digest_through: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)

    __table_args__ = (
        UniqueConstraint("guild_id", "channel_id", "url", name="uq_watches_target"),
        Index("ix_watches_next_poll", "next_poll_at"),
    )


class WatchEntryRow(Base):
    """An entry a watch has seen: claimed once (the unique key decides between racing pollers).

    `state`: "old" (back catalogue, never analysed), "claimed" (a poller won it and is submitting
    its run), "submitted" (`run_id` set) or "skipped" (unusable; `note` says why).
    """

    __tablename__ = "watch_entries"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    watch_id: Mapped[int] = mapped_column(ForeignKey("watches.id", ondelete="CASCADE"))
    entry_key: Mapped[str] = mapped_column(String(255))
    url: Mapped[str | None] = mapped_column(String(2048), default=None)
    title: Mapped[str | None] = mapped_column(String(300), default=None)
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    state: Mapped[str] = mapped_column(String(16))
    run_id: Mapped[str | None] = mapped_column(String(32), default=None)
    note: Mapped[str | None] = mapped_column(Text, default=None)
    claimed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (
        UniqueConstraint("watch_id", "entry_key", name="uq_watch_entries_key"),
        Index("ix_watch_entries_run", "run_id"),
        Index("ix_watch_entries_claimed", "claimed_at"),
    )
