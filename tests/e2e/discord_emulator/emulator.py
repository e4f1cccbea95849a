"""DiscordEmulator: the test-facing API (world building, invoking commands, recordings, fault injection)."""

from __future__ import annotations

import asyncio
import base64
import re
import secrets
import time
from collections.abc import Callable
from datetime import UTC, datetime
from types import TracebackType
from typing import Any, TypeVar

from aiohttp import web

from . import payloads
from .commands import build_command_data, find_command
from .constants import (
    ADMINISTRATOR,
    DEFAULT_BOT_PERMISSIONS,
    DEFAULT_EVERYONE_PERMISSIONS,
    DEFAULT_FILE_LIMIT,
    INTENT_GUILD_MEMBERS,
    INTENT_GUILDS,
    MENTION_EVERYONE,
    PERMISSION_NAMES,
)
from .gateway import GatewayHub
from .messages import build_message, commit_message
from .models import (
    Channel,
    EmulatedInteraction,
    Guild,
    Member,
    Overwrite,
    RecordedAttachment,
    RecordedMessage,
    RecordedRequest,
    Role,
    User,
    Webhook,
)
from .rest_core import CoreRoutes
from .rest_webhooks import WebhookRoutes
from .server import build_app
from .state import EmulatorState, InjectedFault

T = TypeVar("T")


class DiscordEmulator:
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
        runner = web.AppRunner(build_app(self.state, routes, self.hub.handle), access_log=None, shutdown_timeout=2.0)
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

    async def wait_for(self, predicate: Callable[[], T], timeout: float = 10.0) -> T:
        """The first truthy `predicate()`, re-evaluated on every change; TimeoutError after `timeout`."""
        return await self.state.wait_for(predicate, timeout)

    async def wait_for_message(
        self, predicate: Callable[[RecordedMessage], bool], timeout: float = 10.0
    ) -> RecordedMessage:
        """The first message (existing or future, edits included) that satisfies `predicate`."""

        def find() -> RecordedMessage | None:
            return next((m for m in self.state.messages if predicate(m)), None)

        return await self.state.wait_for(find, timeout)

    # -- building the world ---------------------------------------------------------------------

    def add_guild(
        self,
        name: str,
        *,
        locale: str = "en-US",
        bot_permissions: int = DEFAULT_BOT_PERMISSIONS,
        everyone_permissions: int = DEFAULT_EVERYONE_PERMISSIONS,
        default_channel: str = "general",
    ) -> int:
        """A guild with @everyone, an owner, the bot (with its managed role) and one text channel."""
        state = self.state
        guild_id = state.ids.next()
        owner = User(id=state.ids.next(), username=f"{name.lower().replace(' ', '-')}-owner")
        bot_role = Role(state.ids.next(), guild_id, state.bot_user.username, bot_permissions, 1, managed=True)
        bot_role.bot_id = state.bot_user.id
        guild = Guild(id=guild_id, name=name, owner_id=owner.id, bot_role_id=bot_role.id, locale=locale)
        guild.roles[guild_id] = Role(guild_id, guild_id, "@everyone", everyone_permissions, 0)
        guild.roles[bot_role.id] = bot_role
        now = datetime.now(UTC)
        guild.members[owner.id] = Member(owner, guild_id, [], now)
        guild.members[state.bot_user.id] = Member(state.bot_user, guild_id, [bot_role.id], now)
        state.users[owner.id] = owner
        state.guilds[guild_id] = guild
        self._default_channels[guild_id] = self._new_channel(guild, default_channel, 0, None, False).id
        state.emit("GUILD_CREATE", payloads.guild(state, guild, gateway=True), INTENT_GUILDS)
        state.notify()
        return guild_id

    def default_channel_id(self, guild_id: int) -> int:
        """The text channel `add_guild` created."""
        return self._default_channels[guild_id]

    def _new_channel(self, guild: Guild, name: str, kind: int, topic: str | None, nsfw: bool) -> Channel:
        channel = Channel(self.state.ids.next(), guild.id, name, len(guild.channels), kind, topic, nsfw)
        guild.channels[channel.id] = channel
        self.state.channels[channel.id] = channel
        return channel

    def add_channel(
        self, guild_id: int, name: str, *, type: int = 0, topic: str | None = None, nsfw: bool = False
    ) -> int:
        """A channel (text by default); connected clients get CHANNEL_CREATE."""
        channel = self._new_channel(self.state.guilds[guild_id], name, type, topic, nsfw)
        self.state.emit("CHANNEL_CREATE", payloads.channel(channel), INTENT_GUILDS)
        self.state.notify()
        return channel.id

    def add_role(
        self, guild_id: int, name: str, *, permissions: int = 0, mentionable: bool = False, color: int = 0
    ) -> int:
        """A role; connected clients get GUILD_ROLE_CREATE."""
        guild = self.state.guilds[guild_id]
        role = Role(self.state.ids.next(), guild_id, name, permissions, len(guild.roles), color=color)
        role.mentionable = mentionable
        guild.roles[role.id] = role
        self.state.emit("GUILD_ROLE_CREATE", {"guild_id": str(guild_id), "role": payloads.role(role)}, INTENT_GUILDS)
        self.state.notify()
        return role.id

    def add_member(
        self,
        guild_id: int,
        username: str,
        *,
        roles: list[int] | None = None,
        permissions: int | None = None,
        admin: bool = False,
        nick: str | None = None,
        global_name: str | None = None,
    ) -> int:
        """A member. `permissions`, when given, is the computed permission int interactions carry for them;
        otherwise it is computed from @everyone, the roles and channel overwrites. `admin` adds a role
        with ADMINISTRATOR."""
        guild = self.state.guilds[guild_id]
        role_ids = list(roles or [])
        unknown = [r for r in role_ids if r not in guild.roles]
        if unknown:
            raise ValueError(f"unknown roles {unknown} in guild {guild_id}")
        if admin:
            admin_role = next((r.id for r in guild.roles.values() if r.name == "Administrators"), None)
            role_ids.append(admin_role or self.add_role(guild_id, "Administrators", permissions=ADMINISTRATOR))
        user = User(id=self.state.ids.next(), username=username, global_name=global_name)
        self.state.users[user.id] = user
        member = Member(user, guild_id, role_ids, datetime.now(UTC), permissions_override=permissions, nick=nick)
        guild.members[user.id] = member
        data = {**payloads.member(member), "guild_id": str(guild_id)}
        self.state.emit("GUILD_MEMBER_ADD", data, INTENT_GUILD_MEMBERS)
        self.state.notify()
        return user.id

    def bot_permissions(self, channel_id: int) -> int:
        """The bot's effective permissions in a channel (what `app_permissions` carries)."""
        return self.state.bot_permissions(channel_id)

    def set_bot_permissions(self, channel_id: int, permissions: int | None = None, **flags: bool) -> int:
        """Give the bot exactly `permissions` in a channel, or flip named flags (`manage_webhooks=False`).

        Done like a server admin would: a member overwrite for the bot on the channel, announced
        with CHANNEL_UPDATE, so discord.py's `permissions_for` agrees. Returns the effective permissions.
        """
        state = self.state
        channel = state.channel(channel_id)
        guild = state.guilds[channel.guild_id]
        bot = guild.members[state.bot_user.id]
        base = state.base_permissions(guild, bot.user.id)
        if base & ADMINISTRATOR:
            raise ValueError("the bot is an administrator in this guild; overwrites do not apply")
        without_own = state.overwritten(channel, bot, base, with_member=False)
        desired = state.overwritten(channel, bot, base) if permissions is None else permissions
        for name, value in flags.items():
            if name not in PERMISSION_NAMES:
                raise TypeError(f"unknown permission {name!r}")
            bit = PERMISSION_NAMES[name]
            desired = desired | bit if value else desired & ~bit
        allow, deny = desired & ~without_own, without_own & ~desired
        channel.overwrites[bot.user.id] = Overwrite(bot.user.id, 1, allow, deny)
        state.emit("CHANNEL_UPDATE", payloads.channel(channel), INTENT_GUILDS)
        state.notify()
        return state.bot_permissions(channel_id)

    def add_attachment(self, filename: str, data: bytes, *, content_type: str | None = None) -> dict[str, Any]:
        """A file a user attached to a command option; served by the CDN. Returns its attachment payload."""
        if not self.base_url:
            raise RuntimeError("start() the emulator before adding attachments (their URLs need the port)")
        state = self.state
        attachment_id = state.ids.next()
        url = state.attachment_url(state.application_id, attachment_id, filename, ephemeral=True)
        item = RecordedAttachment(
            id=attachment_id,
            filename=filename,
            size=len(data),
            data=data,
            content_type=content_type,
            url=url,
            proxy_url=url.replace(self.base_url, self.base_url + "/media", 1),
            ephemeral=True,
        )
        state.files[attachment_id] = item
        return payloads.attachment(item)

    def post_user_message(
        self, channel_id: int, user_id: int, content: str, *, allowed_mentions: dict[str, Any] | None = None
    ) -> RecordedMessage:
        """A message a guild member wrote (for history reads and MESSAGE_CREATE)."""
        perms = self.state.channel_permissions(channel_id, user_id)
        payload: dict[str, Any] = {"content": content}
        if allowed_mentions is not None:
            payload["allowed_mentions"] = allowed_mentions
        message = build_message(
            self.state,
            channel_id=channel_id,
            author_id=user_id,
            via="user",
            payload=payload,
            files=[],
            file_limit=DEFAULT_FILE_LIMIT,
            allowed_flags=0,
            can_mention_everyone=bool(perms & MENTION_EVERYONE),
        )
        return commit_message(self.state, message)

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
            state, definition, guild, guild.channels[channel_id], user_id, values, subcommand, subcommand_group
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
    ) -> None:
        """Answer the next `times` requests whose path (below /api/v10) matches the regex with this error."""
        text = message or f"{status}: injected by the emulator"
        fault = InjectedFault(method, re.compile(path_pattern), status, code, text, times, None)
        self.state.faults.append(fault)

    def inject_rate_limit(
        self,
        path_pattern: str,
        *,
        retry_after: float = 0.05,
        method: str | None = None,
        times: int = 1,
        is_global: bool = False,
    ) -> None:
        """Answer matching requests with a Discord 429 (Via header, retry_after body and headers)."""
        message = "You are being rate limited."
        fault = InjectedFault(method, re.compile(path_pattern), 429, None, message, times, retry_after, is_global)
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
