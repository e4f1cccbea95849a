"""DiscordEmulator: the test-facing API (world building, invoking commands, recordings, fault injection)."""

from __future__ import annotations

import asyncio
import base64
import re
import secrets
import time
from collections.abc import Callable
from types import TracebackType
from typing import Any, TypeVar

from aiohttp import web

from . import payloads
from .commands import build_command_data, find_command
from .constants import (
    DEFAULT_FILE_LIMIT,
)
from .gateway import GatewayHub
from .models import (
    EmulatedInteraction,
    Guild,
    RecordedMessage,
    RecordedRequest,
    Webhook,
)
from .rest_core import CoreRoutes
from .rest_webhooks import WebhookRoutes
from .server import build_app
from .state import EmulatorState, InjectedFault
from .world import WorldBuilder

T = TypeVar("T")


class DiscordEmulator(WorldBuilder):
    """A local Discord (REST API v10 + gateway) for the real discord.py client, recording everything."""

    def __init__(
        self,
        *,
        ack_deadline: float = 3.0,
        token_ttl: float = 900.0,
        attachment_size_limit: int = DEFAULT_FILE_LIMIT,
        heartbeat_interval_ms: int = 41250,
        bot_name: str = "AutoIntel",
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.state = EmulatorState(
            ack_deadline=ack_deadline,
            token_ttl=token_ttl,
            attachment_size_limit=attachment_size_limit,
            bot_name=bot_name,
        )
        self.hub = GatewayHub(self.state, heartbeat_interval_ms)
        self._core = CoreRoutes(self.state, "")
        self._host, self._port = host, port
        self._runner: web.AppRunner | None = None
        self._default_channels: dict[int, int] = {}
        self.base_url = ""

    # -- lifecycle ------------------------------------------------------------------------------

    async def start(self) -> DiscordEmulator:
        """Listen on host:port (port 0 picks a free one)."""
        routes = self._core.routes() + WebhookRoutes(self.state).routes()
        runner = web.AppRunner(
            build_app(self.state, routes, self.hub.handle), access_log=None, shutdown_timeout=2.0
        )
        await runner.setup()
        await web.TCPSite(runner, self._host, self._port).start()
        self._runner = runner
        port = runner.addresses[0][1]
        self.base_url = f"http://{self._host}:{port}"
        self.state.base_url = self.base_url
        self.hub.gateway_url = self._core.gateway_url = f"ws://{self._host}:{port}/"
        return self

    async def stop(self) -> None:
        """Close the gateway connections and the server."""
        await self.hub.close_all()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> DiscordEmulator:
        return await self.start()

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()

    # -- addresses, identity, settings ----------------------------------------------------------

    @property
    def api_base_url(self) -> str:
        """What `discord.http.Route.BASE` must be: http://127.0.0.1:PORT/api/v10."""
        return f"{self.base_url}/api/v10"

    @property
    def gateway_url(self) -> str:
        """What `DiscordWebSocket.DEFAULT_GATEWAY` must be: ws://127.0.0.1:PORT/."""
        return self.hub.gateway_url

    @property
    def bot_token(self) -> str:
        """The only token the REST API and the gateway accept."""
        return self.state.bot_token

    @property
    def application_id(self) -> int:
        """The application's id (different from the bot user's id, as for older applications)."""
        return self.state.application_id

    @property
    def bot_user_id(self) -> int:
        """The bot user's id."""
        return self.state.bot_user.id

    @property
    def ack_deadline(self) -> float:
        """Seconds an interaction may wait for its callback before it is 10062 Unknown interaction."""
        return self.state.ack_deadline

    @ack_deadline.setter
    def ack_deadline(self, value: float) -> None:
        self.state.ack_deadline = value

    @property
    def token_ttl(self) -> float:
        """Seconds an interaction token lives (applies to interactions created afterwards)."""
        return self.state.token_ttl

    @token_ttl.setter
    def token_ttl(self, value: float) -> None:
        self.state.token_ttl = value

    # -- recordings ---------------------------------------------------------------------------

    @property
    def messages(self) -> list[RecordedMessage]:
        """Every message created in any way, in creation order (edits and deletions are on each)."""
        return self.state.messages

    @property
    def requests(self) -> list[RecordedRequest]:
        """Every REST call: (method, path below /api/v10, status, JSON error code or None, monotonic time)."""
        return self.state.requests

    @property
    def interactions(self) -> list[EmulatedInteraction]:
        """Every interaction sent, in order."""
        return list(self.state.interactions.values())

    @property
    def webhooks(self) -> dict[int, list[Webhook]]:
        """The live channel webhooks by channel id."""
        result: dict[int, list[Webhook]] = {}
        for webhook in self.state.webhooks.values():
            if not webhook.deleted:
                result.setdefault(webhook.channel_id, []).append(webhook)
        return result

    @property
    def guilds(self) -> dict[int, Guild]:
        """The guilds by id (their channels, roles and members)."""
        return self.state.guilds

    @property
    def internal_errors(self) -> list[BaseException]:
        """Exceptions raised inside the emulator (answered as 500); a test should see none."""
        return self.state.internal_errors

    @property
    def gateway_connected(self) -> bool:
        """Whether a client holds an identified gateway connection right now."""
        return any(s.connection is not None for s in self.hub.live_sessions)

    @property
    def gateway_identify_count(self) -> int:
        """How many IDENTIFYs the gateway accepted."""
        return self.hub.identify_count

    @property
    def gateway_resume_count(self) -> int:
        """How many RESUMEs the gateway accepted."""
        return self.hub.resume_count

    def registered_commands(self, guild_id: int | None = None) -> list[dict[str, Any]]:
        """The synced commands as Discord returned them (global ones when guild_id is None)."""
        return list(self.state.commands_for(guild_id))

    async def wait_for(self, predicate: Callable[[], T | None], timeout: float = 10.0) -> T:  # noqa: ASYNC109
        """The first truthy `predicate()`, re-evaluated on every change; TimeoutError after `timeout`."""
        return await self.state.wait_for(predicate, timeout)

    async def wait_for_message(
        self,
        predicate: Callable[[RecordedMessage], bool],
        timeout: float = 10.0,  # noqa: ASYNC109 (a deadline for the whole wait, like asyncio.wait_for)
    ) -> RecordedMessage:
        """The first message (existing or future, edits included) that satisfies `predicate`."""

        def find() -> RecordedMessage | None:
            return next((m for m in self.state.messages if predicate(m)), None)

        return await self.state.wait_for(find, timeout)

    # -- interactions ---------------------------------------------------------------------------

    async def invoke(
        self,
        guild_id: int,
        channel_id: int,
        user_id: int,
        command: str,
        *,
        options: dict[str, Any] | None = None,
        attachments: dict[str, dict[str, Any]] | None = None,
        subcommand: str | None = None,
        subcommand_group: str | None = None,
        locale: str = "en-US",
        attachment_size_limit: int | None = None,
    ) -> EmulatedInteraction:
        """A user runs a synced slash command: INTERACTION_CREATE goes to the bot; returns once it is sent.

        Options are checked against the synced definition (unknown or missing required options,
        values outside the choices raise ValueError); `attachments` maps option names to
        `add_attachment` payloads. `subcommand` may be "group sub".
        """
        state = self.state
        guild = state.guilds.get(guild_id)
        if guild is None or channel_id not in guild.channels or user_id not in guild.members:
            raise ValueError("unknown guild, or channel/user not in that guild")
        definition = find_command(state, guild_id, command)
        if definition is None:
            raise LookupError(f"/{command} is not synced (globally or in guild {guild_id})")
        if not self.hub.live_sessions:
            raise RuntimeError("no gateway session: the bot has not connected")
        values = {**(options or {}), **(attachments or {})}
        data = build_command_data(
            state,
            definition,
            guild,
            guild.channels[channel_id],
            user_id,
            values,
            subcommand,
            subcommand_group,
        )
        interaction_id = state.ids.next()
        prefix = base64.urlsafe_b64encode(f"interaction:{interaction_id}:".encode()).decode().rstrip("=")
        path = " ".join(p for p in (subcommand_group, subcommand) if p) or None
        interaction = EmulatedInteraction(
            id=interaction_id,
            token=f"{prefix}{secrets.token_urlsafe(96)}",
            application_id=state.application_id,
            guild_id=guild_id,
            channel_id=channel_id,
            user_id=user_id,
            command_id=int(definition["id"]),
            command_name=command,
            subcommand=path,
            options=values,
            payload={},
            created_at=time.monotonic(),
            token_ttl=state.token_ttl,
            attachment_size_limit=attachment_size_limit or state.attachment_size_limit,
            locale=locale,
        )
        interaction.payload = payloads.interaction_create(state, interaction, data)
        state.interactions[interaction.id] = interaction
        state.interactions_by_token[interaction.token] = interaction
        interaction.created_at = time.monotonic()
        sent = self.hub.dispatch("INTERACTION_CREATE", interaction.payload)
        state.notify()
        if sent:
            await asyncio.wait(sent, timeout=5.0)
        return interaction

    def expire_interaction_tokens(self) -> None:
        """Expire every interaction token now (later followups and edits get 401 50027)."""
        for interaction in self.state.interactions.values():
            interaction.token_revoked = True
        self.state.notify()

    # -- fault injection and gateway control ----------------------------------------------------

    def inject_error(
        self,
        path_pattern: str,
        *,
        status: int,
        code: int | None = None,
        message: str | None = None,
        method: str | None = None,
        times: int = 1,
        after: int = 0,
    ) -> None:
        """Answer the next `times` requests whose path (below /api/v10) matches the regex with this
        error, once `after` matching requests went through."""
        text = message or f"{status}: injected by the emulator"
        fault = InjectedFault(method, re.compile(path_pattern), status, code, text, times, None, skip=after)
        self.state.faults.append(fault)

    def inject_rate_limit(
        self,
        path_pattern: str,
        *,
        retry_after: float = 0.05,
        method: str | None = None,
        times: int = 1,
        is_global: bool = False,
        after: int = 0,
    ) -> None:
        """Answer matching requests with a Discord 429 (Via header, retry_after body and headers),
        once `after` matching requests went through."""
        message = "You are being rate limited."
        fault = InjectedFault(
            method, re.compile(path_pattern), 429, None, message, times, retry_after, is_global, after
        )
        self.state.faults.append(fault)

    async def reconnect_gateway(self) -> None:
        """Send op 7 RECONNECT: the client reconnects and RESUMEs."""
        await self.hub.reconnect()

    async def disconnect_gateway(self, code: int = 4000) -> None:
        """Close the gateway connections from the server side (4000: the client resumes)."""
        await self.hub.drop(code)

    async def invalidate_gateway_sessions(self, resumable: bool = False) -> None:
        """Send op 9 INVALID_SESSION (not resumable: the client IDENTIFYs again)."""
        await self.hub.invalidate(resumable)
