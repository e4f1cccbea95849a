"""Listing a watched source without downloading anything: RSS/Atom feeds and yt-dlp playlists.

Feeds are fetched by `FeedFetcher`, the evidence `Fetcher` (every hop's address checked,
connections guarded, body capped) with conditional requests: the stored ETag and
Last-Modified go out as If-None-Match / If-Modified-Since, and a 304 means unchanged (no
body, nothing parsed). feedparser reads the document; an entry's media is its first audio or
video enclosure, else its link. Channels and playlists are listed by yt-dlp's flat
extraction (`extract_info(url, download=False)` with `extract_flat`) inside `guarded()`, at
most WATCH_MAX_ENTRIES of them. A source's kind is learnt on its first poll: a document
feedparser recognises is a feed, anything else goes to yt-dlp.
"""

from __future__ import annotations

import asyncio
import calendar
import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urljoin, urlsplit

from evidence.fetch import Fetcher, FetchError, parse_target
from pipelines.errors import PipelineError, WatchListingError
from pipelines.netguard import check_host, guarded
from pipelines.watch_store import Entry, WatchRecord
from settings import Settings

FEED_ACCEPT = "application/rss+xml, application/atom+xml, application/xml;q=0.9, text/xml;q=0.9, */*;q=0.1"
MAX_KEY = 255
_YTDLP_HOSTS = ("youtube.com", "youtu.be", "vimeo.com", "dailymotion.com", "twitch.tv", "soundcloud.com")


@dataclass(frozen=True)
class Listing:
    """What one poll found: the entries newest first (none when `unchanged`) and the validators."""

    kind: str  # "feed" or "playlist"
    entries: list[Entry]
    unchanged: bool = False
    etag: str | None = None
    last_modified: str | None = None


def entry_key(identity: str) -> str:
    """A stable key of at most 255 characters (long identities are hashed)."""
    identity = identity.strip()
    if len(identity) <= MAX_KEY:
        return identity
    return "sha256:" + hashlib.sha256(identity.encode()).hexdigest()


def newest_first(entries: list[Entry]) -> list[Entry]:
    """Entries by publication time, newest first, when every one is dated; else as listed."""
    if entries and all(entry.published_at is not None for entry in entries):
        return sorted(entries, key=lambda entry: entry.published_at or datetime.min, reverse=True)
    return entries


# --- feeds -------------------------------------------------------------------------------------


class FeedFetcher(Fetcher):
    """The evidence fetcher, used for feed documents with conditional requests (no robots.txt:
    a feed is published to be polled)."""

    async def feed(self, url: str, etag: str | None, last_modified: str | None) -> tuple[bytes, Any] | None:
        """(body, response headers) of the feed, or None when the server says it is unchanged."""
        headers = {}
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        try:
            answer = await self._get(parse_target(url), FEED_ACCEPT, headers=headers)
        except FetchError as exc:
            if exc.status == 304:
                return None
            raise
        return answer.body, answer.headers


def _published(item: Any) -> datetime | None:
    for field in ("published_parsed", "updated_parsed"):
        parsed = item.get(field)
        if parsed:
            return datetime.fromtimestamp(calendar.timegm(parsed), UTC)
    return None


def _media_url(item: Any, base: str) -> str | None:
    """The entry's first audio/video enclosure, else any enclosure, else its link."""
    enclosures = [e for e in item.get("enclosures") or [] if e.get("href")]
    media = [e for e in enclosures if str(e.get("type", "")).startswith(("audio/", "video/"))]
    chosen = (media or enclosures or [None])[0]
    href = chosen.get("href") if chosen else item.get("link")
    return urljoin(base, str(href)) if href else None


def parse_feed(body: bytes, url: str) -> list[Entry] | None:
    """A feed's entries, newest first; None when the document is not an RSS/Atom feed (blocking)."""
    import feedparser

    parsed = feedparser.parse(body, response_headers={"content-location": url})
    if not parsed.get("version"):
        return None
    entries: list[Entry] = []
    for item in parsed.entries:
        media = _media_url(item, url)
        if media is None:
            continue
        identity = str(item.get("id") or media)
        title = item.get("title")
        entries.append(Entry(entry_key(identity), media, str(title) if title else None, _published(item)))
    return newest_first(entries)


async def _list_feed(watch: WatchRecord, fetcher: FeedFetcher, *, strict: bool) -> Listing | None:
    """The feed's listing; None when the URL is no feed (and `strict` is off: the kind is unknown)."""
    try:
        fetched = await fetcher.feed(watch.url, watch.etag, watch.last_modified)
    except FetchError as exc:
        if not strict and exc.kind in ("http", "too_large", "unsupported"):
            return None  # perhaps a page yt-dlp can list
        raise WatchListingError(exc.message) from exc
    if fetched is None:
        return Listing("feed", [], unchanged=True, etag=watch.etag, last_modified=watch.last_modified)
    body, headers = fetched
    entries = await asyncio.to_thread(parse_feed, body, watch.url)
    if entries is None:
        if strict:
            raise WatchListingError(f"{watch.url} no longer serves an RSS or Atom feed")
        return None
    return Listing("feed", entries, etag=headers.get("etag"), last_modified=headers.get("last-modified"))


# --- channels and playlists (yt-dlp) -----------------------------------------------------------


def _flat_entry(raw: dict[str, Any]) -> Entry | None:
    """An Entry from a flat-extracted playlist item (None without a usable URL)."""
    from yt_dlp.utils import unsmuggle_url

    url, smuggled = unsmuggle_url(str(raw.get("url") or raw.get("webpage_url") or ""), {})
    if not url.startswith(("http://", "https://")):
        video_id = raw.get("id")
        if raw.get("ie_key") == "Youtube" and video_id:
            url = f"https://www.youtube.com/watch?v={video_id}"
        else:
            return None
    extractor = raw.get("ie_key") or ""
    video_id = (smuggled or {}).get("force_videoid") or raw.get("id")
    identity = (f"{extractor}:{video_id}" if extractor else str(video_id)) if video_id else url
    stamp = raw.get("timestamp") or raw.get("release_timestamp")
    published = datetime.fromtimestamp(float(stamp), UTC) if isinstance(stamp, int | float) else None
    if published is None and isinstance(raw.get("upload_date"), str) and len(raw["upload_date"]) == 8:
        published = datetime.strptime(raw["upload_date"], "%Y%m%d").replace(tzinfo=UTC)
    title = raw.get("title")
    return Entry(entry_key(identity), url, str(title) if title else None, published)


def list_playlist(url: str, settings: Settings) -> list[Entry]:
    """The newest entries of a channel or playlist by yt-dlp flat extraction (blocking).

    Raises the acquisition stage's `PipelineError`s (blocked address, unsupported site, …).
    """
    import yt_dlp
    from yt_dlp.utils import YoutubeDLError

    from pipelines.acquire import YtdlpLogger, map_ytdlp_error

    limits = settings.pipeline
    logger = YtdlpLogger()
    options = {
        "extract_flat": "in_playlist",
        "playlistend": settings.watch.max_entries,
        "skip_download": True,
        "socket_timeout": limits.socket_timeout_seconds,
        "logger": logger,
        "quiet": True,
        "noprogress": True,
        "ignoreconfig": True,
        "enable_file_urls": False,
        "cachedir": False,
        "cookiefile": None,
        "usenetrc": False,
    }
    host = urlsplit(url).hostname or ""
    with guarded(limits.allow_private_urls) as guard:
        try:
            with yt_dlp.YoutubeDL(options) as ydl:
                info = ydl.extract_info(url, download=False)
        except YoutubeDLError as exc:
            raise map_ytdlp_error(exc, guard, logger, limits, host) from exc
    if not info or info.get("_type") not in ("playlist", "multi_video"):
        raise WatchListingError(f"{url} is not a channel, playlist or feed (it holds one item)")
    entries = [_flat_entry(dict(raw)) for raw in info.get("entries") or [] if raw]
    return newest_first([entry for entry in entries if entry is not None][: settings.watch.max_entries])


async def _list_playlist(watch: WatchRecord, settings: Settings) -> Listing:
    parts = urlsplit(watch.url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    await check_host(parts.hostname or "", port, settings.pipeline.allow_private_urls)
    return Listing("playlist", await asyncio.to_thread(list_playlist, watch.url, settings))


def _known_video_site(url: str) -> bool:
    host = (urlsplit(url).hostname or "").lower()
    return any(host == site or host.endswith("." + site) for site in _YTDLP_HOSTS)


async def list_source(watch: WatchRecord, fetcher: FeedFetcher, settings: Settings) -> Listing:
    """List a watched source (learning its kind on the first poll); `PipelineError` on failure."""
    try:
        if watch.kind == "feed":
            listing = await _list_feed(watch, fetcher, strict=True)
            assert listing is not None
            return listing
        if watch.kind is None and not _known_video_site(watch.url):
            listing = await _list_feed(watch, fetcher, strict=False)
            if listing is not None:
                return listing
        return await _list_playlist(watch, settings)
    except PipelineError:
        raise
    except (OSError, ValueError) as exc:
        raise WatchListingError(f"could not list {watch.url}: {exc}") from exc
