"""The bot's and each worker's small HTTP server: `/metrics` (Prometheus) and `/healthz`.

Started on METRICS_PORT (0 = off) by `autointel bot` and `autointel worker`. A port that is
already taken is logged and skipped: metrics never stop the bot from starting.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

log = logging.getLogger(__name__)


async def _metrics(_request: web.Request) -> web.Response:
    return web.Response(body=generate_latest(), headers={"Content-Type": CONTENT_TYPE_LATEST})


async def _healthz(_request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


def build_app() -> web.Application:
    """The aiohttp application with every route."""
    app = web.Application()
    app.router.add_get("/metrics", _metrics)
    app.router.add_get("/healthz", _healthz)
    return app


@asynccontextmanager
async def metrics_server(port: int, host: str = "0.0.0.0") -> AsyncIterator[int | None]:
    """Serve metrics and health while the body runs; yields the bound port (None when off)."""
    if port == 0:
        yield None
        return
    runner = web.AppRunner(build_app(), access_log=None)
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
