"""The doctor's watchlist check: watches whose polls fail, read on the database check's connection.

Reads only (plain SQL, so the doctor needs no pipeline code): nothing when the store has no
watches table or no watches, one ok line when every watch polls fine, else one warning naming
the failing watches (at most five), their error counts and last errors.
"""

from __future__ import annotations

from sqlalchemy import inspect, text
from sqlalchemy.ext.asyncio import AsyncConnection

from observability.checks import CheckResult, Status

SHOWN = 5
FIX = (
    "check that each URL still serves a channel, playlist or feed (autointel watch list; /watch list); "
    "remove a dead one with autointel watch remove ID — failing watches retry with growing pauses"
)


async def check_watches(conn: AsyncConnection) -> list[CheckResult]:
    """Watches in error on this connection to the run store."""
    if not await conn.run_sync(lambda sync: inspect(sync).has_table("watches")):
        return []
    total = int((await conn.execute(text("SELECT count(*) FROM watches"))).scalar_one())
    if not total:
        return []
    failing = (
        await conn.execute(
            text("SELECT id, url, error_count, last_error FROM watches WHERE error_count > 0 ORDER BY id")
        )
    ).all()
    if not failing:
        return [CheckResult(Status.OK, "watches", f"{total} watches, every one polling fine")]
    named = "; ".join(
        f"watch {row.id} ({row.url}): {row.error_count} failed polls, last: {(row.last_error or '?')[:160]}"
        for row in failing[:SHOWN]
    )
    more = f"; and {len(failing) - SHOWN} more" if len(failing) > SHOWN else ""
    details = f"{len(failing)} of {total} watches failing: {named}{more}"
    return [CheckResult(Status.WARN, "watches", details, FIX)]
