"""Benchmark: per-stage and end-to-end wall time of the whole flow on the embedded defaults.

Runs `make demo`'s path (samples/reference.txt in the reference memory, then a fresh run in a
temporary data dir: bundled Whisper, embedded SmolLM2, bundled MiniLM embedder, Qdrant local
mode) on the sample and prints JSON. Stage times exclude loading the reference corpus.

    .venv/bin/python benchmarks/pipeline.py [--sample samples/facts.ogg] [--depth standard]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from pathlib import Path

# the repo first: benchmarks/ has its own routing.py and observability.py
sys.path[:0] = [str(Path(__file__).resolve().parent.parent)]

from memory.corpus import load_corpus  # noqa: E402
from memory.vector import REFERENCE_NAMESPACE  # noqa: E402
from observability.logs import setup_logging  # noqa: E402
from pipelines.models import Depth  # noqa: E402
from pipelines.runner import execute, submit  # noqa: E402
from pipelines.service import open_services  # noqa: E402
from pipelines.sources import normalise_source  # noqa: E402
from settings import load_settings  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


async def measure(sample: Path, depth: Depth) -> dict[str, object]:
    """One fresh run; stage and total seconds."""
    with tempfile.TemporaryDirectory() as tmp:
        settings = load_settings(pipeline={"data_dir": Path(tmp)})
        started = time.perf_counter()
        async with open_services(settings) as (store, resources):
            opened = time.perf_counter() - started
            reference = load_corpus(ROOT / "samples" / "reference.txt")
            await resources.memory.upsert(REFERENCE_NAMESPACE, reference)
            run = await submit(store, normalise_source(str(sample)), depth, fresh=True)
            result = await execute(store, resources, run.id)
        total = time.perf_counter() - started
    transcript = result.outputs["transcribe"]
    briefing = result.outputs["brief"]
    return {
        "sample": str(sample.relative_to(ROOT)) if sample.is_relative_to(ROOT) else str(sample),
        "depth": depth.value,
        "audio_seconds": transcript.duration_seconds,  # type: ignore[attr-defined]
        "open_services_seconds": round(opened, 3),
        "stages": {s.stage: round(s.duration_seconds or 0.0, 3) for s in result.stages},
        "end_to_end_seconds": round(total, 3),
        "claims": len(briefing.claims),  # type: ignore[attr-defined]
        "caveats": briefing.caveats,  # type: ignore[attr-defined]
    }


def main() -> None:
    """Parse arguments, run, print JSON."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sample", type=Path, default=ROOT / "samples" / "facts.ogg")
    parser.add_argument("--depth", choices=[d.value for d in Depth], default="standard")
    args = parser.parse_args()
    setup_logging("ERROR")
    print(json.dumps(asyncio.run(measure(args.sample.resolve(), Depth(args.depth))), indent=2))


if __name__ == "__main__":
    main()
