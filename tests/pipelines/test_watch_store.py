"""The watch store on SQLite and PostgreSQL (claims decided by the unique key, digest windows
claimed once, removal) and the yt-dlp listing of playlists."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import timedelta

from fakes.feed_server import serve_feed
from pipelines.models import Depth, Source
from pipelines.runner import submit
from pipelines.store import RunStore
from pipelines.tables import utcnow
from pipelines.watch import claim_digests
from pipelines.watch_sources import FeedFetcher, list_playlist, list_source
from pipelines.watch_store import Entry, WatchStore
from settings import Settings


async def _add(watches: WatchStore, url: str = "https://example.com/feed.xml", digest: str = "none") -> int:
    watch = await watches.add(
        guild_id="1", channel_id="2", url=url, depth="quick", digest=digest, max_per_guild=10
    )
    return watch.id


async def test_racing_claims_split_the_entries_without_overlap(store_url: str) -> None:
    entries = [Entry(f"entry-{n}", f"https://example.com/{n}.mp3") for n in range(40)]
    async with await RunStore.open(store_url) as one, await RunStore.open(store_url) as two:
        watch_id = await _add(WatchStore(one.engine))
        now = utcnow()
        claims = [WatchStore(store.engine).claim(watch_id, entries, now=now) for store in (one, two) * 3]
        won = await asyncio.gather(*claims)
    keys = [key for batch in won for key in batch]
    assert sorted(keys) == sorted(entry.key for entry in entries)  # every entry once, whoever won it


async def test_a_removed_watch_takes_its_entries_and_claims_nothing(store: RunStore) -> None:
    watches = WatchStore(store.engine)
    watch_id = await _add(watches)
    entry = Entry("a", "https://example.com/a.mp3", "A")
    assert await watches.claim(watch_id, [entry], now=utcnow()) == ["a"]
    assert await watches.seen_keys(watch_id, ["a", "b"]) == {"a"}
    assert await watches.remove(watch_id, guild_id="other") is False
    assert await watches.remove(watch_id, guild_id="1") is True
    assert await watches.claim(watch_id, [entry], now=utcnow()) == []
    assert await watches.seen_keys(watch_id, ["a"]) == set()


async def test_a_daily_digest_window_is_claimed_once(store: RunStore) -> None:
    watches = WatchStore(store.engine)
    watch_id = await _add(watches, digest="daily")
    await _add(watches, url="https://example.com/per-upload.xml")
    source = Source(kind="url", location="https://example.com/a.mp3", key="https://example.com/a.mp3")
    run = await submit(store, source, Depth.QUICK, namespace="1")
    await watches.claim(watch_id, [Entry("a", source.location, "Episode A")], now=utcnow())
    await watches.submitted(watch_id, "a", run.id)
    await store.set_run_status(run.id, "succeeded")
    assert await claim_digests(watches, utcnow()) == []  # not a day old yet
    later = utcnow() + timedelta(days=1, minutes=1)
    first, second = await asyncio.gather(claim_digests(watches, later), claim_digests(watches, later))
    windows = first + second
    assert len(windows) == 1 and windows[0].watch.id == watch_id
    items = await watches.digest_items(watch_id, windows[0].start, windows[0].end)
    assert [(i.run_id, i.status, i.title) for i in items] == [(run.id, "succeeded", "Episode A")]
    assert await claim_digests(watches, later + timedelta(hours=1)) == []
    await watches.release_digest(windows[0].watch, later)  # posting failed: the window is owed again
    assert len(await claim_digests(watches, later + timedelta(hours=1))) == 1


async def test_playlists_are_listed_flat_by_yt_dlp(
    store: RunStore, make_settings: Callable[..., Settings]
) -> None:
    settings = make_settings(pipeline={"allow_private_urls": True}, watch={"max_entries": 3})
    with serve_feed() as feed:
        items = [feed.add(f"Episode {n}") for n in range(5)]
        entries = await asyncio.to_thread(list_playlist, feed.feed_url, settings)
        assert [e.key for e in entries] == ["episode-5", "episode-4", "episode-3"]
        assert entries[0].url == feed.media_url(items[-1]) and entries[0].title == "Episode 4"
        assert entries[0].published_at is not None
        watches = WatchStore(store.engine)
        watch_id = await _add(watches, url=feed.feed_url)
        now = utcnow()
        await watches.polled(watch_id, now=now, next_poll_at=now, kind="playlist")
        watch = await watches.get(watch_id)
        assert watch is not None
        fetcher = FeedFetcher(settings.evidence, allow_private=True)
        try:
            listing = await list_source(watch, fetcher, settings)
        finally:
            await fetcher.aclose()
        assert listing.kind == "playlist" and [e.key for e in listing.entries] == [e.key for e in entries]
    assert not any(path.startswith("/media/") for path, _ in feed.requests)  # nothing downloaded
