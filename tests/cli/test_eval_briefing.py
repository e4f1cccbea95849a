"""`autointel eval briefing` on the spoken claims clip with the embedded defaults (no model server)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cli import main

DATA = Path(__file__).parent.parent / "data"
GOLD = [
    {"claim": "The Eiffel Tower was completed in 1889.", "label": "SUPPORTS"},
    {"claim": "The Great Wall of China is visible from the Moon with the naked eye.", "label": "refuted"},
    {"claim": "Water boils at 100 degrees Celsius at sea level.", "label": "supported"},
    {"claim": "Octopuses have three hearts.", "label": "supported"},
]
REFERENCE = [
    {
        "text": "The Eiffel Tower was completed in 1889 for the World's Fair in Paris.",
        "source": "Eiffel Tower",
    },
    {
        "text": "The Great Wall of China is not visible from the Moon with the naked eye.",
        "source": "Great Wall",
    },
    {"text": "At sea level, water boils at 100 degrees Celsius.", "source": "Boiling point"},
]


@pytest.fixture(autouse=True)
def _env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("AUTOINTEL_DATA_DIR", str(tmp_path / "data"))
    for name in ("LLM_BASE_URL", "EMBEDDINGS_BASE_URL", "REDIS_URL", "DATABASE_URL", "QDRANT_URL"):
        monkeypatch.delenv(name, raising=False)


def write_jsonl(path: Path, rows: list[dict[str, str]]) -> Path:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return path


def test_the_briefing_is_scored_against_gold_claims(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    gold, reference = (
        write_jsonl(tmp_path / "gold.jsonl", GOLD),
        write_jsonl(tmp_path / "ref.jsonl", REFERENCE),
    )
    out = tmp_path / "scores.json"
    argv = [
        "eval",
        "briefing",
        str(DATA / "claims.ogg"),
        str(gold),
        "--reference",
        str(reference),
        "--json",
        str(out),
    ]
    assert main(argv) == 0
    scores = json.loads(out.read_text())
    assert scores["placeholders"] == 0 and scores["duplicates"] == 0 and scores["grounded_share"] == 1.0
    assert scores["claims"] == 3 and scores["claims_matching_gold"] == 1.0
    assert scores["gold_found"] == 0.75  # the octopus was never said
    assert scores["checked_matches"] == 3 and scores["verdict_accuracy"] is not None
    assert set(scores["stage_seconds"]) == {"acquire", "transcribe", "analyze", "verify", "remember", "brief"}
    assert "claims" in scores["extractive"] and scores["gate_seconds"] > 0
    assert "gold_found" in capsys.readouterr().out
    assert not (tmp_path / "data").exists()  # a throwaway data dir: nothing of the user's is touched


def test_bad_gold_files_are_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["eval", "briefing", str(DATA / "claims.ogg"), str(tmp_path / "none.jsonl")]) == 1
    assert capsys.readouterr().err.strip() == f"autointel: gold file not found: {tmp_path / 'none.jsonl'}"
    bad = write_jsonl(tmp_path / "bad.jsonl", [{"claim": "x", "label": "maybe"}])
    assert main(["eval", "briefing", str(DATA / "claims.ogg"), str(bad)]) == 1
    assert f"{bad}:1: expected 'claim' and a 'label'" in capsys.readouterr().err
    good = write_jsonl(tmp_path / "gold.jsonl", GOLD)
    assert main(["eval", "briefing", str(DATA / "claims.ogg"), str(good), "--reference", "missing.txt"]) == 1
    assert capsys.readouterr().err.strip() == "autointel: reference corpus not found: missing.txt"
