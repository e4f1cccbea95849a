"""Riding out a database restart: store calls retried with backoff while the database is unreachable.

A PostgreSQL restart, failover or dropped connection makes every query fail for a few
seconds. A stage that has just computed its result must not lose it to that (the run would
compute the stage again), and a heartbeat or a delivery must not die of it. `retrying`
decorates the run store's, the delivery records' and the leases' async methods: a call that
fails with a *transient* error (the connection was refused, reset or closed; the server is
starting up or shutting down; too many connections; a locked SQLite file) is retried with
exponential backoff (0.1 s doubling to 5 s) for up to `RETRY_SECONDS`, then the error
surfaces. Every other error (a constraint, bad SQL, a full disk) surfaces at once.

A write whose connection dropped while it committed may run twice: the stores' writes set
values or are conditional (claims, leases), so a repeat changes nothing a user sees; at worst
an attempt counter counts one attempt too many.
"""

from __future__ import annotations

import asyncio
import errno
import functools
import logging
import time
from collections.abc import Awaitable, Callable
from typing import ParamSpec, TypeVar

from sqlalchemy.exc import DBAPIError

log = logging.getLogger(__name__)

P = ParamSpec("P")
T = TypeVar("T")

RETRY_SECONDS = 60.0  # a restart or failover takes seconds; past a minute the outage is real
FIRST_DELAY = 0.1
MAX_DELAY = 5.0
# SQLSTATE classes of a connection that is down, not of a statement that is wrong:
# 08 connection exception, 57P01-03 admin/crash shutdown and "starting up", 53300 too many connections.
_TRANSIENT_STATES = ("08", "57P01", "57P02", "57P03", "53300")
_NETWORK_ERRNOS = frozenset(
    {
        errno.ECONNREFUSED,
        errno.ECONNRESET,
        errno.ECONNABORTED,
        errno.EHOSTUNREACH,
        errno.ENETUNREACH,
        errno.ETIMEDOUT,
        errno.EPIPE,
    }
)


def _network(exc: BaseException | None) -> bool:
    if isinstance(exc, ConnectionError | TimeoutError):
        return True
    if isinstance(exc, OSError):
        # asyncio reports failed connects to several addresses as one OSError without errno
        return exc.errno in _NETWORK_ERRNOS or str(exc).startswith("Multiple exceptions")
    return False


def transient(exc: BaseException) -> bool:
    """Whether `exc` says the database is unreachable for now (worth retrying)."""
    if isinstance(exc, DBAPIError):
        if exc.connection_invalidated:
            return True
        orig = exc.orig
        state = str(getattr(orig, "sqlstate", None) or "")
        if state.startswith(_TRANSIENT_STATES):
            return True
        cause = getattr(orig, "__cause__", None)
        if _network(cause) or "connection is closed" in str(orig) or "connection was closed" in str(orig):
            return True
        return "database is locked" in str(orig)  # SQLite: another writer outlasted busy_timeout
    return _network(exc)


async def with_retries(call: Callable[[], Awaitable[T]], what: str, budget: float = RETRY_SECONDS) -> T:
    """`await call()`, retried on transient database errors for up to `budget` seconds."""
    deadline = time.monotonic() + budget
    delay = FIRST_DELAY
    failures = 0
    while True:
        try:
            result = await call()
        except Exception as exc:
            if not transient(exc) or time.monotonic() + delay > deadline:
                raise
            failures += 1
            if failures == 1 or failures % 10 == 0:
                log.warning("%s: the database is unreachable (%s); retrying", what, _brief(exc))
            await asyncio.sleep(delay)
            delay = min(delay * 2, MAX_DELAY)
            continue
        if failures:
            log.info("%s: the database answered again after %d retries", what, failures)
        return result


def retrying(method: Callable[P, Awaitable[T]]) -> Callable[P, Awaitable[T]]:
    """Decorate an async store method so that transient database errors are retried."""

    @functools.wraps(method)
    async def wrapper(*args: P.args, **kwargs: P.kwargs) -> T:
        return await with_retries(lambda: method(*args, **kwargs), method.__qualname__)

    return wrapper


def _brief(exc: BaseException) -> str:
    text = str(getattr(exc, "orig", None) or exc).splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}"[:200]
