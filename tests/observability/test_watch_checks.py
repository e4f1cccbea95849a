"""The doctor's database check names the watches whose polls fail (SQLite and PostgreSQL)."""

from __future__ import annotations

from collections.abc import Callable

from observability.checks import Status, check_database
from pipelines.store import RunStore
from pipelines.tables import utcnow
from pipelines.watch_store import WatchStore
from settings import Settings


async def test_failing_watches_are_reported(make_settings: Callable[..., Settings], store_url: str) -> None:
    settings = make_settings(database={"url": store_url})
    async with await RunStore.open(store_url) as store:
        watches = WatchStore(store.engine)
        assert [r.label for r in await check_database(settings)] == ["database"]  # no watches: no line
        ok = await watches.add(
            guild_id="1", channel_id="2", url="https://example.com/a.xml", depth="quick", max_per_guild=5
        )
        [_, fine] = await check_database(settings)
        assert (fine.status, fine.details) == (Status.OK, "1 watches, every one polling fine")
        broken = await watches.add(
            guild_id="1", channel_id="2", url="https://example.com/b.xml", depth="quick", max_per_guild=5
        )
        now = utcnow()
        await watches.failed(broken.id, now=now, error="example.com answered HTTP 410", next_poll_at=now)
        await watches.failed(broken.id, now=now, error="example.com answered HTTP 410", next_poll_at=now)
    [database, warned] = await check_database(settings)
    assert database.status is Status.OK
    assert warned.status is Status.WARN and warned.label == "watches"
    assert f"1 of 2 watches failing: watch {broken.id} (https://example.com/b.xml): 2 failed polls" in (
        warned.details
    )
    assert "HTTP 410" in warned.details and f"watch {ok.id} " not in warned.details
    assert "autointel watch remove" in warned.fix
