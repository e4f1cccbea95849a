"""The acquisition stage: turn a `Source` into local audio (or subtitles) plus what is known.

Local files are probed in place. URLs are checked against the SSRF policy (`check_host`), then
fetched with yt-dlp's Python API inside `guarded()` so that redirects to non-public addresses
are refused at connect time. Limits (duration, size) are checked on the extracted info before
downloading, enforced during the download (progress hook, for responses without a
Content-Length) and checked again on the file. Human-made subtitles in the configured
language are fetched instead of audio when available. Every failure is a `PipelineError`
raised `from` its cause.
"""

from __future__ import annotations

import asyncio
import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yt_dlp
from pydantic import BaseModel
from yt_dlp.networking.exceptions import HTTPError, TransportError
from yt_dlp.utils import ExtractorError, UnsupportedError, YoutubeDLError

from pipelines.errors import (
    BlockedAddressError,
    EmptySourceError,
    HTTPStatusError,
    MediaUnavailableError,
    NotMediaError,
    PipelineError,
    TooLargeError,
    TooLongError,
    UnreachableHostError,
    UnsupportedSiteError,
    exception_chain,
)
from pipelines.models import Media, RunRequest
from pipelines.netguard import ConnectBlocked, GuardState, blocked_message, check_host, guarded
from pipelines.probe import check_duration, probe_audio, subtitles_duration
from pipelines.stage import StageDeps
from settings import PipelineSettings

log = logging.getLogger(__name__)

MEDIA_STEM = "media"
# Protocols yt-dlp downloads in Python (inside the connect guard), not with external tools.
_SAFE_PROTOCOLS = frozenset(
    {"http", "https", "m3u8", "m3u8_native", "http_dash_segments", "http_dash_segments_generator"}
)


class AcquireInputs(BaseModel):
    """Input of `acquire`: the user's request."""

    request: RunRequest


class _SizeLimitExceeded(Exception):
    """Raised from the progress hook to abort a download that passed the size limit."""

    def __init__(self, downloaded: int) -> None:
        super().__init__(f"downloaded {downloaded} bytes")
        self.downloaded = downloaded


class YtdlpLogger:
    """Routes yt-dlp's messages to `logging` and notices its silent max-filesize skip."""

    def __init__(self) -> None:
        self.skipped_too_large = False
        self._log = logging.getLogger("yt_dlp")

    def debug(self, message: str) -> None:
        if "larger than max-filesize" in message:
            self.skipped_too_large = True
        self._log.debug(message)

    def info(self, message: str) -> None:
        self._log.info(message)

    def warning(self, message: str) -> None:
        self._log.warning(message)

    def error(self, message: str) -> None:
        # The failure is raised (mapped) to the caller, which reports it; this is context only.
        self._log.warning(message)


@dataclass
class _Fetched:
    """What the worker thread fetched: one file and yt-dlp's info about it."""

    path: Path
    info: dict[str, Any]
    subtitles_language: str | None = None


async def acquire(deps: StageDeps, inputs: AcquireInputs) -> Media:
    """Fetch (URL) or locate (file) the media, enforce the limits and describe it."""
    source = inputs.request.source
    limits = deps.settings.pipeline
    if source.kind == "file":
        path = Path(source.location)
        duration, size = await asyncio.to_thread(probe_audio, path, limits.max_duration_seconds)
        return Media(audio_path=str(path), title=path.stem, duration_seconds=duration, size_bytes=size)

    parts = urlsplit(source.location)
    host = parts.hostname or ""
    await check_host(host, parts.port or (443 if parts.scheme == "https" else 80), limits.allow_private_urls)
    logger = YtdlpLogger()
    with guarded(limits.allow_private_urls) as guard:
        try:
            fetched = await asyncio.to_thread(_fetch, source.location, deps.workdir, limits, logger)
        except _SizeLimitExceeded as exc:
            raise TooLargeError(_too_large_message(limits.max_filesize_bytes)) from exc
        except YoutubeDLError as exc:
            raise map_ytdlp_error(exc, guard, logger, limits, host) from exc
    return await asyncio.to_thread(_describe, fetched, source.location, limits)


def _describe(fetched: _Fetched, url: str, limits: PipelineSettings) -> Media:
    """Check the fetched file against the limits, probe it and build the `Media`."""
    info = fetched.info
    common: dict[str, Any] = {
        "title": info.get("title"),
        "webpage_url": info.get("webpage_url") or url,
        "extractor": info.get("extractor_key") or info.get("extractor"),
    }
    size = fetched.path.stat().st_size
    if fetched.subtitles_language is not None:
        duration = float(info.get("duration") or subtitles_duration(fetched.path))
        check_duration(duration, limits.max_duration_seconds)
        return Media(
            subtitles_path=str(fetched.path),
            subtitles_language=fetched.subtitles_language,
            duration_seconds=duration,
            size_bytes=size,
            **common,
        )
    if size > limits.max_filesize_bytes:
        raise TooLargeError(_too_large_message(limits.max_filesize_bytes, size))
    duration, size = probe_audio(fetched.path, limits.max_duration_seconds)
    return Media(audio_path=str(fetched.path), duration_seconds=duration, size_bytes=size, **common)


def media_still_present(media: Media) -> bool:
    """Whether the files a stored `Media` points at still exist (else the stage re-runs)."""
    paths = [p for p in (media.audio_path, media.subtitles_path) if p]
    return bool(paths) and all(Path(p).is_file() for p in paths)


def choose_subtitle_language(subtitles: dict[str, Any] | None, wanted: str) -> str | None:
    """The key of a human-made subtitle track in language `wanted` that is offered as VTT.

    An exact (case-insensitive) match wins; otherwise a regional variant matches its base
    language ("en" picks "en-US", "en-GB" picks "en").
    """
    if not subtitles or not wanted:
        return None
    wanted = wanted.lower()
    base = wanted.split("-", 1)[0]
    offered = [
        lang
        for lang, tracks in subtitles.items()
        if any(isinstance(t, dict) and t.get("ext") == "vtt" for t in tracks or [])
    ]
    for lang in offered:
        if lang.lower() == wanted:
            return lang
    for lang in offered:
        if lang.lower().split("-", 1)[0] == base:
            return lang
    return None


def _base_options(workdir: Path, limits: PipelineSettings, logger: YtdlpLogger) -> dict[str, Any]:
    """yt-dlp options shared by every call: quiet, logged, bounded, no user config."""

    def size_hook(progress: dict[str, Any]) -> None:
        downloaded = progress.get("downloaded_bytes") or 0
        if progress.get("status") == "downloading" and downloaded > limits.max_filesize_bytes:
            raise _SizeLimitExceeded(downloaded)

    return {
        "format": "bestaudio/best",
        "paths": {"home": str(workdir), "temp": str(workdir)},
        "outtmpl": {"default": f"{MEDIA_STEM}.%(ext)s"},
        "noplaylist": True,
        "socket_timeout": limits.socket_timeout_seconds,
        "max_filesize": limits.max_filesize_bytes,
        "progress_hooks": [size_hook],
        "logger": logger,
        "quiet": True,
        "noprogress": True,
        "color": {"stdout": "no_color", "stderr": "no_color"},
        "concurrent_fragment_downloads": 1,
        "retries": 2,
        "fragment_retries": 2,
        "ignoreconfig": True,  # a CLI option; the Python API reads no config files anyway
        "enable_file_urls": False,
        # Only Python-side downloaders: external tools (ffmpeg, aria2c) would bypass `guarded()`.
        "external_downloader": {"default": "native"},
        "cookiefile": None,
        "usenetrc": False,
        "cachedir": False,
        "overwrites": True,
        "continuedl": False,
        "consoletitle": False,
    }


def _fetch(url: str, workdir: Path, limits: PipelineSettings, logger: YtdlpLogger) -> _Fetched:
    """Extract, check limits, then download subtitles or audio (runs in a worker thread)."""
    workdir.mkdir(parents=True, exist_ok=True)
    try:
        return _extract_and_download(url, workdir, limits, logger)
    except BaseException:
        for partial in workdir.glob(f"{MEDIA_STEM}*.part"):
            partial.unlink(missing_ok=True)
        raise


def _extract_and_download(url: str, workdir: Path, limits: PipelineSettings, logger: YtdlpLogger) -> _Fetched:
    options = _base_options(workdir, limits, logger)
    with yt_dlp.YoutubeDL(options) as ydl:
        info = ydl.extract_info(url, download=False)
    info = _single_entry(info, url)
    if info.get("is_live"):
        raise TooLongError("live streams cannot be analysed: try again once it has ended")
    duration = info.get("duration")
    if isinstance(duration, int | float) and duration > 0:
        check_duration(float(duration), limits.max_duration_seconds)
    protocols = set(str(info.get("protocol") or "https").split("+"))
    if not protocols <= _SAFE_PROTOCOLS:
        raise UnsupportedSiteError(
            f"this site streams over {'+'.join(sorted(protocols))}, which is not supported"
        )
    known_size = _known_size(info)
    if known_size is not None and known_size > limits.max_filesize_bytes:
        raise TooLargeError(_too_large_message(limits.max_filesize_bytes, known_size))

    language = (
        choose_subtitle_language(info.get("subtitles"), limits.subtitle_language)
        if limits.prefer_subtitles
        else None
    )
    if language is not None:
        fetched = _fetch_subtitles(info, language, options)
        if fetched is not None:
            return fetched
    with yt_dlp.YoutubeDL(options) as ydl:
        done = ydl.process_ie_result(info, download=True)
    path = _downloaded_path(done, workdir)
    if path is None:
        if logger.skipped_too_large:
            raise TooLargeError(_too_large_message(limits.max_filesize_bytes))
        raise NotMediaError("the download produced no media file")
    return _Fetched(path=path, info=done)


def _fetch_subtitles(info: dict[str, Any], language: str, options: dict[str, Any]) -> _Fetched | None:
    """Download one human-made VTT track instead of the audio; None if it yields no cues."""
    sub_options = {
        **options,
        "skip_download": True,
        "writesubtitles": True,
        "writeautomaticsub": False,
        "subtitleslangs": [language],
        "subtitlesformat": "vtt",
    }
    try:
        with yt_dlp.YoutubeDL(sub_options) as ydl:
            done = ydl.process_ie_result(info, download=True)
    except YoutubeDLError as exc:  # a broken track is no reason to give up: use the audio
        log.info("subtitles %s could not be fetched (%s), falling back to audio", language, exc)
        return None
    home = Path(options["paths"]["home"])
    path = home / f"{MEDIA_STEM}.{language}.vtt"
    if not path.is_file() or subtitles_duration(path) <= 0:
        log.info("subtitles %s unusable, falling back to audio", language)
        return None
    return _Fetched(path=path, info=done, subtitles_language=language)


def _single_entry(info: dict[str, Any] | None, url: str) -> dict[str, Any]:
    """The one video to fetch: the info itself, or the first entry of a playlist-like page."""
    if not info:
        raise UnsupportedSiteError("no video or audio found at this URL (unsupported site)")
    if info.get("_type") in ("playlist", "multi_video"):
        entries = [entry for entry in info.get("entries") or [] if entry]
        if not entries:
            raise UnsupportedSiteError("no video or audio found at this URL (empty playlist)")
        log.info("%s holds %d entries; fetching the first", url, len(entries))
        return dict(entries[0])
    return info


def _known_size(info: dict[str, Any]) -> int | None:
    """The selected format's announced size (exact or approximate), if any."""
    requested = info.get("requested_formats") or [info]
    sizes = [fmt.get("filesize") or fmt.get("filesize_approx") for fmt in requested]
    return int(sum(sizes)) if sizes and all(isinstance(s, int | float) for s in sizes) else None


def _downloaded_path(info: dict[str, Any], workdir: Path) -> Path | None:
    """Where yt-dlp put the media file, if it exists."""
    for download in info.get("requested_downloads") or []:
        filepath = download.get("filepath")
        if filepath and Path(filepath).is_file():
            return Path(filepath)
    candidates = [
        p for p in workdir.glob(f"{MEDIA_STEM}.*") if p.suffix not in (".part", ".vtt", ".ytdl", ".json")
    ]
    return candidates[0] if len(candidates) == 1 else None


def map_ytdlp_error(
    exc: YoutubeDLError, guard: GuardState, logger: YtdlpLogger, limits: PipelineSettings, host: str
) -> PipelineError:
    """Translate a yt-dlp failure into the pipeline's error for the user."""
    chain = exception_chain(exc)
    if guard.blocked:
        return BlockedAddressError(blocked_message(guard.blocked[0]))
    for cause in chain:
        if isinstance(cause, ConnectBlocked):
            return BlockedAddressError(blocked_message(cause.address))
    if logger.skipped_too_large or any("max-filesize" in str(c) for c in chain):
        return TooLargeError(_too_large_message(limits.max_filesize_bytes))
    for cause in chain:
        if isinstance(cause, HTTPError):
            return HTTPStatusError(f"the server answered HTTP {cause.status}", status=cause.status)
    if any(isinstance(c, UnsupportedError) for c in chain):
        return UnsupportedSiteError("no video or audio found at this URL (unsupported site)")
    text = " ".join(str(c) for c in chain)
    if "Did not get any data blocks" in text:
        return EmptySourceError("empty file: the server sent no data")
    if "Requested format is not available" in text:
        return NotMediaError("no downloadable audio or video found at this URL")
    transport = [c for c in chain if isinstance(c, TransportError | OSError)]
    if transport:
        return UnreachableHostError(_unreachable_message(" ".join(map(str, transport)), host))
    return MediaUnavailableError(f"the site did not deliver the media: {_short_reason(chain)}")


def _unreachable_message(text: str, host: str) -> str:
    """A specific one-line reason for a network failure."""
    lowered = text.lower()
    if "name or service not known" in lowered or "nodename nor servname" in lowered:
        return f"could not resolve host '{host}'"
    if "refused" in lowered:
        return f"could not reach {host}: connection refused"
    if "certificate" in lowered or "ssl" in lowered:
        return f"could not reach {host}: its TLS certificate or handshake failed"
    if "timed out" in lowered or "timeout" in lowered:
        return f"could not reach {host}: the connection timed out"
    return f"could not reach {host}: network error"


def _short_reason(chain: list[BaseException]) -> str:
    """yt-dlp's own explanation without prefixes, first line only, bounded."""
    extractor = [c.orig_msg for c in chain if isinstance(c, ExtractorError) and c.orig_msg]
    reason = extractor[0] if extractor else str(chain[0])
    reason = re.sub(r"^(ERROR:\s*)?(\[[^\]]+\]\s*)?([^\s:]+:\s)?", "", reason.strip())
    return (reason.splitlines() or [""])[0][:200].rstrip() or "unknown reason"


def _too_large_message(limit_bytes: int, size_bytes: int | None = None) -> str:
    """'the media is 1.1 MB; the limit is 0.1 MB' (or without the size when unknown)."""

    def mb(value: int) -> str:
        return f"{value / 1_048_576:.1f}".rstrip("0").rstrip(".") + " MB"

    if size_bytes is None:
        return f"the media is too large: the limit is {mb(limit_bytes)}"
    return f"the media is too large: {mb(size_bytes)}; the limit is {mb(limit_bytes)}"
