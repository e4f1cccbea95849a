"""Watch polling against a real feed server on 127.0.0.1 and the real run store (SQLite and
PostgreSQL): only new entries become runs, each once even with two pollers racing; conditional
requests; back catalogue and backfill; errors back off; limits hold; the SSRF guard applies."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import datetime, timedelta

import pytest

from fakes.feed_server import FeedServer, serve_feed
from observability.metrics import WATCH_ENTRIES, WATCH_POLLS, WATCH_RUNS
from pipelines.errors import WatchExistsError, WatchLimitError, WatchListingError
from pipelines.models import Depth, Source
from pipelines.runner import submit
from pipelines.store import RunStore
from pipelines.tables import utcnow
from pipelines.watch import WatchPoller, add_watch, backoff, new_entries
from pipelines.watch_store import Entry, WatchRecord, WatchStore
from settings import Settings

GUILD, CHANNEL = "4242", "77"


@pytest.fixture
def feed() -> Iterator[FeedServer]:
    """The local feed server."""
    with serve_feed() as server:
        yield server


@pytest.fixture
def settings(make_settings: Callable[..., Settings]) -> Settings:
    """Private addresses allowed (the feed is on loopback); 10-minute interval, no daily limit to speak of."""
    return make_settings(
        pipeline={"allow_private_urls": True}, watch={"interval_minutes": 10, "max_runs_per_day": 1000}
    )


class Clock:
    """A clock the test moves forward."""

    def __init__(self) -> None:
        self.now = utcnow()

    def __call__(self) -> datetime:
        return self.now

    def advance(self, minutes: float) -> None:
        self.now += timedelta(minutes=minutes)


class Runs:
    """A `Submit` that records a real run per call (as the bot's run service does)."""

    def __init__(self, store: RunStore) -> None:
        self.store = store
        self.sources: list[tuple[int, str]] = []

    async def __call__(self, watch: WatchRecord, source: Source) -> str:
        run = await submit(
            self.store, source, Depth(watch.depth), requester=f"watch:{watch.id}", namespace=watch.guild_id
        )
        self.sources.append((watch.id, source.key))
        return run.id

    def paths(self) -> list[str]:
        return [key.rsplit("/", 1)[1] for _, key in self.sources]


async def _watch(store: RunStore, settings: Settings, url: str, **options: object) -> WatchRecord:
    return await add_watch(
        WatchStore(store.engine),
        settings,
        url=url,
        guild_id=GUILD,
        channel_id=CHANNEL,
        depth=Depth.QUICK,
        **options,  # type: ignore[arg-type]
    )


def _count(metric: object) -> float:
    return float(metric._value.get())  # type: ignore[attr-defined]


async def test_only_new_entries_run_once_and_unchanged_feeds_answer_304(
    store: RunStore, settings: Settings, feed: FeedServer
) -> None:
    feed.add_old(3)
    watch = await _watch(store, settings, feed.feed_url)
    runs, clock = Runs(store), Clock()
    watches = WatchStore(store.engine)
    unchanged_before = _count(WATCH_POLLS.labels(outcome="unchanged"))
    entries_before, quick_before = _count(WATCH_ENTRIES), _count(WATCH_RUNS.labels(depth="quick"))
    async with WatchPoller(settings, watches, runs, clock=clock) as poller:
        first = await poller.poll_due()
        assert (first.polled, first.runs) == (1, [])  # the back catalogue is not analysed
        clock.advance(5)
        assert (await poller.poll_due()).polled == 0  # not due yet
        new = feed.add("Fresh episode")
        clock.advance(5)
        second = await poller.poll_due()
        assert runs.paths() == [new.path.rsplit("/", 1)[1]] and len(second.runs) == 1
        clock.advance(10)
        third = await poller.poll_due()
        assert (third.polled, third.unchanged, third.runs) == (1, 1, [])
    assert feed.not_modified == 1
    conditional = feed.feed_requests()[-1][1]
    assert conditional.get("If-None-Match", "").startswith('"')
    stored = await watches.get(watch.id)
    assert stored is not None and stored.kind == "feed" and stored.error_count == 0
    assert stored.next_poll_at == clock.now + timedelta(minutes=10)
    run = await store.get_run(second.runs[0])
    assert (run.namespace, run.requester, run.depth) == (GUILD, f"watch:{watch.id}", Depth.QUICK)
    assert _count(WATCH_POLLS.labels(outcome="unchanged")) == unchanged_before + 1
    assert _count(WATCH_ENTRIES) == entries_before + 1
    assert _count(WATCH_RUNS.labels(depth="quick")) == quick_before + 1


async def test_backfill_takes_the_newest_entries_oldest_first(
    store: RunStore, settings: Settings, feed: FeedServer
) -> None:
    feed.add_old(5)
    await _watch(store, settings, feed.atom_url, backfill=2)
    runs = Runs(store)
    async with WatchPoller(settings, WatchStore(store.engine), runs) as poller:
        await poller.poll_due()
    assert runs.paths() == ["episode-4.ogg", "episode-5.ogg"]


async def test_two_pollers_racing_submit_every_entry_exactly_once(
    store_url: str, settings: Settings, feed: FeedServer
) -> None:
    feed.add_old(2)
    async with await RunStore.open(store_url) as one, await RunStore.open(store_url) as two:
        await _watch(one, settings, feed.feed_url)
        runs_one, runs_two, clock = Runs(one), Runs(two), Clock()
        async with (
            WatchPoller(settings, WatchStore(one.engine), runs_one, clock=clock) as first,
            WatchPoller(settings, WatchStore(two.engine), runs_two, clock=clock) as second,
        ):
            await first.poll_due()
            for round_ in range(8):
                for n in range(3):
                    feed.add(f"Episode {round_}.{n}")
                clock.advance(10)
                await asyncio.gather(first.poll_due(), second.poll_due())
    submitted = runs_one.paths() + runs_two.paths()
    assert len(submitted) == 24 and len(set(submitted)) == 24
    assert len(feed.feed_requests()) == 1 + 2 * 8  # both pollers listed every round


async def test_a_failing_feed_backs_off_exponentially_then_recovers(
    store: RunStore, make_settings: Callable[..., Settings], feed: FeedServer
) -> None:
    settings = make_settings(
        pipeline={"allow_private_urls": True}, watch={"interval_minutes": 10, "max_backoff_minutes": 35}
    )
    watch = await _watch(store, settings, feed.feed_url)
    watches, clock = WatchStore(store.engine), Clock()
    failed_before = _count(WATCH_POLLS.labels(outcome="failed"))
    feed.fail_with = 503
    waits = []
    async with WatchPoller(settings, watches, Runs(store), clock=clock) as poller:
        for _ in range(3):
            assert (await poller.poll_due()).failed == 1
            stored = await watches.get(watch.id)
            assert stored is not None
            waits.append(stored.next_poll_at - clock.now)
            asked = len(feed.feed_requests())
            clock.advance(waits[-1].total_seconds() / 60 - 1)
            assert (await poller.poll_due()).polled == 0 and len(feed.feed_requests()) == asked
            clock.advance(1)
        assert stored is not None and stored.error_count == 3 and "503" in (stored.last_error or "")
        feed.fail_with = None
        assert (await poller.poll_due()).failed == 0
    assert waits == [timedelta(minutes=20), timedelta(minutes=35), timedelta(minutes=35)]
    recovered = await watches.get(watch.id)
    assert recovered is not None and (recovered.error_count, recovered.last_error) == (0, None)
    assert _count(WATCH_POLLS.labels(outcome="failed")) == failed_before + 3
    assert backoff(settings, 1) == timedelta(minutes=20)


async def test_the_daily_limit_holds_entries_until_the_window_frees(
    store: RunStore, make_settings: Callable[..., Settings], feed: FeedServer
) -> None:
    settings = make_settings(pipeline={"allow_private_urls": True}, watch={"max_runs_per_day": 2})
    watch = await _watch(store, settings, feed.feed_url)
    watches, runs, clock = WatchStore(store.engine), Runs(store), Clock()
    async with WatchPoller(settings, watches, runs, clock=clock) as poller:
        await poller.poll_due()
        for n in range(3):
            feed.add(f"Episode {n}")
        clock.advance(20)
        await poller.poll_due()
        assert runs.paths() == ["episode-1.ogg", "episode-2.ogg"]
        held = await watches.get(watch.id)
        assert held is not None and held.error_count == 0 and held.etag is None
        assert "daily limit of 2 watch runs reached; 1 new entries wait" == held.last_error
        clock.advance(24 * 60 + 1)
        await poller.poll_due()
    assert runs.paths() == ["episode-1.ogg", "episode-2.ogg", "episode-3.ogg"]


async def test_limits_and_bad_links_are_refused(
    store: RunStore, make_settings: Callable[..., Settings]
) -> None:
    settings = make_settings(watch={"max_per_guild": 1, "max_runs_per_day": 5})
    await _watch(store, settings, "https://example.com/feed.xml")
    with pytest.raises(WatchExistsError, match="already watches"):
        await _watch(store, make_settings(), "https://EXAMPLE.com/feed.xml")
    with pytest.raises(WatchLimitError, match=r"already has 1 watches \(limit 1\)"):
        await _watch(store, settings, "https://example.com/other.xml")
    with pytest.raises(WatchLimitError, match="backfill can take 0 to 5"):
        await _watch(store, settings, "https://example.com/third.xml", backfill=6)
    with pytest.raises(WatchListingError, match="one video"):
        await _watch(store, settings, "https://youtu.be/dQw4w9WgXcQ")


async def test_a_private_address_is_refused_at_poll_time(
    store: RunStore, make_settings: Callable[..., Settings], feed: FeedServer
) -> None:
    strict = make_settings()
    watch = await _watch(store, strict, feed.feed_url)
    watches = WatchStore(store.engine)
    async with WatchPoller(strict, watches, Runs(store)) as poller:
        assert (await poller.poll_due()).failed == 1
    stored = await watches.get(watch.id)
    assert stored is not None and "not a public address" in (stored.last_error or "")
    assert feed.requests == []  # refused before connecting


async def test_an_orphaned_claim_is_submitted_once(
    store: RunStore, settings: Settings, feed: FeedServer
) -> None:
    watch = await _watch(store, settings, feed.feed_url)
    watches, runs, clock = WatchStore(store.engine), Runs(store), Clock()
    async with WatchPoller(settings, watches, runs, clock=clock) as poller:
        await poller.poll_due()
        item = feed.add("Claimed by a poller that died")
        await watches.claim(watch.id, [Entry(item.guid, feed.media_url(item))], now=clock.now)
        clock.advance(10)
        await poller.poll_due()
        assert runs.sources == []  # claimed (by the dead poller), not yet stale
        clock.advance(10)
        await poller.poll_due()
        clock.advance(10)
        await poller.poll_due()
    assert runs.paths() == [item.path.rsplit("/", 1)[1]]


def _record(**changes: object) -> WatchRecord:
    now = utcnow()
    base = WatchRecord(
        id=1,
        guild_id=GUILD,
        channel_id=CHANNEL,
        url="https://example.com/feed.xml",
        kind="feed",
        depth="quick",
        digest="none",
        backfill=0,
        created_by=None,
        created_at=now,
        baselined_at=None,
        next_poll_at=now,
        last_polled_at=None,
        etag=None,
        last_modified=None,
        error_count=0,
        last_error=None,
        digest_through=None,
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def test_which_entries_are_new() -> None:
    created = utcnow()
    old, new = created - timedelta(days=3), created + timedelta(minutes=5)
    listing = [
        Entry("n", "https://example.com/n.mp3", published_at=new),
        Entry("u", "https://example.com/u.mp3"),  # undated
        Entry("n", "https://example.com/n-again.mp3", published_at=new),  # listed twice
        Entry("o1", "https://example.com/o1.mp3", published_at=old),
        Entry("o2", "https://example.com/o2.mp3", published_at=old - timedelta(days=1)),
    ]
    first, catalogue = new_entries(_record(created_at=created), listing)
    assert [e.key for e in first] == ["n"] and [e.key for e in catalogue] == ["u", "o1", "o2"]
    assert first[0].url == "https://example.com/n.mp3"
    backfilled, rest = new_entries(_record(created_at=created, backfill=2), listing)
    assert [e.key for e in backfilled] == ["n", "u"] and [e.key for e in rest] == ["o1", "o2"]
    later, none = new_entries(_record(created_at=created, baselined_at=created), listing)
    assert [e.key for e in later] == ["n", "u"] and none == []  # undated: new once baselined
    same_second = Entry("s", "https://example.com/s.mp3", published_at=created.replace(microsecond=0))
    assert [e.key for e in new_entries(_record(created_at=created), [same_second])[0]] == ["s"]
