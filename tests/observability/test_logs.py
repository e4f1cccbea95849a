"""Structured logs: run context on every line of a run, secrets never printed."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from cli import main
from fakes.openai_server import ScriptedOpenAI, point_settings_at
from fakes.scripted_flow import REPLIES
from observability.logs import _NOISY, MASK, log_context, setup_logging

JFK = Path(__file__).parent.parent / "data" / "jfk.flac"
TOKEN = "MTE0.discord-bot-token-for-the-test"
API_KEY = "sk-test-api-key-0123456789"
DB_PASSWORD = "pg-password-4567"


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    """Put the root handlers and every logger level back (DEBUG runs open up library loggers)."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    levels = {name: logging.getLogger(name).level for name in [*logging.root.manager.loggerDict, *_NOISY]}
    yield
    root.handlers[:], root.level = handlers, level
    for name, previous in levels.items():
        logging.getLogger(name).setLevel(previous)


def test_context_fields_and_masked_secrets(capsys: pytest.CaptureFixture[str]) -> None:
    setup_logging("INFO", json_lines=True, secrets=[API_KEY])
    log = logging.getLogger("pipelines.test")
    with log_context(run_id="r1", guild="42"), log_context(stage="analyze"):
        log.info("calling the model with key %s", API_KEY)
        try:
            raise RuntimeError(f"refused {API_KEY}")
        except RuntimeError:
            log.exception("failed")
    log.info("outside")
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines()]
    assert [line["message"] for line in lines] == [f"calling the model with key {MASK}", "failed", "outside"]
    assert lines[0]["run_id"] == "r1" and lines[0]["guild"] == "42" and lines[0]["stage"] == "analyze"
    assert API_KEY not in lines[1]["exception"] and "RuntimeError" in lines[1]["exception"]
    assert "run_id" not in lines[2]


def test_a_cli_run_logs_its_context_and_no_secret(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    server = ScriptedOpenAI(replies=dict(REPLIES))
    point_settings_at(server.start_in_thread(), monkeypatch.setenv)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("AUTOINTEL_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("LOG_LEVEL", "DEBUG")
    monkeypatch.setenv("LOG_JSON", "true")
    monkeypatch.setenv("LLM_API_KEY", API_KEY)
    monkeypatch.setenv("DISCORD_BOT_TOKEN", TOKEN)
    monkeypatch.setenv("QDRANT_API_KEY", DB_PASSWORD)
    try:
        assert main(["analyze", str(JFK), "--depth", "quick"]) == 0
    finally:
        server.stop_thread()
    err = capsys.readouterr().err
    assert API_KEY not in err and TOKEN not in err and DB_PASSWORD not in err
    lines = [json.loads(line) for line in err.splitlines() if line.startswith("{")]
    ours = [line for line in lines if line["logger"].startswith(("pipelines", "crews", "routing"))]
    assert ours and all("run_id" in line for line in ours)
    assert any(line.get("stage") == "transcribe" for line in ours)
