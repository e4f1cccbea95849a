"""The gateway: HELLO, heartbeats, IDENTIFY -> READY + GUILD_CREATE, RESUME with replay, dispatches.

Frames go out as JSON text even when the client asks for zlib-stream (discord.py only inflates
binary frames). Each connection has one sender task, so events leave in sequence order.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import secrets
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSMsgType, web

from . import payloads
from .constants import (
    INTENT_GUILDS,
    INTENT_MESSAGE_CONTENT,
    OP_DISPATCH,
    OP_HEARTBEAT,
    OP_HEARTBEAT_ACK,
    OP_HELLO,
    OP_IDENTIFY,
    OP_INVALID_SESSION,
    OP_PRESENCE_UPDATE,
    OP_RECONNECT,
    OP_REQUEST_GUILD_MEMBERS,
    OP_RESUME,
    OP_VOICE_STATE_UPDATE,
)
from .state import EmulatorState

log = logging.getLogger(__name__)
REPLAY_LIMIT = 2000
Outgoing = tuple[str, "asyncio.Future[None] | None"] | None


@dataclass(eq=False)
class Connection:
    """One websocket and the queue its sender task drains."""

    ws: web.WebSocketResponse
    queue: asyncio.Queue[Outgoing] = field(default_factory=asyncio.Queue)
    session: GatewaySession | None = None
    closed_by_server: bool = False

    def send(self, frame: dict[str, Any], done: asyncio.Future[None] | None = None) -> None:
        """Queue one frame (JSON text)."""
        self.queue.put_nowait((json.dumps(frame), done))

    async def close(self, code: int, reason: str) -> None:
        """Close from the server side (the session survives unless the caller invalidates it)."""
        self.closed_by_server = True
        await self.ws.close(code=code, message=reason.encode())


@dataclass(eq=False)
class GatewaySession:
    """A gateway session: its sequence, its replay log and the connection it is attached to (if any)."""

    id: str
    intents: int
    seq: int = 0
    log: deque[tuple[int, dict[str, Any]]] = field(default_factory=lambda: deque(maxlen=REPLAY_LIMIT))
    connection: Connection | None = None
    invalid: bool = False


class GatewayHub:
    """Accepts gateway websockets and dispatches events to every live session."""

    def __init__(self, state: EmulatorState, heartbeat_interval_ms: int) -> None:
        self.state = state
        self.heartbeat_interval_ms = heartbeat_interval_ms
        self.sessions: dict[str, GatewaySession] = {}
        self.connections: set[Connection] = set()
        self.identify_count = 0
        self.resume_count = 0
        self.gateway_url = ""
        state.event_sink = self.dispatch

    @property
    def live_sessions(self) -> list[GatewaySession]:
        """Sessions that still receive events (connected, or disconnected but resumable)."""
        return [s for s in self.sessions.values() if not s.invalid]

    def dispatch(
        self, event: str, data: dict[str, Any], intent: int = 0, redact: bool = False
    ) -> list[asyncio.Future[None]]:
        """Send an event to every live session with the intent; the futures resolve once it is written."""
        futures: list[asyncio.Future[None]] = []
        for session in self.live_sessions:
            if intent and not session.intents & intent:
                continue
            body = data
            if redact and not session.intents & INTENT_MESSAGE_CONTENT:
                body = {**data, "content": "", "embeds": [], "attachments": [], "components": []}
            future = self._send_event(session, event, body)
            if future is not None:
                futures.append(future)
        return futures

    def _send_event(
        self, session: GatewaySession, event: str, data: dict[str, Any]
    ) -> asyncio.Future[None] | None:
        session.seq += 1
        frame = {"op": OP_DISPATCH, "t": event, "s": session.seq, "d": data}
        session.log.append((session.seq, frame))
        if session.connection is None:
            return None
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        session.connection.send(frame, future)
        return future

    async def handle(self, request: web.Request) -> web.StreamResponse:
        """GET / with a websocket upgrade: one gateway connection."""
        ws = web.WebSocketResponse(autoping=True, max_msg_size=0, timeout=2.0)
        await ws.prepare(request)
        connection = Connection(ws)
        self.connections.add(connection)
        sender = asyncio.create_task(self._sender(connection))
        connection.send(
            {"op": OP_HELLO, "s": None, "t": None, "d": {"heartbeat_interval": self.heartbeat_interval_ms}}
        )
        try:
            async for msg in ws:
                if msg.type is WSMsgType.TEXT:
                    try:
                        frame = json.loads(msg.data)
                    except ValueError:
                        frame = None
                    if not isinstance(frame, dict):
                        await connection.close(4002, "Decode error.")
                        break
                    await self._on_frame(connection, frame)
                elif msg.type is WSMsgType.BINARY:
                    await connection.close(4002, "Decode error.")
        except Exception as exc:  # a bug in the emulator: keep it for the test to see
            self.state.internal_errors.append(exc)
            log.exception("gateway connection failed")
        finally:
            self.connections.discard(connection)
            session = connection.session
            if session is not None and session.connection is connection:
                session.connection = None
                if not connection.closed_by_server and ws.close_code in (1000, 1001):
                    session.invalid = True  # a client closing with 1000/1001 ends its session
            connection.queue.put_nowait(None)
            with contextlib.suppress(asyncio.CancelledError):
                await sender
            self.state.notify()
        return ws

    async def _sender(self, connection: Connection) -> None:
        while True:
            item = await connection.queue.get()
            if item is None:
                return
            text, done = item
            try:
                if not connection.ws.closed:
                    await connection.ws.send_str(text)
            except (ConnectionError, RuntimeError):
                pass
            finally:
                if done is not None and not done.done():
                    done.set_result(None)

    async def _on_frame(self, connection: Connection, frame: dict[str, Any]) -> None:
        op = frame.get("op")
        data: dict[str, Any] = frame["d"] if isinstance(frame.get("d"), dict) else {}
        if op == OP_HEARTBEAT:
            connection.send({"op": OP_HEARTBEAT_ACK, "s": None, "t": None, "d": None})
        elif op == OP_IDENTIFY:
            await self._identify(connection, data)
        elif op == OP_RESUME:
            await self._resume(connection, data)
        elif op in (OP_PRESENCE_UPDATE, OP_VOICE_STATE_UPDATE, OP_REQUEST_GUILD_MEMBERS):
            if connection.session is None:
                await connection.close(4003, "Not authenticated.")
        else:
            await connection.close(4001, "Unknown opcode.")

    async def _identify(self, connection: Connection, data: dict[str, Any]) -> None:
        if connection.session is not None:
            await connection.close(4005, "Already authenticated.")
            return
        if data.get("token") != self.state.bot_token:
            await connection.close(4004, "Authentication failed.")
            return
        intents = data.get("intents")
        if not isinstance(intents, int):
            await connection.close(4013, "Invalid intent(s).")
            return
        session = GatewaySession(id=secrets.token_hex(16), intents=intents)
        self.sessions[session.id] = session
        session.connection = connection
        connection.session = session
        self.identify_count += 1
        state = self.state
        ready = {
            "v": 10,
            "user": payloads.current_user(state),
            "user_settings": {},
            "guilds": [{"id": str(g), "unavailable": True} for g in state.guilds],
            "session_id": session.id,
            "session_type": "normal",
            "resume_gateway_url": self.gateway_url,
            "private_channels": [],
            "relationships": [],
            "presences": [],
            "guild_join_requests": [],
            "geo_ordered_rtc_regions": ["local"],
            "auth": {},
            "application": {"id": str(state.application_id), "flags": 0},
            "_trace": ['["emulator",{"micros":0}]'],
        }
        self._send_event(session, "READY", ready)
        for guild in state.guilds.values():
            if session.intents & INTENT_GUILDS:
                self._send_event(session, "GUILD_CREATE", payloads.guild(state, guild, gateway=True))
        state.notify()

    async def _resume(self, connection: Connection, data: dict[str, Any]) -> None:
        if data.get("token") != self.state.bot_token:
            await connection.close(4004, "Authentication failed.")
            return
        session = self.sessions.get(str(data.get("session_id")))
        seq = data.get("seq") or 0
        oldest = session.log[0][0] if session and session.log else 1
        if session is None or session.invalid or seq < oldest - 1 or seq > session.seq:
            connection.send({"op": OP_INVALID_SESSION, "s": None, "t": None, "d": False})
            return
        if session.connection is not None and session.connection is not connection:
            await session.connection.close(4000, "Session resumed elsewhere.")
        session.connection = connection
        connection.session = session
        self.resume_count += 1
        for number, frame in list(session.log):
            if number > seq:
                connection.send(frame)
        self._send_event(session, "RESUMED", {"_trace": ['["emulator",{"micros":0}]']})
        self.state.notify()

    async def reconnect(self) -> None:
        """Send op 7 RECONNECT on every connection (the client reconnects and resumes)."""
        for connection in list(self.connections):
            connection.send({"op": OP_RECONNECT, "s": None, "t": None, "d": None})

    async def drop(self, code: int = 4000) -> None:
        """Close every connection from the server side with `code` (4000 lets the client resume)."""
        for connection in list(self.connections):
            await connection.close(code, "Closed by the emulator.")

    async def invalidate(self, resumable: bool = False) -> None:
        """Send op 9 INVALID_SESSION; with resumable False the sessions are gone and the client identifies."""
        for connection in list(self.connections):
            if connection.session is not None and not resumable:
                connection.session.invalid = True
            connection.send({"op": OP_INVALID_SESSION, "s": None, "t": None, "d": resumable})

    async def close_all(self) -> None:
        """Close every connection (emulator shutdown)."""
        for connection in list(self.connections):
            with contextlib.suppress(Exception):
                await connection.close(1001, "Emulator stopping.")
