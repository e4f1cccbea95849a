"""The metrics and health server answers, and a taken port does not stop the caller."""

from __future__ import annotations

import socket
from collections.abc import Callable

import aiohttp

from observability.metrics import COMMANDS
from observability.server import metrics_server
from settings import Settings


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_metrics_and_healthz() -> None:
    COMMANDS.labels(command="autointel", outcome="ok").inc()
    async with metrics_server(_free_port(), host="127.0.0.1") as port, aiohttp.ClientSession() as http:
        assert port is not None
        async with http.get(f"http://127.0.0.1:{port}/healthz") as response:
            assert response.status == 200 and (await response.json()) == {"status": "ok"}
        async with http.get(f"http://127.0.0.1:{port}/metrics") as response:
            text = await response.text()
    assert 'autointel_commands_total{command="autointel",outcome="ok"}' in text


async def test_a_taken_port_is_skipped_and_zero_is_off() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        async with metrics_server(taken.getsockname()[1], host="127.0.0.1") as port:
            assert port is None
    async with metrics_server(0) as port:
        assert port is None


async def test_readyz_reports_each_dependency(make_settings: Callable[..., Settings]) -> None:
    from observability.server import readiness_of

    settings = make_settings(redis={"url": "redis://127.0.0.1:1/0"})  # Redis down
    probe = readiness_of(settings)
    async with metrics_server(_free_port(), host="127.0.0.1", readiness=probe) as port:
        assert port is not None
        async with aiohttp.ClientSession() as http, http.get(f"http://127.0.0.1:{port}/readyz") as response:
            assert response.status == 503
            body = await response.json()
    assert body["ready"] is False
    labels = {check["label"]: check["status"] for check in body["checks"]}
    assert labels["redis"] == "fail" and "database" in labels and "LLM" in labels
