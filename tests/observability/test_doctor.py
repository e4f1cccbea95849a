"""`autointel doctor`: every failure mode with its fix and exit code, no secrets in the output, no changes."""

from __future__ import annotations

import importlib.util
import json
import socket
import sqlite3
import subprocess
import sys
import types
from collections import namedtuple
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from cli.doctor import run_doctor
from e2e.discord_emulator import DiscordEmulator
from fakes.mediawiki_server import MediaWikiServer
from fakes.openai_server import Fault, ScriptedOpenAI
from fakes.rerank_server import RerankServer
from fakes.searxng_server import FakePage, SearxNGServer
from fakes.searxng_server import Fault as HTTPFault
from fakes.zim_archive import build_zim
from observability import doctor, host_checks
from observability.checks import (
    CheckResult,
    Status,
    check_database,
    check_discord,
    check_redis,
    hide_password,
)
from observability.doctor import DoctorReport, run_checks
from observability.evidence_checks import check_reranker, check_searxng, check_wikipedia, check_zim
from observability.memory_checks import check_memory
from pipelines.store import RunStore, head_revision
from settings import Settings, SettingsError, load_settings

MakeSettings = Callable[..., Settings]


def closed_port() -> int:
    """A local port nobody listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def by_label(results: list[CheckResult]) -> dict[str, CheckResult]:
    return {result.label: result for result in results}


@pytest.fixture
async def emulator() -> AsyncIterator[DiscordEmulator]:
    emu = DiscordEmulator()
    await emu.start()
    yield emu
    await emu.stop()
    assert not emu.internal_errors


@pytest.fixture
async def model_server() -> AsyncIterator[ScriptedOpenAI]:
    server = ScriptedOpenAI()
    await server.start()
    yield server
    await server.stop()


# --- the whole doctor ----------------------------------------------------------------------------


def test_the_doctor_never_imports_crewai(tmp_path: Path) -> None:
    """In a fresh interpreter (other tests import CrewAI into this one)."""
    script = (
        "import asyncio, sys\n"
        "from observability.doctor import run_checks\n"
        "from settings import load_settings\n"
        "asyncio.run(run_checks(load_settings(pipeline={'data_dir': sys.argv[1]})))\n"
        "print('crewai' in sys.modules)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path / "data")], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "False"


async def test_default_settings_run_everything_and_change_nothing(
    make_settings: MakeSettings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = make_settings()
    code = await run_doctor(settings, None, as_json=True)
    report = json.loads(capsys.readouterr().out)
    rows = {row["label"]: row for row in report["checks"]}
    assert set(rows) == {
        "settings",
        "discord",
        "database",
        "redis",
        "embeddings",
        "vector memory",
        "LLM",
        "whisper",
        "GPU (CUDA)",
        "ffmpeg",
        "disk",
        "prompt compression",
        "CrewAI telemetry",
    }
    assert all(set(row) == {"status", "label", "details", "fix"} for row in report["checks"])
    assert rows["settings"]["status"] == "ok"
    assert rows["discord"]["status"] == "warn" and "no DISCORD_BOT_TOKEN" in rows["discord"]["details"]
    assert rows["database"]["status"] == "warn" and "autointel db upgrade" in rows["database"]["fix"]
    assert rows["redis"] == {
        "status": "ok",
        "label": "redis",
        "details": "not configured (in-process queue)",
        "fix": "",
    }
    assert rows["embeddings"]["status"] == "ok" and "384" in rows["embeddings"]["details"]
    assert rows["vector memory"]["status"] == "ok" and "not created yet" in rows["vector memory"]["details"]
    assert rows["LLM"]["status"] == "ok" and "SmolLM2" in rows["LLM"]["details"]
    assert rows["whisper"]["status"] == "ok", rows["whisper"]
    assert "tiny.en (bundled)" in rows["whisper"]["details"]
    assert rows["CrewAI telemetry"]["status"] == "ok"
    summary = report["summary"]
    assert summary["exit_code"] == code == 1 and summary["fail"] == 0 and summary["warn"] >= 2
    assert summary["ok"] + summary["warn"] == len(rows)
    assert not (tmp_path / "data").exists()  # no SQLite file, no Qdrant folder, no data dir


async def test_invalid_settings_fail_with_their_text_and_exit_2(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DATABASE_URL", "mysql://db/x")
    with pytest.raises(SettingsError) as error:
        load_settings()
    code = await run_doctor(None, str(error.value), as_json=False)
    out = capsys.readouterr().out
    assert code == 2
    assert "✗" in out and "settings" in out and "DATABASE_URL" in out and "sqlite+aiosqlite" in out
    assert "skipped" in out
    report = await run_checks(None, str(error.value))
    rows = by_label(report.results)
    assert rows["settings"].status is Status.FAIL and "DATABASE_URL" in rows["settings"].details
    assert set(rows) == {"settings", "GPU (CUDA)", "ffmpeg", "CrewAI telemetry"}  # host checks still run
    assert report.exit_code == 2


async def test_json_never_shows_secrets(
    make_settings: MakeSettings, emulator: DiscordEmulator, capsys: pytest.CaptureFixture[str]
) -> None:
    token = "bad-token-ABCDEFGH"
    settings = make_settings(
        discord={"bot_token": token, "api_base_url": emulator.api_base_url},
        database={"url": "postgresql+asyncpg://postgres:pg%40secret-pw@127.0.0.1:1/x"},
        redis={"url": "redis://:redis-secret-pw@127.0.0.1:1/0"},
        llm={"base_url": f"http://127.0.0.1:{closed_port()}/v1", "api_key": "llm-secret-key"},
        whisper={"model": "/nonexistent"},
    )
    code = await run_doctor(settings, None, as_json=True)
    out = capsys.readouterr().out
    for secret in (token, "pg%40secret-pw", "pg@secret-pw", "redis-secret-pw", "llm-secret-key"):
        assert secret not in out
    rows = {row["label"]: row for row in json.loads(out)["checks"]}
    assert "postgres:***@127.0.0.1:1" in rows["database"]["details"]
    assert "redis://:***@127.0.0.1:1/0" in rows["redis"]["details"]
    assert code == 2


def test_exit_codes_and_password_hiding() -> None:
    def report(*statuses: Status) -> DoctorReport:
        return DoctorReport([CheckResult(s, f"c{i}", "") for i, s in enumerate(statuses)], 0.1)

    assert report(Status.OK, Status.OK).exit_code == 0
    assert report(Status.OK, Status.WARN).exit_code == 1
    assert report(Status.WARN, Status.FAIL, Status.OK).exit_code == 2
    assert report(Status.FAIL).summary() == {"ok": 0, "warn": 0, "fail": 1, "exit_code": 2, "seconds": 0.1}
    assert hide_password("redis://:pw@h:6379/0") == "redis://:***@h:6379/0"
    assert hide_password("postgresql+asyncpg://u:p%40ss@h/db") == "postgresql+asyncpg://u:***@h/db"
    assert hide_password("http://h:6333") == "http://h:6333"


# --- Discord -----------------------------------------------------------------------------------------


async def test_discord_good_token_and_permissions(
    make_settings: MakeSettings, emulator: DiscordEmulator
) -> None:
    guild_id = emulator.add_guild("Test guild")
    settings = make_settings(
        discord={
            "bot_token": emulator.bot_token,
            "api_base_url": emulator.api_base_url,
            "guild_ids": [guild_id],
        }
    )
    token, guild = await check_discord(settings)
    assert token.status is Status.OK and "token accepted" in token.details
    assert guild.status is Status.OK and "Test guild" in guild.details, guild
    assert all(r.method == "GET" for r in emulator.requests)  # read-only


async def test_discord_missing_permissions_and_unknown_guild_warn(
    make_settings: MakeSettings, emulator: DiscordEmulator
) -> None:
    guild_id = emulator.add_guild("Test guild")
    emulator.add_channel(guild_id, "briefings")
    emulator.set_bot_permissions(emulator.default_channel_id(guild_id), manage_webhooks=False)
    settings = make_settings(
        discord={
            "bot_token": emulator.bot_token,
            "api_base_url": emulator.api_base_url,
            "guild_ids": [guild_id, 42],
        }
    )
    token, guild, unknown = await check_discord(settings)
    assert token.status is Status.OK
    assert guild.status is Status.WARN
    assert "#general: Manage Webhooks" in guild.details and "briefings" not in guild.details
    assert "permissions" in guild.fix
    assert unknown.status is Status.WARN and unknown.label == "discord guild 42"
    assert "invite the bot" in unknown.fix


async def test_discord_bad_token_fails(make_settings: MakeSettings, emulator: DiscordEmulator) -> None:
    settings = make_settings(discord={"bot_token": "not-the-token", "api_base_url": emulator.api_base_url})
    [result] = await check_discord(settings)
    assert result.status is Status.FAIL and "token refused" in result.details
    assert "Reset Token" in result.fix and "not-the-token" not in result.details


async def test_discord_unreachable_or_unset(make_settings: MakeSettings) -> None:
    api = f"http://127.0.0.1:{closed_port()}/api/v10"
    [down] = await check_discord(make_settings(discord={"bot_token": "x" * 20, "api_base_url": api}))
    assert down.status is Status.FAIL and "cannot reach" in down.details
    assert "DISCORD_API_BASE_URL" in down.fix
    [unset] = await check_discord(make_settings())
    assert unset.status is Status.WARN and "DISCORD_BOT_TOKEN" in unset.fix


# --- database and Redis -------------------------------------------------------------------------------


async def test_database_current(make_settings: MakeSettings, store_url: str) -> None:
    await (await RunStore.open(store_url)).close()
    [result] = await check_database(make_settings(database={"url": store_url}))
    assert result.status is Status.OK and head_revision() in result.details


async def test_database_unreachable_fails(make_settings: MakeSettings) -> None:
    settings = make_settings(database={"url": "postgresql+asyncpg://postgres@127.0.0.1:1/x"})
    [result] = await check_database(settings)
    assert result.status is Status.FAIL and "cannot open postgresql+asyncpg://postgres@127.0.0.1:1/x" in (
        result.details
    )
    assert "DATABASE_URL" in result.fix


async def test_database_not_migrated_warns_and_stays_unmigrated(
    make_settings: MakeSettings, tmp_path: Path
) -> None:
    empty = tmp_path / "empty.db"
    sqlite3.connect(empty).close()
    [result] = await check_database(make_settings(database={"url": f"sqlite+aiosqlite:///{empty}"}))
    assert result.status is Status.WARN and "not migrated" in result.details
    assert result.fix == "run autointel db upgrade"
    with sqlite3.connect(empty) as conn:
        assert conn.execute("SELECT name FROM sqlite_master").fetchall() == []
    missing = tmp_path / "nowhere" / "autointel.db"
    [absent] = await check_database(make_settings(database={"url": f"sqlite+aiosqlite:///{missing}"}))
    assert absent.status is Status.WARN and absent.fix == "run autointel db upgrade"
    assert not missing.parent.exists()


async def test_database_older_and_unknown_revisions(make_settings: MakeSettings, tmp_path: Path) -> None:
    path = tmp_path / "store.db"
    await (await RunStore.open(f"sqlite+aiosqlite:///{path}")).close()
    settings = make_settings(database={"url": f"sqlite+aiosqlite:///{path}"})
    for revision, status in (("0003", Status.WARN), ("9999", Status.FAIL)):
        with sqlite3.connect(path) as conn:
            conn.execute("UPDATE alembic_version SET version_num = ?", (revision,))
        [result] = await check_database(settings)
        assert result.status is status and revision in result.details
    with sqlite3.connect(path) as conn:  # the doctor did not migrate it back
        assert conn.execute("SELECT version_num FROM alembic_version").fetchone() == ("9999",)


async def test_redis(make_settings: MakeSettings, redis_url: str) -> None:
    [up] = await check_redis(make_settings(redis={"url": redis_url}))
    assert up.status is Status.OK and "PONG" in up.details
    [down] = await check_redis(make_settings(redis={"url": "redis://127.0.0.1:1/0"}))
    assert down.status is Status.FAIL and "cannot reach redis://127.0.0.1:1/0" in down.details
    assert "start Redis" in down.fix


# --- memory and models ----------------------------------------------------------------------------


async def test_vector_sizes_must_match_the_embedder(
    make_settings: MakeSettings, model_server: ScriptedOpenAI, tmp_path: Path
) -> None:
    from qdrant_client import AsyncQdrantClient, models

    client = AsyncQdrantClient(path=str(tmp_path / "data" / "qdrant"))
    vectors = models.VectorParams(size=384, distance=models.Distance.COSINE)
    await client.create_collection("autointel_cli", vectors_config=vectors)
    await client.close()
    embedder, memory = await check_memory(make_settings())
    assert (embedder.status, memory.status) == (Status.OK, Status.OK)
    assert "1 collection(s), vector sizes match (384)" in memory.details
    endpoint = {"embeddings_base_url": model_server.base_url, "embeddings_model": "scripted"}
    embedder, memory = await check_memory(make_settings(llm=endpoint))
    assert embedder.status is Status.OK and "16-d" in embedder.details
    assert memory.status is Status.FAIL and "autointel_cli (384)" in memory.details
    assert "embedder that wrote them" in memory.fix


async def test_memory_servers_down(make_settings: MakeSettings) -> None:
    down = f"http://127.0.0.1:{closed_port()}"
    settings = make_settings(
        qdrant={"url": down}, llm={"embeddings_base_url": f"{down}/v1", "embeddings_model": "m"}
    )
    embedder, memory = await check_memory(settings)
    assert embedder.status is Status.FAIL and "EMBEDDINGS_BASE_URL" in embedder.fix
    assert memory.status is Status.FAIL and "cannot reach the Qdrant server" in memory.details
    assert "QDRANT_URL" in memory.fix


async def test_model_endpoint_ok_then_refusing_json_schema(
    make_settings: MakeSettings, model_server: ScriptedOpenAI
) -> None:
    settings = make_settings(llm={"base_url": model_server.base_url, "model": "scripted"})
    endpoint, structured = await doctor.check_llm(settings)
    assert endpoint.status is Status.OK and "serves scripted" in endpoint.details
    assert structured.status is Status.OK and structured.label == "LLM json_schema"
    assert model_server.requests[-1]["response_format"]["type"] == "json_schema"
    model_server.faults["DoctorProbe"] = Fault("http", 1, 400)
    _, refused = await doctor.check_llm(settings)
    assert refused.status is Status.FAIL and "scripted failure" in refused.details
    assert "LLM_STRUCTURED_OUTPUT=json_object" in refused.fix
    other = make_settings(
        llm={"base_url": model_server.base_url, "model": "missing", "structured_output": "json_object"}
    )
    listed, json_object = await doctor.check_llm(other)
    assert listed.status is Status.WARN and "it serves scripted" in listed.details
    assert json_object.status is Status.OK and json_object.label == "LLM json_object"


async def test_model_endpoint_down_fails(make_settings: MakeSettings) -> None:
    settings = make_settings(llm={"base_url": f"http://127.0.0.1:{closed_port()}/v1", "model": "m"})
    [result] = await doctor.check_llm(settings)
    assert result.status is Status.FAIL and "cannot reach" in result.details
    assert "LLM_BASE_URL" in result.fix


def test_missing_whisper_model_path_fails(make_settings: MakeSettings) -> None:
    result = host_checks.check_whisper(make_settings(whisper={"model": "/nonexistent"}).whisper)
    assert result.status is Status.FAIL and "/nonexistent" in result.details
    assert "WHISPER_MODEL" in result.fix


# --- host checks ------------------------------------------------------------------------------------


def test_gpu_ffmpeg_disk_thresholds(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import ctranslate2

    monkeypatch.setattr(ctranslate2, "get_cuda_device_count", lambda: 0)
    assert host_checks.check_gpu("auto").status is Status.OK
    no_gpu = host_checks.check_gpu("cuda")
    assert no_gpu.status is Status.WARN and "WHISPER_DEVICE" in no_gpu.fix
    monkeypatch.setattr(host_checks.shutil, "which", lambda _tool: None)
    ffmpeg = host_checks.check_ffmpeg()
    assert ffmpeg.status is Status.WARN and "ffmpeg, ffprobe" in ffmpeg.details
    usage = namedtuple("usage", "total used free")
    for free, status in (
        (10 * host_checks.GIB, Status.OK),
        (3 * host_checks.GIB, Status.WARN),
        (10**8, Status.FAIL),
    ):
        monkeypatch.setattr(host_checks.shutil, "disk_usage", lambda _path, free=free: usage(0, 0, free))
        result = host_checks.check_disk(tmp_path / "not" / "yet")
        assert result.status is status and str(tmp_path) in result.details
    assert not (tmp_path / "not").exists()


def test_telemetry_switches(monkeypatch: pytest.MonkeyPatch) -> None:
    assert host_checks.check_telemetry().status is Status.OK
    monkeypatch.setitem(sys.modules, "crewai", types.ModuleType("crewai"))  # "already imported"
    monkeypatch.setenv("CREWAI_DISABLE_TELEMETRY", "false")
    result = host_checks.check_telemetry()
    assert result.status is Status.FAIL and "CREWAI_DISABLE_TELEMETRY=true" in result.details


def test_compression_check(
    make_settings: MakeSettings, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    off = host_checks.check_compression(make_settings().compression)
    assert off.status is Status.OK and "off" in off.details
    empty = tmp_path / "empty-model"
    empty.mkdir()
    folder = host_checks.check_compression(
        make_settings(compression={"enabled": True, "model_dir": empty}).compression
    )
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        host_checks.importlib.util,
        "find_spec",
        lambda name: None if name == "llmlingua" else real_find_spec(name),
    )
    missing = host_checks.check_compression(make_settings(compression={"enabled": True}).compression)
    assert (
        missing.status is Status.WARN and "llmlingua" in missing.details and "uncompressed" in missing.details
    )
    assert "autointel[compression]" in missing.fix
    if folder.status is Status.WARN and "holds no" in folder.details:  # the extra is installed here
        assert "COMPRESSION_MODEL_DIR" in folder.details
    else:
        assert folder.status is Status.WARN and "not installed" in folder.details


# --- evidence sources ---------------------------------------------------------------------------------

ENCYCLOPEDIA = "An encyclopedia is a reference work with articles on many subjects."
CONTACT_AGENT = "AutoIntel/0.1 (https://example.org/bot; ops@example.org)"


@pytest.fixture
async def searxng() -> AsyncIterator[SearxNGServer]:
    pages = [
        FakePage(url=f"https://example.org/{n}", title=f"Encyclopedia {n}", content=ENCYCLOPEDIA)
        for n in range(3)
    ]
    server = SearxNGServer(pages=pages)
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
async def mediawiki() -> AsyncIterator[MediaWikiServer]:
    server = MediaWikiServer(articles={"Encyclopedia": ENCYCLOPEDIA})
    await server.start()
    yield server
    await server.stop()


def evidence_settings(make_settings: MakeSettings, *, private: bool = True, **evidence: object) -> Settings:
    """Settings with the given evidence section; loopback sources need ALLOW_PRIVATE_URLS."""
    return make_settings(pipeline={"allow_private_urls": private}, evidence=evidence)


def test_the_doctor_checks_each_configured_outside_source(make_settings: MakeSettings) -> None:
    def labels(sources: list[str]) -> list[str]:
        return [check.label for check in doctor._plan(make_settings(evidence={"sources": sources}))]

    assert not {"searxng", "wikipedia", "zim"} & set(labels(["memory"]))
    chosen = labels(["memory", "zim", "searxng"])
    assert {"zim", "searxng"} <= set(chosen) and "wikipedia" not in chosen
    assert chosen.index("vector memory") < chosen.index("zim") < chosen.index("searxng") < chosen.index("LLM")


async def test_searxng_search_ok_then_json_refused(
    make_settings: MakeSettings, searxng: SearxNGServer
) -> None:
    settings = evidence_settings(make_settings, sources=["searxng"], searxng_url=searxng.base_url)
    [ok] = await check_searxng(settings)
    assert ok.status is Status.OK and ok.details == f"{searxng.base_url}: 3 result(s) for 'encyclopedia'"
    assert searxng.requests[-1] == {"q": "encyclopedia", "format": "json"}  # a real search
    searxng.json_enabled = False
    [refused] = await check_searxng(settings)
    assert refused.status is Status.FAIL and "search.formats" in refused.details
    assert "deploy/searxng/settings.yml" in refused.fix


async def test_searxng_unset_unreachable_blocked_or_without_engines(
    make_settings: MakeSettings, searxng: SearxNGServer
) -> None:
    [unset] = await check_searxng(evidence_settings(make_settings, sources=["searxng"]))
    assert unset.status is Status.FAIL
    assert unset.details == "searxng is in EVIDENCE_SOURCES but SEARXNG_URL is not set"
    assert "SEARXNG_URL" in unset.fix and "EVIDENCE_SOURCES" in unset.fix
    down = f"http://127.0.0.1:{closed_port()}"
    [unreachable] = await check_searxng(evidence_settings(make_settings, searxng_url=down))
    assert unreachable.status is Status.FAIL and f"SearxNG at {down} is unreachable" in unreachable.details
    assert "start SearxNG" in unreachable.fix
    # the configured API may be on a private network (compose) without ALLOW_PRIVATE_URLS
    strict = evidence_settings(make_settings, private=False, searxng_url=searxng.base_url)
    [trusted] = await check_searxng(strict)
    assert trusted.status is Status.OK and searxng.requests
    searxng.pages.clear()
    searxng.unresponsive_engines.append(["duckduckgo", "CAPTCHA"])
    [engines] = await check_searxng(evidence_settings(make_settings, searxng_url=searxng.base_url))
    assert engines.status is Status.WARN and "duckduckgo: CAPTCHA" in engines.details


async def test_wikipedia_probe_and_user_agent(
    make_settings: MakeSettings, mediawiki: MediaWikiServer
) -> None:
    default_agent = evidence_settings(make_settings, wikipedia_api_url=mediawiki.api_url)
    [warned] = await check_wikipedia(default_agent)
    assert warned.status is Status.WARN and "127.0.0.1" in warned.details
    assert "operator contact" in warned.details and "HTTP_USER_AGENT" in warned.fix
    assert mediawiki.requests[-1]["list"] == "search" and mediawiki.requests[-1]["meta"] == "siteinfo"
    contact = evidence_settings(make_settings, wikipedia_api_url=mediawiki.api_url, user_agent=CONTACT_AGENT)
    [ok] = await check_wikipedia(contact)
    assert ok.status is Status.OK and ok.details.endswith("search answers")
    assert mediawiki.user_agents[-1] == CONTACT_AGENT  # through the fetcher, with its user agent
    mediawiki.faults.append(HTTPFault(status=403))
    [forbidden] = await check_wikipedia(contact)
    assert forbidden.status is Status.FAIL and "HTTP 403" in forbidden.details
    assert "HTTP_USER_AGENT" in forbidden.fix
    mediawiki.faults.append(HTTPFault(body="<html>not the API</html>"))
    [not_api] = await check_wikipedia(contact)
    assert not_api.status is Status.FAIL and "api.php" in not_api.fix


async def test_wikipedia_unreachable_fails_and_says_offline(make_settings: MakeSettings) -> None:
    down = f"http://127.0.0.1:{closed_port()}/w/api.php"
    [result] = await check_wikipedia(evidence_settings(make_settings, wikipedia_api_url=down))
    assert result.status is Status.FAIL and f"Wikipedia API at {down} is unreachable" in result.details
    assert "drop wikipedia from EVIDENCE_SOURCES" in result.details


async def test_zim_archive(make_settings: MakeSettings, tmp_path: Path) -> None:
    indexed = build_zim(tmp_path / "indexed.zim", {"Encyclopedia": ENCYCLOPEDIA, "Other": "Unrelated text."})
    [ok] = await check_zim(evidence_settings(make_settings, zim_path=indexed))
    assert ok.status is Status.OK, ok
    assert ok.details.startswith("indexed.zim: 3 articles, full-text index; search works (1 hit(s)")
    plain = build_zim(tmp_path / "plain.zim", {"Encyclopedia": ENCYCLOPEDIA}, indexed=False)
    [unindexed] = await check_zim(evidence_settings(make_settings, zim_path=plain))
    assert unindexed.status is Status.FAIL and "has no full-text index" in unindexed.details
    [missing] = await check_zim(evidence_settings(make_settings, zim_path=tmp_path / "nowhere.zim"))
    assert missing.status is Status.FAIL and "does not exist" in missing.details and "ZIM_PATH" in missing.fix
    garbage = tmp_path / "garbage.zim"
    garbage.write_bytes(b"not a zim file" * 100)
    [unreadable] = await check_zim(evidence_settings(make_settings, zim_path=garbage))
    assert unreadable.status is Status.FAIL and "cannot be read" in unreadable.details
    [unset] = await check_zim(evidence_settings(make_settings, sources=["zim"]))
    assert (
        unset.status is Status.FAIL and unset.details == "zim is in EVIDENCE_SOURCES but ZIM_PATH is not set"
    )


async def test_reranker_check(make_settings: MakeSettings) -> None:
    assert await check_reranker(make_settings()) == []  # not configured: nothing to check
    assert "reranker" not in [check.label for check in doctor._plan(make_settings())]
    server = RerankServer()
    await server.start()
    try:
        settings = make_settings(llm={"reranker_base_url": server.base_url, "reranker_model": "bge"})
        assert "reranker" in [check.label for check in doctor._plan(settings)]
        [ok] = await check_reranker(settings)
        assert (
            ok.status is Status.OK
            and ok.details == f"bge at {server.base_url}/rerank ranks evidence passages"
        )
        server.prefer = ["Rain"]  # a model that is not a reranker ranks passages at random
        [odd] = await check_reranker(settings)
        assert odd.status is Status.WARN and "cross-encoder" in odd.fix
        server.faults.append(HTTPFault(status=404))
        [failed] = await check_reranker(settings)
        assert failed.status is Status.FAIL and "answered HTTP 404" in failed.details
    finally:
        await server.stop()
    [down] = await check_reranker(settings)
    assert down.status is Status.FAIL and "is unreachable" in down.details and "RERANKER_BASE_URL" in down.fix
