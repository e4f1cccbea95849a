"""HTTP plumbing: exact `application/json` responses, request bodies (JSON or multipart), auth, recording.

Every request under /api/v10 is recorded in `state.requests`; Discord-shaped errors come from
`DiscordError`; a bug in a handler becomes a 500 and lands in `state.internal_errors`.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from typing import Any

from aiohttp import BodyPartReader, web

from .constants import INVALID_JSON
from .errors import DiscordError, invalid_form
from .messages import UploadedFile
from .models import RecordedRequest
from .state import EmulatorState, parse_snowflake

log = logging.getLogger(__name__)
API_PREFIX = "/api/v10"
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
STATE_KEY = web.AppKey("state", EmulatorState)
ARRIVAL: ContextVar[float] = ContextVar("arrival", default=0.0)  # when the current request arrived


def json_response(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    """A JSON response whose Content-Type is exactly `application/json` (discord.py compares it verbatim)."""
    response = web.Response(body=json.dumps(data).encode(), status=status, headers=headers)
    response.content_type = "application/json"
    return response


def no_content() -> web.Response:
    """204 No Content."""
    return web.Response(status=204)


def error_response(error: DiscordError) -> web.Response:
    """The JSON body and headers of a Discord error."""
    return json_response(error.body(), error.status, error.headers)


def snowflake(request: web.Request, name: str) -> int:
    """A numeric id from the path (400 50035 when it is not one)."""
    return parse_snowflake(request.match_info[name], name)


def query_flag(request: web.Request, name: str) -> bool:
    """A boolean query parameter as Discord reads it (`true`/`1`)."""
    return request.query.get(name, "").lower() in ("1", "true")


def require_bot(request: web.Request) -> None:
    """401 unless the request carries `Authorization: Bot <the bot's token>`."""
    state = request.app[STATE_KEY]
    if request.headers.get("Authorization") != f"Bot {state.bot_token}":
        raise DiscordError(401, 0, "401: Unauthorized")


async def read_json(request: web.Request) -> Any:
    """The JSON body ({} when empty); 400 50109 when it is not JSON."""
    raw = await request.read()
    if not raw.strip():
        return {}
    try:
        return json.loads(raw)
    except ValueError:
        raise DiscordError(400, INVALID_JSON) from None


async def read_message_body(request: web.Request) -> tuple[dict[str, Any], list[UploadedFile]]:
    """A message body: JSON, or multipart with `payload_json` and `files[n]` parts."""
    if request.content_type != "multipart/form-data":
        body = await read_json(request)
        if not isinstance(body, dict):
            raise invalid_form([], "DICT_TYPE_CONVERT", "Only dictionaries may be used in a DictType")
        return body, []
    payload: dict[str, Any] = {}
    files: list[UploadedFile] = []
    reader = await request.multipart()
    while True:
        part = await reader.next()
        if part is None:
            break
        if not isinstance(part, BodyPartReader):
            continue
        name = part.name or ""
        data = await part.read(decode=False)
        if name == "payload_json":
            try:
                payload.update(json.loads(data))
            except ValueError:
                raise DiscordError(400, INVALID_JSON) from None
        elif part.filename is not None:
            index_text = name.removeprefix("files[").removesuffix("]").removeprefix("file")
            index = int(index_text) if index_text.isdigit() else len(files)
            content_type = part.headers.get("Content-Type")
            files.append(
                UploadedFile(index=index, filename=part.filename, content_type=content_type, data=bytes(data))
            )
        else:
            payload[name] = data.decode()
    return payload, files


def _recorded_path(path: str) -> str:
    return path[len(API_PREFIX) :] if path.startswith(API_PREFIX) else path


def _injected(state: EmulatorState, method: str, path: str) -> DiscordError | None:
    for fault in state.faults:
        if not fault.matches(method, path):
            continue
        fault.remaining -= 1
        if fault.status != 429:
            return DiscordError(fault.status, fault.code or 0, fault.message)
        retry = fault.retry_after or 0.0
        headers = {
            "Via": "1.1 google",
            "Retry-After": str(max(1, round(retry))),
            "X-RateLimit-Limit": "5",
            "X-RateLimit-Remaining": "0",
            "X-RateLimit-Reset": f"{time.time() + retry:.3f}",
            "X-RateLimit-Reset-After": f"{retry:.3f}",
            "X-RateLimit-Bucket": "emulator-injected",
            "X-RateLimit-Scope": "global" if fault.is_global else "user",
        }
        if fault.is_global:
            headers["X-RateLimit-Global"] = "true"
        extra = {"retry_after": retry, "global": fault.is_global}
        return DiscordError(429, None, fault.message, headers=headers, extra=extra)
    return None


@web.middleware
async def discord_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Arrival time, injected faults, Discord-shaped errors, and the request record."""
    state = request.app[STATE_KEY]
    arrival = time.monotonic()
    ARRIVAL.set(arrival)
    path = _recorded_path(request.path)
    code: int | None = None
    try:
        fault = _injected(state, request.method, path)
        if fault is not None:
            raise fault
        response = await handler(request)
    except DiscordError as error:
        response, code = error_response(error), error.code
    except web.HTTPNotFound:
        response, code = json_response({"message": "404: Not Found", "code": 0}, 404), 0
    except web.HTTPMethodNotAllowed:
        response, code = json_response({"message": "405: Method Not Allowed", "code": 0}, 405), 0
    except web.HTTPException:
        raise
    except Exception as exc:
        state.internal_errors.append(exc)
        log.exception("emulator handler failed: %s %s", request.method, request.path)
        response, code = json_response({"message": "500: Internal Server Error", "code": 0}, 500), 0
    if request.path.startswith(API_PREFIX) or not request.headers.get("Upgrade"):
        state.requests.append(RecordedRequest(request.method, path, response.status, code, arrival))
        state.notify()
    return response


def build_app(
    state: EmulatorState, routes: list[tuple[str, str, Handler]], gateway: Handler
) -> web.Application:
    """The aiohttp application: API routes under /api/v10, the CDN routes and the gateway at /."""
    app = web.Application(middlewares=[discord_middleware], client_max_size=1024**3)
    app[STATE_KEY] = state
    for method, path, handler in routes:
        prefix = (
            API_PREFIX if not path.startswith(("/attachments/", "/ephemeral-attachments/", "/media/")) else ""
        )
        app.router.add_route(method, prefix + path, handler)
    app.router.add_get("/", gateway)
    return app
