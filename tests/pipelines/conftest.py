"""Fixtures for the acquisition tests: a real HTTP server on 127.0.0.1 serving test media."""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from fakes.media_server import MediaServer, serve_media
from pipelines.stage import Resources, StageDeps
from settings import Settings


@pytest.fixture
def media_server() -> Iterator[MediaServer]:
    """The local media server (see fakes.media_server)."""
    with serve_media() as server:
        yield server


@pytest.fixture
def closed_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A TCP port on 127.0.0.1 that accepts connections and never answers."""
    server = socket.create_server(("127.0.0.1", 0))
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.05)
        while not stop.is_set():
            try:
                held.append(server.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield int(server.getsockname()[1])
    stop.set()
    thread.join(timeout=5)
    for conn in held:
        conn.close()
    server.close()


@pytest.fixture
def make_deps(make_settings: Callable[..., Settings], tmp_path: Path) -> Callable[..., StageDeps]:
    """Stage deps for one run; keyword args override pipeline settings (private URLs allowed)."""

    def build(**pipeline: Any) -> StageDeps:
        settings = make_settings(pipeline={"allow_private_urls": True, **pipeline})
        return StageDeps(Resources(settings), "run-test", tmp_path / "work" / "run-test")

    return build
