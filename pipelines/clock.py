"""Which clock judges expiry: the database's across processes, the monotonic clock within one.

Run leases, delivery claims and the interaction token's age are compared across processes
(the bot and several workers, maybe on other hosts). Their wall clocks may be skewed or jump
(NTP steps, a suspended VM), and a worker whose clock runs an hour ahead would find every
lease expired and every token dead. So expiry times are written and compared with one clock,
the database server's (`database_now`), and an age a process measures itself continues on
`time.monotonic()`, which never jumps (`MonotonicAge`).

With SQLite the database is a file on this host, and its clock is the host's.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from pipelines.tables import UTCDateTime, utcnow


async def database_now(engine: AsyncEngine) -> datetime:
    """The database server's current time (aware UTC); this host's for SQLite."""
    if engine.dialect.name == "sqlite":
        return utcnow()
    async with engine.connect() as conn:
        value = (await conn.execute(select(func.now(type_=UTCDateTime())))).scalar_one()
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


class MonotonicAge:
    """Ages of things, anchored once (from times on the database's clock) and then read off the
    monotonic clock, so a jump of this host's wall clock changes none of them."""

    def __init__(self, monotonic: Callable[[], float] = time.monotonic) -> None:
        self._monotonic = monotonic
        self._born: dict[object, float] = {}

    def known(self, key: object) -> bool:
        """Whether `key`'s age is anchored."""
        return key in self._born

    def anchor(self, key: object, age_seconds: float) -> None:
        """`key` is `age_seconds` old now."""
        self._born[key] = self._monotonic() - age_seconds

    def age(self, key: object) -> float:
        """Seconds since `key` was born (0 for an unknown key)."""
        born = self._born.get(key)
        return self._monotonic() - born if born is not None else 0.0

    def forget(self, key: object) -> None:
        """Drop `key`."""
        self._born.pop(key, None)
