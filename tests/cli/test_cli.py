"""The `autointel` CLI end to end on the real pipeline (local files, SQLite store in tmp)."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from cli import main
from fakes.openai_server import ScriptedOpenAI, point_settings_at
from fakes.scripted_flow import REPLIES

DATA = Path(__file__).parent.parent / "data"


@pytest.fixture(autouse=True)
def _env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[ScriptedOpenAI]:
    """A data dir in tmp and every model call answered by the scripted server."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("AUTOINTEL_DATA_DIR", str(tmp_path / "data"))
    server = ScriptedOpenAI(replies=dict(REPLIES))
    base = server.start_in_thread()
    point_settings_at(base, monkeypatch.setenv)
    yield server
    server.stop_thread()


def test_analyze_prints_run_timings_and_transcript(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    out_json, out_md = tmp_path / "result.json", tmp_path / "briefing.md"
    argv = [
        "analyze",
        str(DATA / "claims.ogg"),
        "--depth",
        "quick",
        "--json",
        str(out_json),
        "--markdown",
        str(out_md),
    ]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "[1/5] acquire" in out and "[5/5] brief" in out
    assert "transcript: whisper, en, 14.7s" in out
    assert "Ask not" in out and "The Eiffel Tower was completed in 1889." in out
    assert out_md.read_text().startswith("# Ask not")
    result = json.loads(out_json.read_text())
    assert result["run"]["status"] == "succeeded"
    assert [s["stage"] for s in result["stages"]] == ["acquire", "transcribe", "analyze", "remember", "brief"]
    assert "Eiffel Tower" in result["outputs"]["transcribe"]["segments"][0]["text"]
    assert result["outputs"]["transcribe"]["segments"][0]["start"] == 0.0
    assert result["run"]["id"] in out


def test_repeat_is_answered_from_the_store_and_fresh_recomputes(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["analyze", str(DATA / "jfk.flac"), "--depth", "quick"]) == 0
    first = capsys.readouterr().out
    run_id = first.split()[1]
    assert main(["analyze", str(DATA / "jfk.flac"), "--depth", "quick"]) == 0
    repeat = capsys.readouterr().out
    assert repeat.startswith(f"answered from run {run_id}") and "Ask not" in repeat
    assert main(["analyze", str(DATA / "jfk.flac"), "--depth", "deep"]) == 0  # another depth: a new run
    assert "answered from" not in capsys.readouterr().out
    assert main(["analyze", str(DATA / "jfk.flac"), "--depth", "quick", "--fresh"]) == 0
    fresh = capsys.readouterr().out
    assert "reused" not in fresh and "answered from" not in fresh and run_id not in fresh


def test_bad_source_is_one_line_and_exit_1(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert main(["analyze", str(tmp_path / "missing.mp3")]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("autointel: file not found") and "\n" not in err


def test_failed_stage_is_recorded_and_listed(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    fake = tmp_path / "notes.mp3"
    fake.write_text("these are not audio bytes\n" * 20)
    assert main(["analyze", str(fake)]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("autointel: ") and "\n" not in err
    assert main(["runs"]) == 0
    listing = capsys.readouterr().out
    assert "failed: not_media" in listing
    assert "✗acquire" in listing


def test_runs_lists_stage_status(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert main(["runs"]) == 0
    assert "no runs yet" in capsys.readouterr().out
    clip = tmp_path / "clip.flac"
    shutil.copy(DATA / "jfk.flac", clip)
    assert main(["analyze", str(clip), "--depth", "deep"]) == 0
    capsys.readouterr()
    assert main(["runs"]) == 0
    listing = capsys.readouterr().out
    assert "✓acquire ✓transcribe" in listing and "deep" in listing and "succeeded" in listing


def test_runs_show_prints_the_timeline(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["analyze", str(DATA / "jfk.flac"), "--depth", "standard"]) == 0
    run_id = capsys.readouterr().out.split("run ", 1)[1].split()[0]
    assert main(["runs", "show", run_id[:8]]) == 0
    timeline = capsys.readouterr().out
    assert f"run {run_id}" in timeline and "standard" in timeline
    for stage in ("acquire", "transcribe", "analyze", "verify", "remember", "brief"):
        assert stage in timeline
    assert "scripted" in timeline  # the model that answered the analysis and the checks
    # the scripted claims are about landmarks, not the JFK clip: the gates dropped them
    assert "claims: 0 kept, 3 ungrounded, 0 duplicate(s), 0 placeholder answer(s)" in timeline
    assert "extractive: key points, TL;DR, claims" in timeline
    assert "evidence" in timeline and "memory" in timeline  # every source tried, per claim
    assert main(["runs", "show", "ffffffffff"]) == 1
    assert "no run with id" in capsys.readouterr().err


def test_db_upgrade_reports_the_schema_revision(capsys: pytest.CaptureFixture[str]) -> None:
    from pipelines.store import head_revision

    assert main(["db", "upgrade"]) == 0
    assert f"schema revision {head_revision()}" in capsys.readouterr().out


def test_models_lists_the_catalogue_with_live_statistics(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["models", "--json"]) == 0
    [before] = json.loads(capsys.readouterr().out)["models"]
    assert before["name"] == "scripted" and before["stats"]["calls"] == 0
    assert main(["analyze", str(DATA / "jfk.flac"), "--depth", "quick"]) == 0
    capsys.readouterr()
    assert main(["models", "--json"]) == 0
    [after] = json.loads(capsys.readouterr().out)["models"]
    assert after["stats"]["calls"] == 2 and after["stats"]["success_rate"] == 1.0
    assert set(after["tasks"]) == {"summary", "claims"}
    assert after["stats"]["mean_latency_seconds"] > 0
    assert main(["models", "--tasks"]) == 0
    table = capsys.readouterr().out
    assert "scripted" in table and "summary" in table and "claims" in table
