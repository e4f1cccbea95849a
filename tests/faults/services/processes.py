"""Child processes to SIGKILL and start again: workers, the bot, and the scripted model server.

Run `python -m faults.services model-server --port N` (with the repository and tests/ on
PYTHONPATH) to serve the scripted model alone (its switches are read from stdin), or
`python -m faults.services skewed-worker --skew S` for a worker whose wall clock is S seconds off.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from faults.services.common import (
    ROOT,
    START_TIMEOUT,
    ServiceUnavailable,
    free_port,
    listening,
    rss_bytes,
    until,
    wait_until,
)


@dataclass
class ServiceProcess:
    """A child process we may SIGKILL and start again with the same command and environment."""

    args: list[str]
    env: dict[str, str]
    log_path: Path
    cwd: Path = ROOT
    process: subprocess.Popen[bytes] | None = None
    starts: int = 0
    kills: int = 0

    def start(self) -> ServiceProcess:
        """Start the process (its output goes to `log_path`)."""
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                self.args, env=self.env, cwd=self.cwd, stdout=log, stderr=subprocess.STDOUT
            )
        self.starts += 1
        return self

    @property
    def pid(self) -> int:
        """The running process's id (0 when stopped)."""
        return self.process.pid if self.process is not None else 0

    @property
    def alive(self) -> bool:
        """Whether the process runs."""
        return self.process is not None and self.process.poll() is None

    def rss(self) -> int:
        """Its resident memory in bytes."""
        return rss_bytes(self.pid) if self.alive else 0

    def kill(self) -> None:
        """SIGKILL: no cleanup, no checkpoint, leases and claims left behind."""
        if self.process is not None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=30)
            self.kills += 1
            self.process = None

    def stop(self, timeout: float = 60) -> int | None:
        """SIGTERM and wait (SIGKILL after `timeout`); the exit code."""
        if self.process is None:
            return None
        process, self.process = self.process, None
        process.send_signal(signal.SIGTERM)
        try:
            return process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            return process.wait(timeout=30)

    async def wait_for_log(self, text: str, timeout: float = 120) -> None:  # noqa: ASYNC109
        """Wait until the process wrote `text` (e.g. a worker's "ready on queue")."""
        await until(lambda: text in self.log_tail(1_000_000) or not self.alive, timeout, repr(text))
        if not self.alive:
            raise AssertionError(f"the process exited before writing {text!r}:\n{self.log_tail()}")

    def log_tail(self, chars: int = 4000) -> str:
        """The end of its output (for assertion messages)."""
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return ""


def worker_process(env: dict[str, str], log_path: Path, *, clock_skew: float = 0.0) -> ServiceProcess:
    """`autointel worker` as a real process (not started yet); `clock_skew` seconds off the true time."""
    if clock_skew:
        args = ["-m", "faults.services", "skewed-worker", "--skew", str(clock_skew)]
        return ServiceProcess([sys.executable, *args], env, log_path)
    return ServiceProcess([sys.executable, "-m", "cli", "worker"], env, log_path)


def bot_process(env: dict[str, str], log_path: Path) -> ServiceProcess:
    """`autointel bot` as a real process (not started yet)."""
    return ServiceProcess([sys.executable, "-m", "cli", "bot"], env, log_path)


def child_env(**overrides: str) -> dict[str, str]:
    """This environment with the repository and tests/ importable, plus `overrides`."""
    path = os.pathsep.join([str(ROOT), str(ROOT / "tests")])
    return {**os.environ, "PYTHONPATH": path, **overrides}


# --- the model server ----------------------------------------------------------------------------


@dataclass
class ModelServerProcess:
    """The scripted model server in its own process on a fixed port (kill -9 and restart it)."""

    port: int = field(default_factory=free_port)
    log_path: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="autointel-llm-")) / "log")
    switches: dict[str, float] = field(default_factory=dict)  # applied again after a restart
    process: subprocess.Popen[bytes] | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def base_url(self) -> str:
        """The `/v1` base URL (the same across restarts)."""
        return f"http://127.0.0.1:{self.port}/v1"

    def start(self) -> ModelServerProcess:
        """Start the server with the current switches and wait until it listens."""
        args = [sys.executable, "-m", "faults.services", "model-server", "--port", str(self.port)]
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                args, env=child_env(), stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log
            )
        wait_until(lambda: self._up(), START_TIMEOUT, f"the model server on port {self.port}")
        if self.switches:
            self._send({"set": self.switches})
        return self

    def _up(self) -> bool:
        if self.process is not None and self.process.poll() is not None:
            raise ServiceUnavailable(f"the model server exited with {self.process.returncode}")
        return listening(self.port)

    def _send(self, message: dict[str, Any]) -> dict[str, Any]:
        if self.process is None or self.process.stdin is None or self.process.stdout is None:
            raise RuntimeError("the model server is not running")
        with self._lock:
            self.process.stdin.write((json.dumps(message) + "\n").encode())
            self.process.stdin.flush()
            return dict(json.loads(self.process.stdout.readline()))

    def set(self, **switches: float) -> None:
        """Change `delay` (seconds per chat request) or `failure_rate` (share of HTTP 500s)."""
        self.switches.update(switches)
        if self.process is not None:
            self._send({"set": switches})

    def stats(self) -> dict[str, Any]:
        """{"requests": chat requests so far, "active": in flight now} of the current process."""
        return self._send({"stats": True})

    def wait_active(self, timeout: float = 60) -> None:
        """Block until a chat request is in flight (to kill the server mid-call)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.stats()["active"]:
                return
            time.sleep(0.05)
        raise AssertionError("no model call arrived")

    def kill(self) -> None:
        """SIGKILL the server: calls in flight see their connection drop."""
        if self.process is not None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=30)
            for stream in (self.process.stdin, self.process.stdout):
                if stream is not None:
                    stream.close()
            self.process = None

    def restart(self, *, down_for: float = 0.5) -> None:
        """Kill, stay down `down_for` seconds, start again on the same port."""
        self.kill()
        time.sleep(down_for)
        self.start()

    def close(self) -> None:
        """Kill the server and delete its log."""
        self.kill()
        shutil.rmtree(self.log_path.parent, ignore_errors=True)


def _serve_model(port: int, stdin: IO[str], stdout: IO[str]) -> None:
    """The model server process: serve, and apply switches read from stdin (one JSON per line)."""
    from fakes.openai_server import ScriptedOpenAI
    from fakes.scripted_flow import REPLIES

    server = ScriptedOpenAI(replies=dict(REPLIES), port=port)
    server.start_in_thread()
    for line in stdin:
        message = json.loads(line)
        for name, value in (message.get("set") or {}).items():
            if name not in ("delay", "failure_rate"):
                raise ValueError(f"unknown switch {name}")
            setattr(server, name, float(value))
        chats = sum(1 for body in server.requests if "messages" in body)
        stdout.write(json.dumps({"requests": chats, "active": server.active}) + "\n")
        stdout.flush()
    server.stop_thread()


def _skewed_worker(skew: float) -> int:
    """`autointel worker` whose wall clock reads `skew` seconds off the true time.

    Every wall-clock reading of the product goes through `pipelines.tables.utcnow`; it is
    replaced before any product module binds it, so the whole worker lives on the skewed clock
    (setting the host's clock would disturb every other process on this machine).
    """
    from datetime import timedelta

    import pipelines.tables

    true_now = pipelines.tables.utcnow
    pipelines.tables.utcnow = lambda: true_now() + timedelta(seconds=skew)
    from cli import main as autointel

    return autointel(["worker"])


def main(argv: list[str] | None = None) -> int:
    """`model-server --port N`: the scripted model (switches on stdin); `skewed-worker --skew S`."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("model-server")
    serve.add_argument("--port", type=int, required=True)
    skewed = commands.add_parser("skewed-worker")
    skewed.add_argument("--skew", type=float, required=True)
    args = parser.parse_args(argv)
    if args.command == "skewed-worker":
        return _skewed_worker(args.skew)
    _serve_model(args.port, sys.stdin, sys.stdout)
    return 0
