"""Expiry is judged on the database's clock; ages within a process on the monotonic clock."""

from __future__ import annotations

from datetime import timedelta

import pytest

from pipelines import clock
from pipelines.clock import MonotonicAge, database_now
from pipelines.store import RunStore
from pipelines.tables import utcnow


async def test_the_database_clock_is_the_servers_not_this_process(
    store: RunStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(clock, "utcnow", lambda: utcnow() + timedelta(hours=1))  # our clock jumps
    now = await database_now(store.engine)
    assert now.tzinfo is not None
    if store.engine.dialect.name == "postgresql":  # the server's clock did not jump
        assert abs(now - utcnow()) < timedelta(minutes=10)
    else:  # SQLite is a file on this host: its clock is ours
        assert now - utcnow() > timedelta(minutes=50)


def test_monotonic_ages_ignore_the_wall_clock() -> None:
    ticks = iter([100.0, 107.5])
    ages = MonotonicAge(lambda: next(ticks))
    assert not ages.known("token")
    ages.anchor("token", 2.0)  # 2 s old at monotonic 100
    assert ages.known("token") and ages.age("token") == 9.5
    ages.forget("token")
    assert ages.age("token") == 0.0
