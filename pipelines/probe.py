"""Probe local media with PyAV (no ffmpeg binary needed) and check the duration limit."""

from __future__ import annotations

import re
from pathlib import Path

import av

from pipelines.errors import EmptySourceError, NotMediaError, SourceNotFoundError, TooLongError

_CUE_END = re.compile(r"-->\s*((?:\d+:)?\d{1,2}:\d{2}[.,]\d{3})")


def probe_audio(path: Path, max_duration_seconds: float) -> tuple[float, int]:
    """Open `path` with PyAV and return (duration in seconds, size in bytes).

    Raises `SourceNotFoundError` when the file is gone, `EmptySourceError` for a zero-byte
    file, `NotMediaError` when no audio stream can be decoded and `TooLongError` above
    `max_duration_seconds`.
    """
    if not path.is_file():
        raise SourceNotFoundError(f"file not found: {path}")
    size = path.stat().st_size
    if size == 0:
        raise EmptySourceError("empty file: the media has zero bytes")
    try:
        with av.open(str(path)) as container:
            if not container.streams.audio:
                raise NotMediaError("not a media file: it has no audio track")
            stream = container.streams.audio[0]
            if next(iter(container.decode(stream)), None) is None:
                raise NotMediaError("not a media file: its audio track holds no decodable sound")
            if container.duration is not None and container.duration > 0:
                duration = container.duration / av.time_base
            elif stream.duration is not None and stream.time_base is not None:
                duration = float(stream.duration * stream.time_base)
            else:
                duration = _demuxed_duration(path)
    except av.error.FFmpegError as exc:
        raise NotMediaError("not a media file: no audio could be decoded from it") from exc
    check_duration(duration, max_duration_seconds)
    return duration, size


def _demuxed_duration(path: Path) -> float:
    """Duration from the last audio packet, for containers without a duration header."""
    end = 0.0
    with av.open(str(path)) as container:
        stream = container.streams.audio[0]
        for packet in container.demux(stream):
            if packet.pts is not None and packet.time_base is not None:
                end = max(end, float((packet.pts + (packet.duration or 0)) * packet.time_base))
    return end


def subtitles_duration(path: Path) -> float:
    """The end time of the last cue in a WebVTT/SRT file, in seconds (0 when none)."""
    end = 0.0
    for stamp in _CUE_END.findall(path.read_text(encoding="utf-8", errors="replace")):
        *hours, minutes, seconds = stamp.replace(",", ".").split(":")
        end = max(end, int(hours[0] if hours else 0) * 3600 + int(minutes) * 60 + float(seconds))
    return end


def check_duration(duration: float, limit: float) -> None:
    """Raise `TooLongError` when `duration` exceeds `limit` seconds."""
    if duration > limit:
        raise TooLongError(
            f"the media is {human_duration(duration)} long; the limit is {human_duration(limit)}"
        )


def human_duration(seconds: float) -> str:
    """'11 s', '3 min 20 s', '2 h 05 min'."""
    total = round(seconds)
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours} h {minutes:02d} min"
    if minutes:
        return f"{minutes} min {secs:02d} s" if secs else f"{minutes} min"
    return f"{secs} s"
