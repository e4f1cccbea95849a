"""Transient database errors are retried with backoff; every other error surfaces at once."""

from __future__ import annotations

import errno
import sqlite3

import pytest
from sqlalchemy.exc import IntegrityError, OperationalError

from pipelines import dbretry
from pipelines.dbretry import retrying, transient, with_retries
from pipelines.errors import out_of_space


def _wrapped(orig: BaseException, *, invalidated: bool = False) -> OperationalError:
    return OperationalError("SELECT 1", {}, orig, connection_invalidated=invalidated)


def test_what_counts_as_transient() -> None:
    assert transient(ConnectionRefusedError(errno.ECONNREFUSED, "refused"))
    assert transient(OSError("Multiple exceptions: [Errno 111] ..., [Errno 99] ..."))
    assert transient(_wrapped(Exception("gone"), invalidated=True))
    assert transient(_wrapped(sqlite3.OperationalError("database is locked")))
    starting = Exception("the database system is starting up")
    starting.sqlstate = "57P03"  # type: ignore[attr-defined]
    assert transient(_wrapped(starting))
    assert not transient(_wrapped(sqlite3.OperationalError("database or disk is full")))
    assert not transient(IntegrityError("INSERT", {}, Exception("duplicate key")))
    assert not transient(OSError(errno.ENOSPC, "No space left on device"))
    assert not transient(ValueError("bad"))


async def test_a_transient_failure_is_retried_until_it_succeeds(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(dbretry, "FIRST_DELAY", 0.01)
    calls = 0

    @retrying
    async def write() -> str:
        nonlocal calls
        calls += 1
        if calls < 4:
            raise ConnectionRefusedError(errno.ECONNREFUSED, "refused")
        return "written"

    assert await write() == "written" and calls == 4


async def test_other_errors_surface_at_once_and_an_outage_after_the_budget() -> None:
    calls = 0

    async def broken() -> None:
        nonlocal calls
        calls += 1
        raise IntegrityError("INSERT", {}, Exception("duplicate key"))

    with pytest.raises(IntegrityError):
        await with_retries(broken, "broken")
    assert calls == 1

    async def down() -> None:
        raise ConnectionResetError(errno.ECONNRESET, "reset")

    with pytest.raises(ConnectionResetError):
        await with_retries(down, "down", budget=0.0)


def test_a_full_disk_is_recognised_through_wrapping() -> None:
    try:
        try:
            raise OSError(errno.ENOSPC, "No space left on device")
        except OSError as exc:
            raise RuntimeError("unable to write data") from exc
    except RuntimeError as wrapped:
        assert out_of_space(wrapped)
    assert out_of_space(_wrapped(sqlite3.OperationalError("database or disk is full")))
    assert not out_of_space(ConnectionRefusedError(errno.ECONNREFUSED, "refused"))
