"""Benchmark: transcription real-time factor through the product, and acquisition+transcription wall time.

Serves the bundled speech sample (samples/facts.ogg, 82 s) from a local HTTP server, runs the
product's runner over the acquire and transcribe stages only (fresh runs, real store in a
temporary data dir), and compares with the raw faster-whisper library on the same file and
parameters. Prints JSON.

    .venv/bin/python benchmarks/transcription.py [--repeats 3]
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import http.server
import json
import os
import platform
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

# the repo first: benchmarks/ has its own routing.py and observability.py
sys.path[:0] = [str(Path(__file__).resolve().parent.parent)]

from pipelines.evaluation import word_error_rate  # noqa: E402
from pipelines.flow import ACQUIRE, TRANSCRIBE  # noqa: E402
from pipelines.models import Depth, Transcript  # noqa: E402
from pipelines.runner import execute, submit  # noqa: E402
from pipelines.sources import normalise_source  # noqa: E402
from pipelines.stage import Resources  # noqa: E402
from pipelines.store import RunStore  # noqa: E402
from pipelines.transcribe import load_whisper  # noqa: E402
from settings import load_settings  # noqa: E402

SAMPLES = Path(__file__).resolve().parent.parent / "samples"
ACQUIRE_AND_TRANSCRIBE = dict.fromkeys(Depth, (ACQUIRE, TRANSCRIBE))


def _serve(directory: Path) -> tuple[http.server.ThreadingHTTPServer, str]:
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            """Keep the benchmark's output pure JSON."""

    handler = functools.partial(Quiet, directory=str(directory))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.handle_error = lambda request, client_address: None  # type: ignore[method-assign]
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"


def _raw_library(path: Path, threads: int, compute_type: str) -> float:
    """Seconds the bare library needs for the file (model already loaded), at the product's precision."""
    from faster_whisper import WhisperModel

    from pipelines.transcribe import bundled_model_path

    model = WhisperModel(
        str(bundled_model_path()), device="cpu", compute_type=compute_type, cpu_threads=threads
    )
    started = time.perf_counter()
    segments, _info = model.transcribe(str(path), beam_size=1)
    list(segments)
    return time.perf_counter() - started


async def _product(repeats: int) -> dict[str, object]:
    reference = (SAMPLES / "facts.txt").read_text(encoding="utf-8")
    server, base = _serve(SAMPLES)
    with tempfile.TemporaryDirectory() as tmp:
        settings = load_settings(pipeline={"data_dir": Path(tmp), "allow_private_urls": True})
        resources = Resources(settings)
        started = time.perf_counter()
        await asyncio.to_thread(load_whisper, resources)
        load_seconds = time.perf_counter() - started
        source = normalise_source(f"{base}/facts.ogg")
        walls, stage_times, transcript = [], [], None
        async with await RunStore.open(settings.database_url) as store:
            for _ in range(repeats):
                run = await submit(store, source, Depth.QUICK, fresh=True)
                started = time.perf_counter()
                result = await execute(store, resources, run.id, flows=ACQUIRE_AND_TRANSCRIBE)
                walls.append(time.perf_counter() - started)
                stage_times.append({s.stage: s.duration_seconds or 0.0 for s in result.stages})
                transcript = result.outputs["transcribe"]
    server.shutdown()
    assert isinstance(transcript, Transcript)
    duration = transcript.duration_seconds
    transcribe_s = statistics.median(t["transcribe"] for t in stage_times)
    runtime = resources.cache["whisper"]
    return {
        "sample": "samples/facts.ogg",
        "audio_seconds": duration,
        "model": transcript.model,
        "device": runtime.device,
        "compute_type": runtime.compute_type,
        "model_load_seconds": round(load_seconds, 3),
        "acquire_seconds_median": round(statistics.median(t["acquire"] for t in stage_times), 3),
        "transcribe_seconds_median": round(transcribe_s, 3),
        "acquire_plus_transcribe_wall_seconds_median": round(statistics.median(walls), 3),
        "product_realtime_factor": round(duration / transcribe_s, 2),
        "end_to_end_realtime_factor": round(duration / statistics.median(walls), 2),
        "wer": round(word_error_rate(reference, transcript.text), 4),
    }


def main() -> None:
    """Run the benchmark and print one JSON object."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    product = asyncio.run(_product(args.repeats))
    threads = min(os.cpu_count() or 1, 4)
    compute_type = str(product["compute_type"])
    raw = statistics.median(
        _raw_library(SAMPLES / "facts.ogg", threads, compute_type) for _ in range(args.repeats)
    )
    product["raw_library_realtime_factor"] = round(float(product["audio_seconds"]) / raw, 2)  # type: ignore[arg-type]
    product["cpu_threads"] = threads
    product["machine"] = f"{platform.machine()} {os.cpu_count()} cores"
    print(json.dumps(product, indent=2))


if __name__ == "__main__":
    main()
