"""The bot's and each worker's small HTTP server: `/metrics`, `/healthz` and `/readyz`.

Started on METRICS_PORT (0 = off) by `autointel bot` and `autointel worker`. `/healthz` says
the process is alive; `/readyz` runs the doctor's readiness checks (run store, Redis when
configured, vector memory, model endpoint) and answers 503 when one fails. A port that is
already taken is logged and skipped: metrics never stop the bot from starting.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from settings import Settings

log = logging.getLogger(__name__)


async def _metrics(_request: web.Request) -> web.Response:
    return web.Response(body=generate_latest(), headers={"Content-Type": CONTENT_TYPE_LATEST})


async def _healthz(_request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


Readiness = Callable[[], Awaitable[dict[str, Any]]]


def build_app(readiness: Readiness | None = None) -> web.Application:
    """The aiohttp application with every route (`/readyz` only with a readiness probe)."""
    app = web.Application()
    app.router.add_get("/metrics", _metrics)
    app.router.add_get("/healthz", _healthz)
    if readiness is not None:
        probe = readiness

        async def readyz(_request: web.Request) -> web.Response:
            report = await probe()
            ready = report["summary"]["fail"] == 0
            return web.json_response({"ready": ready, **report}, status=200 if ready else 503)

        app.router.add_get("/readyz", readyz)
    return app


def readiness_of(settings: Settings) -> Readiness:
    """The `/readyz` probe for these settings (the doctor's readiness checks)."""

    async def probe() -> dict[str, Any]:
        from observability.doctor import readiness

        return (await readiness(settings)).as_dict()

    return probe


@asynccontextmanager
async def metrics_server(
    port: int, host: str = "0.0.0.0", readiness: Readiness | None = None
) -> AsyncIterator[int | None]:
    """Serve metrics and health while the body runs; yields the bound port (None when off)."""
    if port == 0:
        yield None
        return
    runner = web.AppRunner(build_app(readiness), access_log=None)
    await runner.setup()
    try:
        site = web.TCPSite(runner, host, port)
        try:
            await site.start()
        except OSError as exc:
            log.warning("metrics server not started on port %s: %s", port, exc)
            yield None
            return
        log.info("metrics and health on http://%s:%s/metrics", host, port)
        yield port
    finally:
        await runner.cleanup()
