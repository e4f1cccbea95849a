"""A scripted OpenAI-compatible server on 127.0.0.1 for deterministic model replies.

It speaks the real wire protocol (`POST /v1/chat/completions`, `POST /v1/embeddings`,
`GET /v1/models`) so the product's real clients (CrewAI's LLM, the `openai` package) talk to
it unchanged. Replies to structured-output requests are chosen by the JSON schema's `name`
(`response_format.json_schema.name`, i.e. the output model's class name) or, for
`json_object` requests, by the schema's `title`; a script may be a fixed object or a function
of the request. It records every request, the peak number of overlapping requests, and can
inject a per-request delay (or `hold` requests until a test lets them go), malformed JSON or
HTTP errors for a given schema name (or, under the key `EMBEDDINGS_FAULT`, HTTP errors from
`/v1/embeddings`), or a seeded share of HTTP 500s.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import math
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

Reply = dict[str, Any] | list[Any] | str | Callable[[dict[str, Any]], Any]
EMBEDDINGS_FAULT = "embeddings"  # key of `faults` that makes /v1/embeddings answer an HTTP error


@dataclass
class Fault:
    """Inject `times` failures for one schema name: 'malformed' JSON or an HTTP status."""

    kind: str
    times: int
    status: int = 500


@dataclass
class ScriptedOpenAI:
    """State and behaviour of the fake server."""

    replies: dict[str, Reply] = field(default_factory=dict)
    default_text: str = "ok"
    delay: float = 0.0
    hold: bool = False  # while True, chat requests wait before answering (a test lets them go)
    faults: dict[str, Fault] = field(default_factory=dict)
    requests: list[dict[str, Any]] = field(default_factory=list)
    active: int = 0
    peak_active: int = 0
    intervals: list[tuple[float, float]] = field(default_factory=list)
    embedding_dimension: int = 16
    failure_rate: float = 0.0  # share of chat requests answered with HTTP 500 (seeded, reproducible)
    rng: random.Random = field(default_factory=lambda: random.Random(0))
    base_url: str = ""
    port: int = 0  # 0 picks a free port; a fixed one lets a restarted server keep its address
    _runner: web.AppRunner | None = None
    _loop: asyncio.AbstractEventLoop | None = None

    # --- lifecycle --------------------------------------------------------------------

    async def start(self) -> str:
        """Listen on 127.0.0.1 (`port`, or a free one) and return the `/v1` base URL."""
        app = web.Application()
        app.router.add_post("/v1/chat/completions", self._chat)
        app.router.add_post("/v1/embeddings", self._embeddings)
        app.router.add_get("/v1/models", self._models)
        # shutdown_timeout: stopping does not wait for replies a test left sleeping in `delay`
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", self.port, reuse_address=True)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.base_url = f"http://127.0.0.1:{port}/v1"
        return self.base_url

    async def stop(self) -> None:
        """Stop listening."""
        if self._runner is not None:
            await self._runner.cleanup()

    def start_in_thread(self) -> str:
        """Serve from a background thread's own loop (for code that calls `asyncio.run`)."""
        loop = asyncio.new_event_loop()
        ready = threading.Event()

        def serve() -> None:
            asyncio.set_event_loop(loop)
            loop.run_until_complete(self.start())
            ready.set()
            loop.run_forever()

        threading.Thread(target=serve, daemon=True).start()
        ready.wait(10)
        self._loop = loop
        return self.base_url

    def stop_thread(self) -> None:
        """Stop a server started with `start_in_thread`."""
        if self._loop is not None:
            asyncio.run_coroutine_threadsafe(self.stop(), self._loop).result(10)
            self._loop.call_soon_threadsafe(self._loop.stop)

    # --- inspection -------------------------------------------------------------------

    def schema_names(self) -> list[str]:
        """The schema name of every chat request received, in order."""
        return [_schema_name(body) or "" for body in self.requests if "messages" in body]

    def overlapped(self) -> bool:
        """Whether any two chat requests were in flight at the same time."""
        return self.peak_active > 1

    # --- handlers ---------------------------------------------------------------------

    async def _chat(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.requests.append(body)
        name = _schema_name(body) or ""
        self.active += 1
        self.peak_active = max(self.peak_active, self.active)
        started = time.monotonic()
        try:
            if self.delay:
                await asyncio.sleep(self.delay)
            # `hold` is set from the test's thread: polled, as an asyncio.Event belongs to one loop
            while self.hold:  # noqa: ASYNC110
                await asyncio.sleep(0.02)
            if self.failure_rate and self.rng.random() < self.failure_rate:
                return _json({"error": {"message": "scripted outage", "type": "server_error"}}, 500)
            fault = self.faults.get(name)
            if fault is not None and fault.times > 0:
                fault.times -= 1
                if fault.kind == "http":
                    return _json(
                        {"error": {"message": "scripted failure", "type": "server_error"}}, fault.status
                    )
                return _completion(body, '{"this is": not valid json')
            return _completion(body, self._content(name, body))
        finally:
            self.active -= 1
            self.intervals.append((started, time.monotonic()))

    def _content(self, name: str, body: dict[str, Any]) -> str:
        reply = self.replies.get(name)
        if reply is None:
            return self.default_text if not name else "{}"
        if callable(reply):
            reply = reply(body)
        return reply if isinstance(reply, str) else json.dumps(reply)

    async def _embeddings(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.requests.append(body)
        fault = self.faults.get(EMBEDDINGS_FAULT)
        if fault is not None and fault.times > 0:
            fault.times -= 1
            return _json({"error": {"message": "scripted failure", "type": "server_error"}}, fault.status)
        inputs = body["input"] if isinstance(body["input"], list) else [body["input"]]
        data = [
            {"object": "embedding", "index": i, "embedding": _vector(str(text), self.embedding_dimension)}
            for i, text in enumerate(inputs)
        ]
        usage = {"prompt_tokens": len(inputs), "total_tokens": len(inputs)}
        return _json({"object": "list", "data": data, "model": body.get("model", "fake"), "usage": usage})

    async def _models(self, _request: web.Request) -> web.Response:
        return _json({"object": "list", "data": [{"id": "scripted", "object": "model", "owned_by": "tests"}]})


def point_settings_at(base_url: str, setenv: Callable[[str, str], None]) -> None:
    """Set the environment so that every model and embedding call goes to `base_url`."""
    for name, value in {
        "LLM_BASE_URL": base_url,
        "LLM_MODEL": "scripted",
        "EMBEDDINGS_BASE_URL": base_url,
        "EMBEDDINGS_MODEL": "scripted",
    }.items():
        setenv(name, value)


def _schema_name(body: dict[str, Any]) -> str | None:
    fmt = body.get("response_format") or {}
    if fmt.get("type") == "json_schema":
        return str((fmt.get("json_schema") or {}).get("name") or "") or None
    if fmt.get("type") == "json_object":
        schema = fmt.get("schema") or {}
        return str(schema.get("title") or "") or None
    return None


def _vector(text: str, dimension: int) -> list[float]:
    """A deterministic unit vector from the text's words (shared words → similar vectors)."""
    values = [0.0] * dimension
    for word in text.lower().split():
        digest = hashlib.sha256(word.encode()).digest()
        values[digest[0] % dimension] += 1.0 if digest[1] % 2 else -1.0
    norm = math.sqrt(sum(v * v for v in values)) or 1.0
    return [v / norm for v in values]


def _completion(body: dict[str, Any], content: str) -> web.Response:
    prompt = sum(len(str(m.get("content", ""))) for m in body.get("messages", [])) // 4
    completion = len(content) // 4
    return _json(
        {
            "id": "chatcmpl-scripted",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": body.get("model", "scripted"),
            "choices": [
                {"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}
            ],
            "usage": {
                "prompt_tokens": prompt,
                "completion_tokens": completion,
                "total_tokens": prompt + completion,
            },
        }
    )


def _json(payload: Any, status: int = 200) -> web.Response:
    return web.Response(text=json.dumps(payload), status=status, content_type="application/json")
