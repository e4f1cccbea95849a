"""Settings: contract names, one readable error naming every bad variable, secrets hidden."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from settings import SettingsError, load_settings

ROOT = Path(__file__).parent.parent


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)  # no stray .env


def test_contract_names_are_read(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("DISCORD_GUILD_IDS", "123, 456")
    monkeypatch.setenv("AUTOINTEL_DATA_DIR", str(tmp_path / "d"))
    monkeypatch.setenv("ALLOW_PRIVATE_URLS", "true")
    monkeypatch.setenv("ENABLE_PARALLEL_FACT_CHECKING", "false")
    monkeypatch.setenv("WHISPER_DEVICE", "cpu")
    monkeypatch.setenv("EMBEDDINGS_MODEL", "all-minilm")
    monkeypatch.setenv("METRICS_PORT", "9200")
    settings = load_settings()
    assert settings.discord.guild_ids == [123, 456]
    assert settings.pipeline.data_dir == tmp_path / "d"
    assert settings.pipeline.allow_private_urls is True
    assert settings.flags.parallel_fact_checking is False
    assert settings.flags.parallel_analysis is True
    assert settings.whisper.device == "cpu"
    assert settings.llm.embeddings_model == "all-minilm"
    assert settings.observability.metrics_port == 9200
    assert settings.database_url == f"sqlite+aiosqlite:///{(tmp_path / 'd' / 'autointel.db').resolve()}"


def test_dotenv_file_is_read(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("REDIS_URL=redis://127.0.0.1:6379/0\nMAX_MEDIA_DURATION_SECONDS=60\n")
    settings = load_settings()
    assert settings.redis.url is not None
    assert settings.redis.url.get_secret_value() == "redis://127.0.0.1:6379/0"
    assert settings.pipeline.max_duration_seconds == 60


def test_env_example_loads_as_is(tmp_path: Path) -> None:
    """A copy of .env.example is a valid configuration (blank lines mean defaults)."""
    (tmp_path / ".env").write_text((ROOT / ".env.example").read_text(encoding="utf-8"), encoding="utf-8")
    settings = load_settings()
    assert settings.router.models == [] and settings.router.seed is None
    assert settings.compression.enabled is False and settings.compression.model_dir is None
    assert settings.cache.enabled is True


def test_router_models_from_json(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(
        "ROUTER_MODELS", '[{"name": "fast", "base_url": "http://127.0.0.1:8000/v1", "quality": 0.4}]'
    )
    [spec] = load_settings().router.models
    assert (spec.name, spec.quality, spec.structured_output) == ("fast", 0.4, "json_schema")
    monkeypatch.setenv("ROUTER_MODELS", "[{")
    with pytest.raises(SettingsError, match=r"ROUTER_MODELS: .*not valid JSON"):
        load_settings()


def test_every_bad_field_is_named_in_one_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WHISPER_DEVICE", "gpu")
    monkeypatch.setenv("ENABLE_PARALLEL_ANALYSIS", "maybe")
    monkeypatch.setenv("MAX_MEDIA_DURATION_SECONDS", "-5")
    monkeypatch.setenv("DATABASE_URL", "mysql://root@localhost/x")
    monkeypatch.setenv("DISCORD_GUILD_IDS", "abc")
    with pytest.raises(SettingsError) as caught:
        load_settings()
    message = str(caught.value)
    for name in (
        "WHISPER_DEVICE",
        "ENABLE_PARALLEL_ANALYSIS",
        "MAX_MEDIA_DURATION_SECONDS",
        "DATABASE_URL",
        "DISCORD_GUILD_IDS",
    ):
        assert name in message
    assert "\n" not in message


def test_secrets_are_never_printed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DISCORD_BOT_TOKEN", "tok-very-secret")
    monkeypatch.setenv("LLM_API_KEY", "sk-very-secret")
    monkeypatch.setenv("QDRANT_API_KEY", "qd-very-secret")
    settings = load_settings()
    assert settings.discord.bot_token is not None
    assert settings.discord.bot_token.get_secret_value() == "tok-very-secret"
    shown = repr(settings) + str(settings.discord) + str(settings.llm) + str(settings.qdrant)
    assert "very-secret" not in shown


def test_cli_reports_bad_settings_in_one_line_and_exits_2(tmp_path: Path) -> None:
    env = {"PATH": "/usr/bin:/bin", "WHISPER_BEAM_SIZE": "zero", "LLM_API_KEY": "sk-very-secret"}
    done = subprocess.run(
        [sys.executable, "-m", "cli", "runs"],
        cwd=tmp_path,
        env=env | {"PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [done.stderr.strip()]
    assert done.stderr.startswith("autointel: invalid settings: WHISPER_BEAM_SIZE")
    assert "Traceback" not in done.stderr and "very-secret" not in done.stderr
