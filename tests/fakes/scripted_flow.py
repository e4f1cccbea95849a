"""Scripted replies for every crew task, a reference corpus, and a helper that runs the whole flow.

The replies are grounded in tests/data/claims.ogg (spoken: the three CLAIMS), the flow's
default media, so the quality gates keep them; run on other media they are dropped."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from pipelines.models import Depth
from pipelines.runner import RunResult, execute, submit
from pipelines.service import open_services
from pipelines.sources import normalise_source
from settings import Settings

DATA = Path(__file__).parent.parent / "data"

CLAIMS = [
    ("The Eiffel Tower was completed in 1889.", 5, ["Eiffel Tower"], "supported"),
    ("The Great Wall of China is visible from the Moon with the naked eye.", 4, ["Great Wall"], "refuted"),
    ("Water boils at 100 degrees Celsius at sea level.", 3, ["water"], "supported"),
]
REFERENCE = [
    ("The Eiffel Tower was completed in 1889 for the World's Fair in Paris.", "Eiffel Tower"),
    ("The Great Wall of China is not visible from the Moon with the naked eye.", "Great Wall of China"),
    ("At sea level water boils at 100 degrees Celsius.", "Boiling point"),
]


def verdict_for(body: dict[str, Any]) -> dict[str, Any]:
    """Scripted fact-check: the verdict of whichever scripted claim the prompt names."""
    prompt = " ".join(str(m.get("content", "")) for m in body["messages"])
    claim = re.search(r"CLAIM: (.+)", prompt)
    text = claim.group(1).strip() if claim else ""
    verdict = next((v for c, _, _, v in CLAIMS if c == text), "not_enough_evidence")
    return {"verdict": verdict, "confidence": 0.9, "rationale": f"Scripted: {verdict}.", "evidence_used": [1]}


REPLIES: dict[str, Any] = {
    "SummaryOutput": {
        "title": "Ask not",
        "tldr": "The Great Wall of China is said to be visible from the Moon with the naked eye.",
        "key_points": [{"timestamp": 7, "point": "The Great Wall of China is visible from the Moon."}],
    },
    "ClaimsOutput": {
        "claims": [
            {"text": text, "timestamp": i * 2.0, "checkworthiness": worth, "entities": entities}
            for i, (text, worth, entities, _) in enumerate(CLAIMS)
        ]
    },
    "FallaciesOutput": {
        "fallacies": [
            {
                "name": "Appeal to common belief",
                "quote": "visible from the moon",
                "explanation": "A popular belief offered as fact.",
                "timestamp": 1,
            }
        ]
    },
    "PerspectivesOutput": {
        "perspectives": [{"viewpoint": "Civic duty", "assessment": "Presented favourably."}],
        "bias": "One-sided appeal.",
    },
    "VerdictOutput": verdict_for,
}


async def run_flow(settings: Settings, depth: Depth, source: Path = DATA / "claims.ogg") -> RunResult:
    """Ingest the reference corpus, then run the whole flow on `source`."""
    from memory.vector import REFERENCE_NAMESPACE, MemoryItem

    async with open_services(settings) as (store, resources):
        items = [MemoryItem(text=t, kind="reference", source=s) for t, s in REFERENCE]
        await resources.memory.upsert(REFERENCE_NAMESPACE, items)
        run = await submit(store, normalise_source(str(source)), depth)
        return await execute(store, resources, run.id)
