"""Benchmark: what metrics and logging cost on an end-to-end run, and how long the doctor takes.

The same flow (JFK clip, depth standard, scripted model server, a fresh data dir each time) is
run alternately with observability on (every metric live, JSON logs at DEBUG with run context
and secret masking, written to /dev/null) and off (metrics replaced by no-ops, logging
disabled); prints the medians and their ratio, plus the doctor's wall time.

    .venv/bin/python benchmarks/observability.py [--repeats 5]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]  # the repo first: tests/ mirrors its package names

import observability.metrics as metrics  # noqa: E402
from fakes.openai_server import ScriptedOpenAI, point_settings_at  # noqa: E402
from fakes.scripted_flow import REPLIES, run_flow  # noqa: E402
from observability.logs import setup_logging  # noqa: E402
from pipelines.models import Depth  # noqa: E402
from settings import load_settings  # noqa: E402


class _Off:
    """A metric that does nothing."""

    def labels(self, *args: Any, **kwargs: Any) -> _Off:
        return self

    def inc(self, *args: Any) -> None:
        pass

    def observe(self, *args: Any) -> None:
        pass

    def set(self, *args: Any) -> None:
        pass


@contextlib.contextmanager
def observability_off() -> Iterator[None]:
    """Every metric a no-op (in every module that imported one) and logging disabled."""
    from prometheus_client.metrics import MetricWrapperBase

    names = [n for n, v in vars(metrics).items() if isinstance(v, MetricWrapperBase)]
    patched: list[tuple[Any, str, Any]] = []
    ours = ("bot", "cli", "crews", "memory", "observability", "pipelines", "routing")
    for module_name, module in list(sys.modules.items()):
        if module_name.split(".")[0] not in ours:
            continue
        for name in names:
            if getattr(module, name, None) is getattr(metrics, name):
                patched.append((module, name, getattr(module, name)))
                setattr(module, name, _Off())
    logging.disable(logging.CRITICAL)
    try:
        yield
    finally:
        logging.disable(logging.NOTSET)
        for module, name, value in patched:
            setattr(module, name, value)


async def _timed_run(tmp: Path, label: str, n: int) -> float:
    settings = load_settings(pipeline={"data_dir": tmp / f"{label}-{n}"})
    started = time.perf_counter()
    result = await run_flow(settings, Depth.STANDARD)
    assert result.run.status == "succeeded"
    return time.perf_counter() - started


async def measure(repeats: int, devnull: Any) -> dict[str, Any]:
    """Alternate on/off runs after one warm-up; medians and ratio."""
    server = ScriptedOpenAI(replies=dict(REPLIES))
    point_settings_at(server.start_in_thread(), os.environ.__setitem__)
    real_stderr = sys.stderr
    times: dict[str, list[float]] = {"on": [], "off": []}
    try:
        with tempfile.TemporaryDirectory() as tmp:
            await _timed_run(Path(tmp), "warmup", 0)  # imports, model loads
            for n in range(repeats):
                sys.stderr = devnull
                setup_logging("DEBUG", json_lines=True, secrets=["sk-benchmark-secret"])
                times["on"].append(await _timed_run(Path(tmp), "on", n))
                sys.stderr = real_stderr
                with observability_off():
                    times["off"].append(await _timed_run(Path(tmp), "off", n))
    finally:
        sys.stderr = real_stderr
        setup_logging("ERROR")  # back to the real stderr before the log file closes
        server.stop_thread()
    on, off = statistics.median(times["on"]), statistics.median(times["off"])
    return {
        "repeats": repeats,
        "run_seconds_observability_on_median": round(on, 3),
        "run_seconds_observability_off_median": round(off, 3),
        "overhead_ratio": round(on / off - 1, 4),
        "all_on": [round(t, 3) for t in times["on"]],
        "all_off": [round(t, 3) for t in times["off"]],
    }


def doctor_seconds() -> float | None:
    """Wall time of `autointel doctor --json` with the default settings (None if not installed)."""
    import subprocess

    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "cli", "doctor", "--json"], capture_output=True, cwd=tempfile.gettempdir()
    )
    elapsed = time.perf_counter() - started
    return (
        round(elapsed, 2) if done.returncode in (0, 1, 2) and done.stdout.strip().startswith(b"{") else None
    )


def main() -> None:
    """Print one JSON object."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    with open(os.devnull, "w") as devnull:
        figures = asyncio.run(measure(args.repeats, devnull))
    figures["doctor_wall_seconds"] = doctor_seconds()
    print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
