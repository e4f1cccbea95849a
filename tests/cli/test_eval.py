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
    return {
        "verdict": "supported",
        "confidence": 0.7,
        "rationale": "Evidence [1] confirms the claim.",
        "evidence_used": [1],
    }


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
    product = report["product"]
    assert product["n"] == 12
    # the model says "supported" every time; only the evidence-consistency judge may veto it
    said = {label: product["per_label"][label]["predicted"] for label in product["per_label"]}
    assert said["NOT_ENOUGH_INFO"] == 0 and said["SUPPORTS"] + said["REFUTES"] + said["DISPUTED"] == 12
    assert product["per_label"]["SUPPORTS"]["gold"] == supports
    right = product["confusion"]["SUPPORTS"]["SUPPORTS"]
    assert product["per_label"]["SUPPORTS"]["precision"] == round(right / said["SUPPORTS"], 4)
    assert sum(row["n"] for row in report["calibration"]) == 12
    assert [row["bin"] for row in report["calibration"]] == [
        "0.0-0.2",
        "0.2-0.4",
        "0.4-0.6",
        "0.6-0.8",
        "0.8-1.0",
    ]
    assert report["evidence_sentences"] > 12
    out = capsys.readouterr().out
    assert "accuracy" in out and "majority" in out and "NOT_ENOUGH_INFO" in out
    assert "precision" in out and "recall" in out and "mean confidence" in out


def test_eval_without_a_model_judges_from_the_evidence_alone(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    for name in ("LLM_BASE_URL", "LLM_MODEL", "EMBEDDINGS_BASE_URL", "EMBEDDINGS_MODEL"):
        monkeypatch.delenv(name)
    out_json = tmp_path / "eval.json"
    assert (
        main(
            [
                "eval",
                "factcheck",
                str(DATA / "climate_fever_dev.jsonl"),
                "--limit",
                "40",
                "--json",
                str(out_json),
            ]
        )
        == 0
    )
    report = json.loads(out_json.read_text())
    assert report["model"] is None  # the embedded model is never asked for a verdict
    per_label = report["product"]["per_label"]
    assert per_label["SUPPORTS"]["predicted"] > 0 and per_label["NOT_ENOUGH_INFO"]["predicted"] > 0


def test_eval_bad_dataset_is_one_line(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert main(["eval", "factcheck", str(tmp_path / "missing.jsonl")]) == 1
    assert capsys.readouterr().err.strip() == f"autointel: dataset not found: {tmp_path / 'missing.jsonl'}"
    broken = tmp_path / "broken.jsonl"
    broken.write_text('{"claim": "x", "claim_label": "SUPPORTS"}\nnot json\n')
    assert main(["eval", "factcheck", str(broken)]) == 1
    assert f"{broken}:2: not valid JSON" in capsys.readouterr().err
