"""Watchlists: poll watched channels, playlists and feeds, and submit one run per new upload.

Beside the queue: the bot's loop (embedded mode) or an arq cron job (`autointel worker`)
calls `WatchPoller.poll_due()` every tick; each watch whose `next_poll_at` has come is listed
without downloading (pipelines.watch_sources) and its new entries are claimed and submitted:

- *new* = not seen before by this watch AND published after the watch was created. Undated
  entries count as new once the watch has a baseline (its first successful listing, whose
  other entries become back catalogue). `backfill` takes the newest n on the first listing.
- *exactly once*: an entry is claimed by inserting its row (UNIQUE (watch_id, entry_key)),
  and only the poller whose insert wins submits its run (`submit`, given by the entry point:
  the bot's run service, which also registers the watch's channel for delivery). A claim left
  by a poller that died before submitting is taken over after `ORPHAN_AFTER`.
- *limits*: at most WATCH_MAX_RUNS_PER_DAY runs per guild in 24 h; entries over the limit
  stay unclaimed (picked up once the window frees) and the watch shows a note.
- *errors* back off per watch: the next poll waits interval × 2^errors, at most
  WATCH_MAX_BACKOFF_MINUTES; the error is kept for `/watch list` and `autointel doctor`.

Metrics: WATCH_POLLS{outcome=ok|unchanged|failed}, WATCH_ENTRIES, WATCH_RUNS{depth}.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from types import TracebackType

from observability.metrics import WATCH_ENTRIES, WATCH_POLLS, WATCH_RUNS
from pipelines.errors import PipelineError, WatchLimitError, WatchListingError
from pipelines.models import Depth, Source
from pipelines.sources import normalise_source
from pipelines.tables import utcnow
from pipelines.watch_sources import FeedFetcher, Listing, list_source
from pipelines.watch_store import Entry, WatchRecord, WatchStore
from settings import Settings

log = logging.getLogger(__name__)

Submit = Callable[[WatchRecord, Source], Awaitable[str]]  # submits and queues a run; its id
Clock = Callable[[], datetime]
DAY = timedelta(days=1)
ORPHAN_AFTER = timedelta(minutes=10)
DIGESTS = ("none", "daily")
POLL_CONCURRENCY = 8


@dataclass
class PollSummary:
    """What one round of polling did."""

    polled: int = 0
    unchanged: int = 0
    failed: int = 0
    runs: list[str] = field(default_factory=list)


def watch_source(url: str) -> Source:
    """The canonical form of a URL to watch (same rules as /autointel); a single video is refused."""
    source = normalise_source(url, allow_files=False)
    if source.location.startswith("https://www.youtube.com/watch?v="):
        raise WatchListingError("that link is one video: watch a channel, a playlist or a feed")
    return source


async def add_watch(
    watches: WatchStore,
    settings: Settings,
    *,
    url: str,
    guild_id: str,
    channel_id: str,
    depth: Depth,
    digest: str = "none",
    backfill: int = 0,
    created_by: str | None = None,
) -> WatchRecord:
    """Validate and record a watch (first polled at the next tick); refusals are `WatchError`s.

    The caller checks the host against the SSRF policy (every poll checks again).
    """
    source = watch_source(url)
    if digest not in DIGESTS:  # the command's choices and the CLI's argparse keep members from this
        raise ValueError(f"digest must be one of {', '.join(DIGESTS)}")
    limit = settings.watch.max_runs_per_day
    if not 0 <= backfill <= limit:
        raise WatchLimitError(f"backfill can take 0 to {limit} entries (the daily limit of watch runs)")
    return await watches.add(
        guild_id=guild_id,
        channel_id=channel_id,
        url=source.location,
        depth=depth.value,
        digest=digest,
        backfill=backfill,
        created_by=created_by,
        max_per_guild=settings.watch.max_per_guild,
    )


def backoff(settings: Settings, errors: int) -> timedelta:
    """How long a watch waits after its `errors`-th failure in a row."""
    minutes = settings.watch.interval_minutes * 2 ** min(errors, 30)
    return timedelta(minutes=min(minutes, settings.watch.max_backoff_minutes))


def new_entries(watch: WatchRecord, entries: list[Entry]) -> tuple[list[Entry], list[Entry]]:
    """(candidates to run, back catalogue to record) of a listing ordered newest first."""
    firsts: dict[str, Entry] = {}
    for entry in entries:  # a key listed twice is one entry
        firsts.setdefault(entry.key, entry)
    entries = list(firsts.values())
    since = watch.created_at.replace(microsecond=0)  # feeds date entries to the second
    wanted = {e.key for e in entries if e.published_at is not None and e.published_at >= since}
    if watch.baselined_at is not None:
        wanted |= {e.key for e in entries if e.published_at is None}
        return [e for e in entries if e.key in wanted], []
    wanted |= {e.key for e in entries[: watch.backfill]}
    return [e for e in entries if e.key in wanted], [e for e in entries if e.key not in wanted]


class WatchPoller:
    """Lists due watches and submits their new entries (one HTTP client per poller)."""

    def __init__(
        self, settings: Settings, watches: WatchStore, submit: Submit, *, clock: Clock = utcnow
    ) -> None:
        self.settings = settings
        self.watches = watches
        self.submit = submit
        self.clock = clock
        self.fetcher = FeedFetcher(settings.evidence, allow_private=settings.pipeline.allow_private_urls)

    async def __aenter__(self) -> WatchPoller:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.fetcher.aclose()

    async def poll_due(self) -> PollSummary:
        """One round: every watch whose poll time has come (and orphaned claims) once."""
        now = self.clock()
        summary = PollSummary()
        due = await self.watches.due(now)
        orphaned = await self.watches.with_orphans(now - ORPHAN_AFTER)
        slots = asyncio.Semaphore(POLL_CONCURRENCY)
        unchanged: list[int] = []

        async def one(watch: WatchRecord) -> None:
            async with slots:
                outcome = await self.poll(watch, now, summary, orphans=watch.id in orphaned)
            if outcome == "unchanged":
                unchanged.append(watch.id)

        await asyncio.gather(*(one(watch) for watch in due))
        interval = timedelta(minutes=self.settings.watch.interval_minutes)
        await self.watches.polled_unchanged(unchanged, now=now, next_poll_at=now + interval)
        summary.polled, summary.unchanged = len(due), len(unchanged)
        return summary

    async def poll(self, watch: WatchRecord, now: datetime, summary: PollSummary, *, orphans: bool) -> str:
        """Poll one watch: "ok", "unchanged" (recorded by the caller) or "failed".

        `orphans`: first submit the entries whose claimer died before submitting them.
        """
        try:
            if orphans:
                stale = now - ORPHAN_AFTER
                for entry in await self.watches.take_orphans(watch.id, stale_before=stale, now=now):
                    await self._submit(watch, entry, summary)
            listing = await list_source(watch, self.fetcher, self.settings)
            if listing.unchanged:
                WATCH_POLLS.labels(outcome="unchanged").inc()
                return "unchanged"
            note = await self._take(watch, listing, now, summary)
        except PipelineError as exc:
            return await self._failed(watch, now, exc.message, summary)
        except Exception as exc:  # the poller's boundary: one watch's bug must not stop the others
            log.exception("watch %s: poll failed", watch.id)
            reason = f"internal error while polling ({type(exc).__name__}); details are in the logs"
            return await self._failed(watch, now, reason, summary)
        interval = timedelta(minutes=self.settings.watch.interval_minutes)
        await self.watches.polled(
            watch.id,
            now=now,
            next_poll_at=now + interval,
            kind=listing.kind,
            # Entries held back by the daily limit must be listed again: no conditional request then.
            etag=None if note else listing.etag,
            last_modified=None if note else listing.last_modified,
            baselined_at=watch.baselined_at or now,
            last_error=note,
        )
        WATCH_POLLS.labels(outcome="ok").inc()
        return "ok"

    async def _failed(self, watch: WatchRecord, now: datetime, error: str, summary: PollSummary) -> str:
        log.info("watch %s (%s): %s", watch.id, watch.url, error)
        wait = backoff(self.settings, watch.error_count + 1)
        await self.watches.failed(watch.id, now=now, error=error, next_poll_at=now + wait)
        WATCH_POLLS.labels(outcome="failed").inc()
        summary.failed += 1
        return "failed"

    async def _take(
        self, watch: WatchRecord, listing: Listing, now: datetime, summary: PollSummary
    ) -> str | None:
        """Claim and submit the listing's new entries (oldest first); a note when the limit held some."""
        candidates, catalogue = new_entries(watch, listing.entries)
        await self.watches.claim(watch.id, catalogue, now=now, state="old")
        seen = await self.watches.seen_keys(watch.id, [entry.key for entry in candidates])
        fresh = [entry for entry in reversed(candidates) if entry.key not in seen]
        limit = self.settings.watch.max_runs_per_day
        room = max(0, limit - await self.watches.runs_since(watch.guild_id, now - DAY))
        won = set(await self.watches.claim(watch.id, fresh[:room], now=now))
        for entry in fresh[:room]:
            if entry.key in won:
                await self._submit(watch, entry, summary)
        if len(fresh) > room:
            return f"daily limit of {limit} watch runs reached; {len(fresh) - room} new entries wait"
        return None

    async def _submit(self, watch: WatchRecord, entry: Entry, summary: PollSummary) -> None:
        """Submit the run of a claimed entry (an unusable link is skipped with the reason)."""
        WATCH_ENTRIES.inc()
        try:
            source = normalise_source(entry.url, allow_files=False)
        except PipelineError as exc:
            await self.watches.skipped(watch.id, entry.key, exc.message)
            return
        run_id = await self.submit(watch, source)
        await self.watches.submitted(watch.id, entry.key, run_id)
        WATCH_RUNS.labels(depth=Depth(watch.depth).value).inc()
        summary.runs.append(run_id)
        log.info("watch %s: new entry %s → run %s", watch.id, entry.url, run_id)


@dataclass(frozen=True)
class DigestWindow:
    """A claimed daily digest: the watch and the window of finished runs it covers."""

    watch: WatchRecord
    start: datetime
    end: datetime


async def claim_digests(watches: WatchStore, now: datetime) -> list[DigestWindow]:
    """The daily digests due now (a day since the last one, or since the watch was created),
    each claimed by this caller alone."""
    claimed: list[DigestWindow] = []
    for watch in await watches.watches():
        start = watch.digest_through or watch.created_at
        if watch.digest != "daily" or now - start < DAY:
            continue
        if await watches.claim_digest(watch, now):
            claimed.append(DigestWindow(watch, start, now))
    return claimed
