"""Benchmark: how trustworthy the briefing is with the embedded defaults (no model server).

1. `briefing`: `autointel eval briefing` on the project's own spoken talk (tests/data/talk,
   made by benchmarks/make_talk.py from CLIMATE-FEVER claims, its evidence as the reference
   corpus) at depth standard: placeholders, duplicates, grounded share, distinct key points,
   claims found, stage times, and what the quality gates cost per 10 minutes of media.
2. `factcheck`: `autointel eval factcheck` on the CLIMATE-FEVER dev split (Diggelmann et al.,
   2020, arXiv:2012.00614): accuracy, macro-F1 and "supported" precision against the
   majority baseline.

Each part runs in a fresh data dir and prints one JSON document with the targets it meets.

    .venv/bin/python benchmarks/briefing_quality.py [--limit N] [--depth standard]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from cli.evaluate import evaluate_factcheck, load_dataset  # noqa: E402
from cli.evaluate_briefing import evaluate_briefing, load_gold  # noqa: E402
from pipelines.models import Depth  # noqa: E402
from settings import load_settings  # noqa: E402

TALK = ROOT / "tests" / "data" / "talk"
DEV = ROOT / "tests" / "data" / "climate_fever_dev.jsonl"


async def measure(depth: Depth, limit: int | None) -> dict[str, Any]:
    """Both parts with the embedded defaults in throwaway data dirs."""
    from crews.builder import tier

    with tempfile.TemporaryDirectory() as tmp:
        settings = load_settings(pipeline={"data_dir": Path(tmp)}, llm={"base_url": None})
        talk = await evaluate_briefing(
            settings, str(TALK / "talk.ogg"), load_gold(TALK / "gold.jsonl"), TALK / "reference.jsonl", depth
        )
        rows = load_dataset(DEV, limit)
        factcheck = await evaluate_factcheck(settings, rows, DEV)
    per_ten_minutes = talk["gate_seconds"] / max(talk["media_seconds"] / 600, 1e-9)
    product, majority = factcheck["product"], factcheck["majority_baseline"]
    supported = product["per_label"]["SUPPORTS"]
    plan = tier(depth)
    targets = {
        "no_placeholders": talk["placeholders"] == 0,
        "no_duplicates": talk["duplicates"] == 0,
        "grounded_95": (talk["grounded_share"] or 0) >= 0.95,
        "five_distinct_key_points": talk["distinct_key_points"] >= 5,
        "full_claims": talk["claims"] == plan.max_claims,
        "accuracy_at_least_majority": product["accuracy"] >= majority["accuracy"],
        "macro_f1_0_25": product["macro_f1"] >= 0.25,
        "supported_precision_0_6": supported["precision"] >= 0.6,
        "gates_3s_per_10min": per_ten_minutes <= 3.0,
    }
    return {
        "depth": depth.value,
        "briefing": talk,
        "gate_seconds_per_10_minutes": round(per_ten_minutes, 3),
        "factcheck": {
            "claims": product["n"],
            "accuracy": product["accuracy"],
            "macro_f1": product["macro_f1"],
            "per_label": product["per_label"],
            "majority_baseline": {k: majority[k] for k in ("label", "accuracy", "macro_f1")},
            "calibration": factcheck["calibration"],
            "verify_seconds": factcheck["verify_seconds"],
        },
        "targets": targets,
    }


def main() -> None:
    """Parse the options, measure, print JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--depth", choices=[d.value for d in Depth], default=Depth.STANDARD.value)
    parser.add_argument("--limit", type=int, default=None, help="only the first N dev claims")
    args = parser.parse_args()
    print(json.dumps(asyncio.run(measure(Depth(args.depth), args.limit)), indent=2))


if __name__ == "__main__":
    main()
