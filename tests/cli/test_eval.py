"""`autointel eval factcheck` on a few CLIMATE-FEVER claims with the scripted model."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from cli import main
from fakes.openai_server import ScriptedOpenAI, point_settings_at

DATA = Path(__file__).parent.parent / "data"


def always_supported(_body: dict[str, Any]) -> dict[str, Any]:
    return {"verdict": "supported", "confidence": 0.7, "rationale": "scripted", "evidence_used": [1]}


@pytest.fixture(autouse=True)
def _env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("AUTOINTEL_DATA_DIR", str(tmp_path / "data"))
    server = ScriptedOpenAI(replies={"VerdictOutput": always_supported})
    base = server.start_in_thread()
    point_settings_at(base, monkeypatch.setenv)
    yield
    server.stop_thread()


def test_eval_reports_accuracy_f1_confusion_and_baseline(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    out_json = tmp_path / "eval.json"
    code = main(
        ["eval", "factcheck", str(DATA / "climate_fever_dev.jsonl"), "--limit", "12", "--json", str(out_json)]
    )
    assert code == 0
    report = json.loads(out_json.read_text())
    rows = [json.loads(line) for line in (DATA / "climate_fever_dev.jsonl").read_text().splitlines()[:12]]
    supports = sum(r["claim_label"] == "SUPPORTS" for r in rows)
    assert report["product"]["n"] == 12
    assert report["product"]["accuracy"] == round(supports / 12, 4)  # every claim judged "supported"
    assert sum(report["product"]["confusion"]["SUPPORTS"].values()) == supports
    assert report["evidence_sentences"] > 12
    out = capsys.readouterr().out
    assert "accuracy" in out and "majority" in out and "NOT_ENOUGH_INFO" in out


def test_eval_bad_dataset_is_one_line(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert main(["eval", "factcheck", str(tmp_path / "missing.jsonl")]) == 1
    assert capsys.readouterr().err.strip() == f"autointel: dataset not found: {tmp_path / 'missing.jsonl'}"
    broken = tmp_path / "broken.jsonl"
    broken.write_text('{"claim": "x", "claim_label": "SUPPORTS"}\nnot json\n')
    assert main(["eval", "factcheck", str(broken)]) == 1
    assert f"{broken}:2: not valid JSON" in capsys.readouterr().err
