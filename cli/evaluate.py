"""`autointel eval factcheck DATASET.jsonl`: the fact-check stage measured on a labelled claim set.

The dataset format is CLIMATE-FEVER's (Diggelmann et al., 2020, arXiv:2012.00614): one JSON
object per line with `claim`, `claim_label` (SUPPORTS / REFUTES / NOT_ENOUGH_INFO / DISPUTED)
and `evidences` (each with `evidence` and `article`). Every evidence sentence is loaded into a
throwaway in-memory reference memory, then each claim goes through the product's own
retrieval + verification path (`pipelines.verify.check_claim`) with the configured model.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from crews.builder import run_all
from pipelines.evaluation import calibration, classification_report
from pipelines.models import Claim
from pipelines.stage import Resources
from pipelines.store import RunStore
from routing.budget import Budget
from routing.catalog import max_concurrency
from routing.router import Router
from routing.stats import StatsStore
from settings import Settings

LABELS = ["SUPPORTS", "REFUTES", "NOT_ENOUGH_INFO", "DISPUTED"]
VERDICT_LABELS = {
    "supported": "SUPPORTS",
    "refuted": "REFUTES",
    "not_enough_evidence": "NOT_ENOUGH_INFO",
    "disputed": "DISPUTED",
}


class DatasetError(ValueError):
    """The dataset file is missing or not in the expected format."""


def jsonl_rows(path: Path, error: type[ValueError], what: str) -> Iterator[tuple[int, Any]]:
    """(line number, parsed value) of each non-empty line; `error` when the file or a line is bad."""
    if not path.is_file():
        raise error(f"{what} not found: {path}")
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise error(f"{path}:{number}: not valid JSON ({exc.msg})") from exc
        yield number, row


def load_dataset(path: Path, limit: int | None) -> list[dict[str, Any]]:
    """Parse the JSONL file, checking each line has a claim, a known label and evidences."""
    rows: list[dict[str, Any]] = []
    for number, row in jsonl_rows(path, DatasetError, "dataset"):
        if not isinstance(row, dict) or not row.get("claim") or row.get("claim_label") not in LABELS:
            raise DatasetError(f"{path}:{number}: expected 'claim' and a claim_label in {', '.join(LABELS)}")
        rows.append(row)
        if limit is not None and len(rows) >= limit:
            break
    if not rows:
        raise DatasetError(f"{path}: no claims")
    return rows


async def evaluate_factcheck(settings: Settings, rows: list[dict[str, Any]], dataset: Path) -> dict[str, Any]:
    """Run every claim through retrieval + verification; return the figures."""
    from memory.corpus import evidence_items
    from memory.embeddings import build_embedder
    from memory.vector import REFERENCE_NAMESPACE, VectorMemory
    from pipelines.verify import check_claim

    embedder = build_embedder(settings)
    memory = await VectorMemory.open(settings, embedder, location=":memory:")
    store = await RunStore.open(settings.database_url)
    try:
        items = [
            item
            for number, row in enumerate(rows, start=1)
            for item in evidence_items(row.get("evidences") or [], dataset, number)
        ]
        started = time.perf_counter()
        await memory.upsert(REFERENCE_NAMESPACE, items)
        ingest_seconds = time.perf_counter() - started
        router = Router(settings, StatsStore(store.engine))
        resources = Resources(settings, memory=memory, embedder=embedder, router=router)
        budget = Budget(10**12)
        claims = [
            Claim(id=i + 1, text=row["claim"], timestamp=0.0, checkworthiness=3) for i, row in enumerate(rows)
        ]

        def job(claim: Claim) -> Any:
            return lambda: check_claim(resources, REFERENCE_NAMESPACE, claim, budget, None)

        started = time.perf_counter()
        checked = await run_all(
            [job(c) for c in claims],
            parallel=settings.flags.parallel_fact_checking,
            limit=max_concurrency(settings),
        )
        verify_seconds = time.perf_counter() - started
        gold = [row["claim_label"] for row in rows]
        predicted = [VERDICT_LABELS[c.verdict] if c.verdict else "NOT_ENOUGH_INFO" for c in checked]
        for claim, truth, guess in zip(checked, gold, predicted, strict=True):
            if claim.model:  # the router learns each model's fact-check accuracy as its quality
                await resources.router.learn_quality("fact_check", claim.model, float(truth == guess))
    finally:
        await store.close()
        await memory.close()
        await embedder.close()
    majority = Counter(gold).most_common(1)[0][0]
    return {
        "model": budget.model_names(),
        "product": classification_report(gold, predicted, LABELS),
        "majority_baseline": {
            "label": majority,
            **classification_report(gold, [majority] * len(gold), LABELS),
        },
        "calibration": calibration(
            [c.confidence for c in checked], [t == p for t, p in zip(gold, predicted, strict=True)]
        ),
        "failed_checks": sum(1 for c in checked if c.failure),
        "evidence_sentences": len(items),
        "ingest_seconds": round(ingest_seconds, 2),
        "verify_seconds": round(verify_seconds, 2),
    }


def print_report(report: dict[str, Any]) -> None:
    """The figures as a readable table and confusion matrix."""
    console = Console(highlight=False)
    product, baseline = report["product"], report["majority_baseline"]
    console.print(
        f"model: {report['model']}  claims: {product['n']}  failed checks: {report['failed_checks']}"
    )
    table = Table("", "accuracy", "macro-F1")
    table.add_row("product", f"{product['accuracy']:.3f}", f"{product['macro_f1']:.3f}")
    table.add_row(
        f"majority ({baseline['label']})", f"{baseline['accuracy']:.3f}", f"{baseline['macro_f1']:.3f}"
    )
    console.print(table)
    labels = Table("verdict", "precision", "recall", "F1", "predicted", "gold")
    for label in LABELS:
        row = product["per_label"][label]
        labels.add_row(
            label,
            f"{row['precision']:.3f}",
            f"{row['recall']:.3f}",
            f"{row['f1']:.3f}",
            str(row["predicted"]),
            str(row["gold"]),
        )
    console.print(labels)
    bins = Table("confidence", "verdicts", "mean confidence", "accuracy")
    for row in report["calibration"]:
        shown = [f"{row[k]:.3f}" if row[k] is not None else "-" for k in ("mean_confidence", "accuracy")]
        bins.add_row(row["bin"], str(row["n"]), *shown)
    console.print(bins)
    matrix = Table("gold \\ predicted", *LABELS)
    for gold in LABELS:
        matrix.add_row(gold, *(str(product["confusion"][gold][p]) for p in LABELS))
    console.print(matrix)


async def run_eval(settings: Settings, dataset: str, limit: int | None, json_path: str | None) -> int:
    """Entry of the `eval factcheck` command; returns the exit code."""
    from pipelines.errors import describe

    try:
        rows = load_dataset(Path(dataset), limit)
        report = await evaluate_factcheck(settings, rows, Path(dataset))
    except DatasetError as exc:
        print(f"autointel: {exc}", file=sys.stderr)
        return 1
    except Exception as exc:  # the CLI boundary: one line
        print(f"autointel: {describe(exc)}", file=sys.stderr)
        return 1
    print_report(report)
    if json_path:
        await asyncio.to_thread(Path(json_path).write_text, json.dumps(report, indent=2), encoding="utf-8")
    return 0
