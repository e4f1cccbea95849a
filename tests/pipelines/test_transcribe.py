"""Transcription with the real bundled Whisper model, subtitles parsing and no-speech handling."""

from __future__ import annotations

import wave
from collections.abc import Callable
from pathlib import Path

import pytest

from pipelines.errors import NoSpeechError, TranscriptionError
from pipelines.evaluation import word_error_rate
from pipelines.models import Media
from pipelines.stage import Resources, StageDeps
from pipelines.transcribe import (
    TranscribeInputs,
    load_whisper,
    parse_subtitles,
    resolve_device,
    transcribe,
)
from settings import Settings

DATA = Path(__file__).parent.parent / "data"
JFK = (
    "And so my fellow Americans, ask not what your country can do for you, "
    "ask what you can do for your country."
)

VTT = """WEBVTT

1
00:00:00.000 --> 00:00:02.500 align:start
<c.colorE5E5E5>And so my</c> fellow Americans

00:00:02.500 --> 00:00:02.600
And so my fellow Americans

00:00:02.600 --> 00:01:05.250
ask not what your country &amp; can do
for you
"""


@pytest.fixture
def deps(make_settings: Callable[..., Settings], tmp_path: Path) -> StageDeps:
    return StageDeps(Resources(make_settings()), "run1", tmp_path)


async def test_real_clip_is_transcribed_within_ten_percent_wer(deps: StageDeps) -> None:
    media = Media(audio_path=str(DATA / "jfk.flac"), duration_seconds=11.0)
    transcript = await transcribe(deps, TranscribeInputs(acquire=media))
    assert transcript.origin == "whisper"
    assert transcript.language == "en"
    assert transcript.duration_seconds == pytest.approx(11.0, abs=0.1)
    assert word_error_rate(JFK, transcript.text) <= 0.10
    assert all(0 <= s.start <= s.end <= 11.5 for s in transcript.segments)


async def test_model_is_loaded_once_per_process(deps: StageDeps) -> None:
    first = load_whisper(deps.resources)
    assert load_whisper(deps.resources) is first
    assert (first.device, first.compute_type, first.batched) == ("cpu", "float32", False)


async def test_silence_is_a_clear_no_speech_error(deps: StageDeps, tmp_path: Path) -> None:
    silent = tmp_path / "silence.wav"
    with wave.open(str(silent), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(16000)
        out.writeframes(b"\x00\x00" * 16000 * 4)
    with pytest.raises(NoSpeechError, match="no speech was recognised"):
        await transcribe(deps, TranscribeInputs(acquire=Media(audio_path=str(silent))))


async def test_missing_model_path_is_a_transcription_error(
    make_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    settings = make_settings(whisper={"model": str(tmp_path / "no-such-model")})
    deps = StageDeps(Resources(settings), "run1", tmp_path)
    media = Media(audio_path=str(DATA / "jfk.flac"))
    with pytest.raises(TranscriptionError, match="cannot load the Whisper model"):
        await transcribe(deps, TranscribeInputs(acquire=media))


def test_device_resolution(make_settings: Callable[..., Settings]) -> None:
    assert resolve_device(make_settings(whisper={"device": "cpu"}).whisper) == ("cpu", "float32")
    explicit = make_settings(whisper={"device": "cpu", "compute_type": "int8"}).whisper
    assert resolve_device(explicit) == ("cpu", "int8")
    cuda = make_settings(whisper={"device": "cuda", "compute_type": "int8_float16"}).whisper
    assert resolve_device(cuda) == ("cuda", "int8_float16")
    assert resolve_device(make_settings(whisper={"device": "cuda"}).whisper) == ("cuda", "float16")


def test_subtitles_are_parsed_without_markup_or_rolling_duplicates() -> None:
    segments = parse_subtitles(VTT)
    assert [s.text for s in segments] == [
        "And so my fellow Americans",
        "ask not what your country & can do for you",
    ]
    assert (segments[1].start, segments[1].end) == (2.6, 65.25)


async def test_subtitles_take_the_place_of_whisper(deps: StageDeps, tmp_path: Path) -> None:
    subs = tmp_path / "media.en.vtt"
    subs.write_text(VTT, encoding="utf-8")
    media = Media(subtitles_path=str(subs), subtitles_language="en", duration_seconds=66.0)
    transcript = await transcribe(deps, TranscribeInputs(acquire=media))
    assert (transcript.origin, transcript.language, transcript.model) == ("subtitles", "en", None)
    assert transcript.duration_seconds == 66.0
    assert len(transcript.segments) == 2


async def test_empty_subtitles_are_no_speech(deps: StageDeps, tmp_path: Path) -> None:
    subs = tmp_path / "media.en.vtt"
    subs.write_text("WEBVTT\n\n", encoding="utf-8")
    media = Media(subtitles_path=str(subs), subtitles_language="en")
    with pytest.raises(NoSpeechError, match="subtitles of this video are empty"):
        await transcribe(deps, TranscribeInputs(acquire=media))


def test_word_error_rate() -> None:
    assert word_error_rate("a b c d", "a b c d") == 0
    assert word_error_rate("a b c d", "a x c") == 0.5
    assert word_error_rate("Well-known, facts!", "well known facts") == 0
