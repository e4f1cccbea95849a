"""Private Redis and PostgreSQL servers, to stop, kill and restart without touching the shared ones."""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from faults.services.common import START_TIMEOUT, ServiceUnavailable, free_port, wait_until


@dataclass
class PrivateRedis:
    """A redis-server of our own; `persistent` keeps an append-only file across restarts."""

    persistent: bool = True
    port: int = field(default_factory=free_port)
    workdir: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="autointel-redis-")))
    process: subprocess.Popen[bytes] | None = None

    def url(self, db: int = 0) -> str:
        """The redis:// URL of database `db`."""
        return f"redis://127.0.0.1:{self.port}/{db}"

    def start(self) -> PrivateRedis:
        """Start the server and wait until it answers PING."""
        binary = shutil.which("redis-server")
        if binary is None:
            raise ServiceUnavailable("redis-server is not installed")
        args = [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--dir"]
        args += [str(self.workdir), "--appendonly", "yes" if self.persistent else "no"]
        args += ["--appendfsync", "always", "--maxclients", "1000"]
        log = (self.workdir / "redis.log").open("ab")
        self.process = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT)
        log.close()
        wait_until(self._ping, START_TIMEOUT, f"redis-server on port {self.port}")
        return self

    def _ping(self) -> bool:
        if self.process is not None and self.process.poll() is not None:
            raise ServiceUnavailable(f"redis-server exited with {self.process.returncode}")
        try:
            return self.command("PING") == "PONG"
        except OSError:
            return False

    def command(self, *words: str) -> str:
        """Send one inline command and return the reply's text (bulk replies joined)."""
        with socket.create_connection(("127.0.0.1", self.port), timeout=2) as sock:
            sock.sendall((" ".join(words) + "\r\n").encode())
            reply = b""
            while True:
                chunk = sock.recv(65536)
                if not chunk:
                    break
                reply += chunk
                if reply.startswith((b"+", b"-", b":")) and reply.endswith(b"\r\n"):
                    break
                if reply.startswith(b"$"):
                    head, _, body = reply.partition(b"\r\n")
                    if len(body) >= int(head[1:]) + 2:
                        reply = body[: int(head[1:])]
                        break
        return reply.decode().strip().lstrip("+:")

    def clients(self) -> int:
        """Connected clients (`INFO clients`), ourselves excluded."""
        info = self.command("INFO", "clients")
        line = next(x for x in info.splitlines() if x.startswith("connected_clients:"))
        return int(line.split(":", 1)[1]) - 1

    def stop(self, *, kill: bool = False) -> None:
        """SIGTERM (a clean shutdown: the append-only file is flushed) or SIGKILL."""
        if self.process is None:
            return
        self.process.send_signal(signal.SIGKILL if kill else signal.SIGTERM)
        self.process.wait(timeout=30)
        self.process = None

    def restart(self, *, down_for: float = 0.5, kill: bool = False) -> None:
        """Stop, stay down `down_for` seconds, start again on the same port."""
        self.stop(kill=kill)
        time.sleep(down_for)
        self.start()

    def close(self) -> None:
        """Stop the server and delete its files."""
        self.stop(kill=True)
        shutil.rmtree(self.workdir, ignore_errors=True)


# --- PostgreSQL ----------------------------------------------------------------------------------


def _pg_bin(name: str) -> str:
    found = shutil.which(name) or next(
        iter(sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), reverse=True)), None
    )
    if found is None:
        raise ServiceUnavailable(f"PostgreSQL's {name} is not installed")
    return found


@dataclass
class PrivatePostgres:
    """A PostgreSQL cluster of our own (trust auth, 127.0.0.1 only) in a temporary directory."""

    port: int = field(default_factory=free_port)
    workdir: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="autointel-pg-")))
    running: bool = False

    def _run(self, args: Sequence[str], timeout: float = 60) -> None:
        prefix: list[str] = []
        if os.geteuid() == 0:  # initdb and postgres refuse to run as root
            runuser = shutil.which("runuser")
            if runuser is None:
                raise ServiceUnavailable("running as root without runuser: cannot start PostgreSQL")
            shutil.chown(self.workdir, "postgres")
            prefix = [runuser, "-u", "postgres", "--"]
        done = subprocess.run([*prefix, *args], capture_output=True, timeout=timeout, check=False)
        if done.returncode != 0:
            output = (done.stdout + done.stderr).decode(errors="replace").strip()[-800:]
            raise ServiceUnavailable(f"{Path(args[0]).name} failed: {output}")

    @property
    def data(self) -> Path:
        """The cluster's data directory."""
        return self.workdir / "data"

    def url(self, database: str = "postgres") -> str:
        """The SQLAlchemy URL of a database (asyncpg driver)."""
        return f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/{database}"

    def dsn(self, database: str = "postgres") -> str:
        """The libpq/asyncpg DSN of a database."""
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def start(self) -> PrivatePostgres:
        """Create the cluster on first use, then start it and wait until it accepts connections."""
        if not (self.data / "PG_VERSION").exists():
            args = [_pg_bin("initdb"), "-D", str(self.data), "-A", "trust", "-U", "postgres"]
            self._run([*args, "--no-sync", "-E", "UTF8"])
        options = f"-p {self.port} -k {self.workdir} -c listen_addresses=127.0.0.1 -c fsync=off"
        options += " -c max_connections=300"
        log = str(self.workdir / "postgres.log")
        self._run([_pg_bin("pg_ctl"), "-D", str(self.data), "-o", options, "-l", log, "-w", "start"])
        self.running = True
        return self

    def stop(self, mode: str = "fast") -> None:
        """Stop the server: "fast" ends every session at once (a restart as clients see it),
        "immediate" is a crash."""
        if self.running:
            self._run([_pg_bin("pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop"])
            self.running = False

    def restart(self, *, down_for: float = 0.5, mode: str = "fast") -> None:
        """Stop, stay down `down_for` seconds, start again on the same port."""
        self.stop(mode)
        time.sleep(down_for)
        self.start()

    async def execute(self, sql: str, database: str = "postgres") -> Any:
        """Run one statement as the superuser and return its first value."""
        import asyncpg

        conn = await asyncpg.connect(self.dsn(database), timeout=10)
        try:
            return await conn.fetchval(sql)
        finally:
            await conn.close()

    async def create_database(self, name: str) -> str:
        """Create a database and return its SQLAlchemy URL."""
        await self.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    async def connections(self, database: str | None = None) -> int:
        """Client sessions (`pg_stat_activity`), ourselves excluded; of one database when given."""
        where = "backend_type = 'client backend' AND pid <> pg_backend_pid()"
        if database is not None:
            where += f" AND datname = '{database}'"
        return int(await self.execute(f"SELECT count(*) FROM pg_stat_activity WHERE {where}"))

    def close(self) -> None:
        """Stop the cluster and delete its files."""
        with contextlib.suppress(ServiceUnavailable, subprocess.TimeoutExpired):
            self.stop("immediate")
        shutil.rmtree(self.workdir, ignore_errors=True)
