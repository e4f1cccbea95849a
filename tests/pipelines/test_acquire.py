"""The acquisition stage against a real local HTTP server, real yt-dlp and real PyAV probing."""

from __future__ import annotations

import socket
import ssl
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

import pytest
from yt_dlp.networking.exceptions import TransportError
from yt_dlp.utils import DownloadError, ExtractorError, YoutubeDLError

from fakes.dns import rebind
from pipelines.acquire import (
    AcquireInputs,
    YtdlpLogger,
    acquire,
    choose_subtitle_language,
    map_ytdlp_error,
    media_still_present,
)
from pipelines.errors import (
    BlockedAddressError,
    EmptySourceError,
    HTTPStatusError,
    MediaUnavailableError,
    NotMediaError,
    PipelineError,
    SourceNotFoundError,
    TooLargeError,
    TooLongError,
    UnreachableHostError,
    UnsupportedSiteError,
)
from pipelines.models import Depth, Media, RunRequest, Source
from pipelines.netguard import GuardState
from pipelines.probe import subtitles_duration
from pipelines.sources import normalise_source
from pipelines.stage import StageDeps


class MediaServer(Protocol):
    """The `media_server` fixture (tests/pipelines/conftest.py)."""

    port: int
    requests: list[str]

    def url(self, path: str) -> str: ...


JFK_FLAC = Path(__file__).parent.parent / "data" / "jfk.flac"
JFK_SECONDS = 11.0

DepsFactory = Callable[..., StageDeps]


def _inputs(location: str) -> AcquireInputs:
    return AcquireInputs(request=RunRequest(source=normalise_source(location), depth=Depth.QUICK))


def _file_inputs(path: Path) -> AcquireInputs:
    """A file source without normalise_source's own checks (to exercise the stage's probe)."""
    source = Source(kind="file", location=str(path), key="sha256:test")
    return AcquireInputs(request=RunRequest(source=source, depth=Depth.QUICK))


async def _fails(
    deps: StageDeps,
    inputs: AcquireInputs,
    error: type[PipelineError],
    fragment: str,
    cause: type[BaseException] | None = None,
) -> PipelineError:
    """Run the stage, expecting `error` whose message holds `fragment` (raised from `cause`)."""
    with pytest.raises(error) as caught:
        await acquire(deps, inputs)
    assert fragment in caught.value.message, caught.value.message
    assert "\n" not in caught.value.message
    if cause is not None:
        assert isinstance(caught.value.__cause__, cause), repr(caught.value.__cause__)
    return caught.value


def _same_content(left: Path, right: Path) -> bool:
    return left.read_bytes() == right.read_bytes()


def _text(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def _remove(path: Path) -> None:
    path.unlink()


# --- local files -------------------------------------------------------------------------


async def test_local_file_is_used_in_place_and_probed(make_deps: DepsFactory) -> None:
    deps = make_deps()
    media = await acquire(deps, _inputs(str(JFK_FLAC)))
    assert media.audio_path == str(JFK_FLAC.resolve())
    assert media.duration_seconds == pytest.approx(JFK_SECONDS, abs=0.1)
    assert media.size_bytes == JFK_FLAC.stat().st_size
    assert media.subtitles_path is None
    assert not deps.workdir.exists()  # nothing copied
    assert media_still_present(media)


async def test_local_file_too_long(make_deps: DepsFactory) -> None:
    await _fails(make_deps(max_duration_seconds=5), _inputs(str(JFK_FLAC)), TooLongError, "limit is 5 s")


async def test_local_text_file_is_not_media(make_deps: DepsFactory, tmp_path: Path) -> None:
    fake = tmp_path / "song.mp3"
    fake.write_text("definitely not audio\n" * 50)
    await _fails(make_deps(), _inputs(str(fake)), NotMediaError, "not a media file")


async def test_local_file_gone_or_empty(make_deps: DepsFactory, tmp_path: Path) -> None:
    await _fails(make_deps(), _file_inputs(tmp_path / "gone.flac"), SourceNotFoundError, "file not found")
    empty = tmp_path / "empty.flac"
    empty.touch()
    await _fails(make_deps(), _file_inputs(empty), EmptySourceError, "zero bytes")


# --- downloads ---------------------------------------------------------------------------


async def test_direct_media_url_is_downloaded_and_probed(
    make_deps: DepsFactory, media_server: MediaServer
) -> None:
    deps = make_deps()
    media = await acquire(deps, _inputs(media_server.url("jfk.flac")))
    assert media.audio_path is not None
    audio = Path(media.audio_path)
    assert audio.parent == deps.workdir
    assert _same_content(audio, JFK_FLAC)
    assert media.duration_seconds == pytest.approx(JFK_SECONDS, abs=0.1)
    assert media.size_bytes == JFK_FLAC.stat().st_size
    assert media.title == "jfk"
    assert media.extractor == "Generic"
    assert media.webpage_url == media_server.url("jfk.flac")
    assert media_still_present(media)
    _remove(audio)
    assert not media_still_present(media)


async def test_human_subtitles_are_preferred_over_audio(
    make_deps: DepsFactory, media_server: MediaServer
) -> None:
    media = await acquire(make_deps(), _inputs(media_server.url("page.html")))
    assert media.audio_path is None
    assert media.subtitles_language == "en"
    assert media.subtitles_path is not None
    assert "ask not what your country" in _text(Path(media.subtitles_path))
    assert media.duration_seconds == pytest.approx(JFK_SECONDS)
    assert "/jfk.flac" not in media_server.requests  # the audio was never downloaded
    assert media_still_present(media)


async def test_audio_from_page_when_subtitles_not_preferred(
    make_deps: DepsFactory, media_server: MediaServer
) -> None:
    media = await acquire(make_deps(prefer_subtitles=False), _inputs(media_server.url("page.html")))
    assert media.subtitles_path is None
    assert media.audio_path is not None
    assert media.duration_seconds == pytest.approx(JFK_SECONDS, abs=0.1)


async def test_subtitles_in_other_language_fall_back_to_audio(
    make_deps: DepsFactory, media_server: MediaServer
) -> None:
    media = await acquire(make_deps(subtitle_language="de"), _inputs(media_server.url("page.html")))
    assert media.subtitles_path is None
    assert media.audio_path is not None


async def test_unfetchable_subtitles_fall_back_to_audio(
    make_deps: DepsFactory, media_server: MediaServer
) -> None:
    media = await acquire(make_deps(), _inputs(media_server.url("broken-subs.html")))
    assert "/missing.vtt" in media_server.requests
    assert media.subtitles_path is None
    assert media.audio_path is not None
    assert media.duration_seconds == pytest.approx(JFK_SECONDS, abs=0.1)


def test_subtitle_language_choice() -> None:
    vtt = [{"ext": "vtt", "url": "u"}]
    assert choose_subtitle_language({"en": vtt, "fr": vtt}, "en") == "en"
    assert choose_subtitle_language({"en-US": vtt, "de": vtt}, "en") == "en-US"
    assert choose_subtitle_language({"en-GB": vtt, "en-US": vtt}, "en-US") == "en-US"
    assert choose_subtitle_language({"en": vtt}, "en-GB") == "en"
    assert choose_subtitle_language({"english": vtt}, "en") is None
    assert choose_subtitle_language({"en": [{"ext": "srv3"}]}, "en") is None  # no VTT offered
    assert choose_subtitle_language({"live_chat": [{"ext": "json"}]}, "en") is None
    assert choose_subtitle_language({}, "en") is None
    assert choose_subtitle_language(None, "en") is None


def test_subtitles_duration(tmp_path: Path) -> None:
    vtt = tmp_path / "s.vtt"
    vtt.write_text("WEBVTT\n\n00:01.000 --> 00:04.500\nhi\n\n01:02:03.250 --> 01:02:05.000\nbye\n")
    assert subtitles_duration(vtt) == pytest.approx(3725.0)


# --- bad URLs ----------------------------------------------------------------------------


async def test_page_without_media_is_unsupported(make_deps: DepsFactory, media_server: MediaServer) -> None:
    await _fails(
        make_deps(),
        _inputs(media_server.url("nomedia.html")),
        UnsupportedSiteError,
        "unsupported site",
        YoutubeDLError,
    )


async def test_http_error_status(make_deps: DepsFactory, media_server: MediaServer) -> None:
    error = await _fails(
        make_deps(),
        _inputs(media_server.url("missing.mp4")),
        HTTPStatusError,
        "the server answered HTTP 404",
        YoutubeDLError,
    )
    assert isinstance(error, HTTPStatusError) and error.status == 404


async def test_text_disguised_as_mp3_is_not_media(make_deps: DepsFactory, media_server: MediaServer) -> None:
    deps = make_deps()
    await _fails(deps, _inputs(media_server.url("fake.mp3")), NotMediaError, "not a media file")


async def test_empty_response(make_deps: DepsFactory, media_server: MediaServer) -> None:
    await _fails(
        make_deps(), _inputs(media_server.url("empty.mp3")), EmptySourceError, "sent no data", YoutubeDLError
    )


async def test_closed_port_is_unreachable(make_deps: DepsFactory, closed_port: int) -> None:
    await _fails(
        make_deps(),
        _inputs(f"http://127.0.0.1:{closed_port}/a.mp3"),
        UnreachableHostError,
        "connection refused",
        YoutubeDLError,
    )


async def test_silent_server_times_out(make_deps: DepsFactory, silent_port: int) -> None:
    await _fails(
        make_deps(socket_timeout_seconds=0.5),
        _inputs(f"http://127.0.0.1:{silent_port}/a.mp3"),
        UnreachableHostError,
        "timed out",
        YoutubeDLError,
    )


async def test_unresolvable_host(make_deps: DepsFactory) -> None:
    await _fails(
        make_deps(),
        _inputs("http://nonexistent.invalid/"),
        UnreachableHostError,
        "could not resolve host",
        socket.gaierror,
    )


async def test_too_long_download(make_deps: DepsFactory, media_server: MediaServer) -> None:
    await _fails(
        make_deps(max_duration_seconds=5),
        _inputs(media_server.url("jfk.flac")),
        TooLongError,
        "the media is 11 s long; the limit is 5 s",
    )


@pytest.mark.parametrize("path", ["jfk.flac", "chunked.flac"], ids=["content-length", "chunked"])
async def test_too_large_download(make_deps: DepsFactory, media_server: MediaServer, path: str) -> None:
    deps = make_deps(max_filesize_mb=0.1)
    await _fails(deps, _inputs(media_server.url(path)), TooLargeError, "the limit is 0.1 MB")
    leftovers = [p.name for p in deps.workdir.iterdir()] if deps.workdir.exists() else []
    assert leftovers == []  # no partial download left behind


# --- SSRF --------------------------------------------------------------------------------


async def test_private_address_refused_before_any_request(
    make_deps: DepsFactory, media_server: MediaServer
) -> None:
    await _fails(
        make_deps(allow_private_urls=False),
        _inputs(media_server.url("jfk.flac")),
        BlockedAddressError,
        "refused to connect to 127.0.0.1: not a public address",
    )
    assert media_server.requests == []


async def test_dns_rebinding_after_the_check_is_refused_at_connect_time(
    make_deps: DepsFactory, media_server: MediaServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The pre-check sees a public address; the download's own lookup gets the media server's.
    answers = rebind(monkeypatch, "rebind.test", "93.184.216.34", "127.0.0.1")
    await _fails(
        make_deps(allow_private_urls=False),
        _inputs(f"http://rebind.test:{media_server.port}/jfk.flac"),
        BlockedAddressError,
        "refused to connect to 127.0.0.1: not a public address",
        YoutubeDLError,
    )
    assert answers[0] == "93.184.216.34" and "127.0.0.1" in answers[1:]
    assert media_server.requests == []  # no connection reached the loopback server


async def test_redirect_to_metadata_address_refused_at_connect_time(
    make_deps: DepsFactory, media_server: MediaServer
) -> None:
    url = media_server.url("redirect?to=http://169.254.169.254/latest/meta-data/")
    await _fails(
        make_deps(),
        _inputs(url),
        BlockedAddressError,
        "refused to connect to 169.254.169.254: not a public address",
        YoutubeDLError,
    )
    assert media_server.requests == ["/redirect?to=http://169.254.169.254/latest/meta-data/"]


async def test_redirect_to_unspecified_address_never_connects(
    make_deps: DepsFactory, media_server: MediaServer
) -> None:
    # 0.0.0.0 reaches this very server on Linux: had the connect gone through, it would show /secret.
    url = media_server.url(f"redirect?to=http://0.0.0.0:{media_server.port}/secret")
    await _fails(
        make_deps(), _inputs(url), BlockedAddressError, "refused to connect to 0.0.0.0", YoutubeDLError
    )
    assert "/secret" not in media_server.requests
    assert len(media_server.requests) == 1


async def test_media_download_to_forbidden_address_is_refused(
    make_deps: DepsFactory, media_server: MediaServer
) -> None:
    # Extraction (the page) is allowed; the download of the media itself must be refused.
    await _fails(
        make_deps(),
        _inputs(media_server.url("ssrf-page.html")),
        BlockedAddressError,
        "0.0.0.0",
        YoutubeDLError,
    )
    assert media_server.requests == ["/ssrf-page.html"]


def test_site_refusals_keep_their_reason(make_deps: DepsFactory) -> None:
    """Errors no local server can provoke (private videos, TLS failures), built the way yt-dlp does."""
    limits = make_deps().settings.pipeline
    try:
        raise ExtractorError("Private video. Sign in if you've been granted access", expected=True)
    except ExtractorError as inner:
        wrapped = DownloadError(f"ERROR: [youtube] abc: {inner.orig_msg}", sys.exc_info())
    error = map_ytdlp_error(wrapped, GuardState(allow_private=False), YtdlpLogger(), limits, "youtube.com")
    assert isinstance(error, MediaUnavailableError)
    assert (
        error.message
        == "the site did not deliver the media: Private video. Sign in if you've been granted access"
    )

    tls = DownloadError(
        "ERROR: boom", (None, TransportError(cause=ssl.SSLError("certificate verify failed")), None)
    )
    error = map_ytdlp_error(tls, GuardState(allow_private=False), YtdlpLogger(), limits, "example.com")
    assert isinstance(error, UnreachableHostError)
    assert "TLS certificate" in error.message


def test_media_still_present_needs_a_file(tmp_path: Path) -> None:
    assert not media_still_present(Media())
    assert not media_still_present(Media(audio_path=str(tmp_path / "gone.flac")))
    assert media_still_present(Media(audio_path=str(JFK_FLAC)))
