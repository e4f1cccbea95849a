"""REST routes for the bot itself: identity, gateway discovery, commands, guilds, channels, messages, CDN."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from . import payloads
from .commands import sync_commands
from .constants import (
    ATTACH_FILES,
    CANNOT_EDIT_OTHERS_MESSAGE,
    DEFAULT_FILE_LIMIT,
    EDITABLE_FLAGS,
    EMBED_LINKS,
    FLAG_SUPPRESS_NOTIFICATIONS,
    MANAGE_MESSAGES,
    MENTION_EVERYONE,
    MISSING_ACCESS,
    MISSING_PERMISSIONS,
    NOT_AUTHORIZED_FOR_APPLICATION,
    READ_MESSAGE_HISTORY,
    SEND_MESSAGES,
    UNKNOWN_APPLICATION_COMMAND,
    UNKNOWN_MEMBER,
    UNKNOWN_USER,
    VIEW_CHANNEL,
)
from .errors import DiscordError, invalid_form
from .messages import build_message, commit_message, delete_message, edit_message
from .models import Channel, Guild
from .server import Handler, json_response, no_content, read_json, read_message_body, require_bot, snowflake
from .state import EmulatorState, parse_snowflake


class CoreRoutes:
    """Handlers for the bot-authenticated endpoints that are not about webhooks or interactions."""

    def __init__(self, state: EmulatorState, gateway_url: str) -> None:
        self.state = state
        self.gateway_url = gateway_url

    def routes(self) -> list[tuple[str, str, Handler]]:
        """(method, path, handler) for the router."""
        return [
            ("GET", "/users/@me", self.get_me),
            ("GET", "/users/{user_id}", self.get_user),
            ("GET", "/oauth2/applications/@me", self.get_application),
            ("GET", "/applications/@me", self.get_application),
            ("GET", "/gateway", self.get_gateway),
            ("GET", "/gateway/bot", self.get_gateway_bot),
            ("GET", "/applications/{app_id}/commands", self.get_commands),
            ("PUT", "/applications/{app_id}/commands", self.put_commands),
            ("GET", "/applications/{app_id}/commands/{command_id}", self.get_command),
            ("GET", "/applications/{app_id}/guilds/{guild_id}/commands", self.get_commands),
            ("PUT", "/applications/{app_id}/guilds/{guild_id}/commands", self.put_commands),
            ("GET", "/applications/{app_id}/guilds/{guild_id}/commands/{command_id}", self.get_command),
            ("GET", "/guilds/{guild_id}", self.get_guild),
            ("GET", "/guilds/{guild_id}/channels", self.get_guild_channels),
            ("GET", "/guilds/{guild_id}/roles", self.get_guild_roles),
            ("GET", "/guilds/{guild_id}/members/{user_id}", self.get_member),
            ("GET", "/channels/{channel_id}", self.get_channel),
            ("POST", "/channels/{channel_id}/typing", self.typing),
            ("GET", "/channels/{channel_id}/messages", self.list_messages),
            ("POST", "/channels/{channel_id}/messages", self.create_message),
            ("GET", "/channels/{channel_id}/messages/{message_id}", self.get_message),
            ("PATCH", "/channels/{channel_id}/messages/{message_id}", self.edit_message),
            ("DELETE", "/channels/{channel_id}/messages/{message_id}", self.delete_message),
            ("GET", "/attachments/{scope}/{attachment_id}/{filename}", self.cdn),
            ("GET", "/ephemeral-attachments/{scope}/{attachment_id}/{filename}", self.cdn),
            ("GET", "/media/attachments/{scope}/{attachment_id}/{filename}", self.cdn),
            ("GET", "/media/ephemeral-attachments/{scope}/{attachment_id}/{filename}", self.cdn),
        ]

    # -- identity and discovery ---------------------------------------------------------------

    async def get_me(self, request: web.Request) -> web.Response:
        """GET /users/@me (discord.py's login)."""
        require_bot(request)
        return json_response(payloads.current_user(self.state))

    async def get_user(self, request: web.Request) -> web.Response:
        """GET /users/{id}."""
        require_bot(request)
        found = self.state.users.get(snowflake(request, "user_id"))
        if found is None:
            raise DiscordError(404, UNKNOWN_USER)
        return json_response(payloads.user(found))

    async def get_application(self, request: web.Request) -> web.Response:
        """GET /oauth2/applications/@me (discord.py's application_info)."""
        require_bot(request)
        return json_response(payloads.application(self.state))

    async def get_gateway(self, request: web.Request) -> web.Response:
        """GET /gateway."""
        return json_response({"url": self.gateway_url.rstrip("/")})

    async def get_gateway_bot(self, request: web.Request) -> web.Response:
        """GET /gateway/bot."""
        require_bot(request)
        limit = {"total": 1000, "remaining": 999, "reset_after": 14_400_000, "max_concurrency": 1}
        return json_response({"url": self.gateway_url.rstrip("/"), "shards": 1, "session_start_limit": limit})

    # -- application commands -----------------------------------------------------------------

    def _command_scope(self, request: web.Request) -> int | None:
        require_bot(request)
        if snowflake(request, "app_id") != self.state.application_id:
            raise DiscordError(403, NOT_AUTHORIZED_FOR_APPLICATION)
        if "guild_id" not in request.match_info:
            return None
        guild = self.state.guild(snowflake(request, "guild_id"))
        return guild.id

    async def get_commands(self, request: web.Request) -> web.Response:
        """GET .../commands."""
        return json_response(self.state.commands_for(self._command_scope(request)))

    async def put_commands(self, request: web.Request) -> web.Response:
        """PUT .../commands (bulk overwrite, what CommandTree.sync sends)."""
        scope = self._command_scope(request)
        return json_response(sync_commands(self.state, scope, await read_json(request)))

    async def get_command(self, request: web.Request) -> web.Response:
        """GET .../commands/{id}."""
        scope = self._command_scope(request)
        wanted = request.match_info["command_id"]
        for command in self.state.commands_for(scope):
            if command["id"] == wanted:
                return json_response(command)
        raise DiscordError(404, UNKNOWN_APPLICATION_COMMAND)

    # -- guilds and channels --------------------------------------------------------------------

    def _guild(self, request: web.Request) -> Guild:
        require_bot(request)
        return self.state.guild(snowflake(request, "guild_id"))

    async def get_guild(self, request: web.Request) -> web.Response:
        """GET /guilds/{id}."""
        return json_response(payloads.guild(self.state, self._guild(request), gateway=False))

    async def get_guild_channels(self, request: web.Request) -> web.Response:
        """GET /guilds/{id}/channels."""
        guild = self._guild(request)
        return json_response([payloads.channel(c) for c in guild.channels.values()])

    async def get_guild_roles(self, request: web.Request) -> web.Response:
        """GET /guilds/{id}/roles."""
        return json_response([payloads.role(r) for r in self._guild(request).roles.values()])

    async def get_member(self, request: web.Request) -> web.Response:
        """GET /guilds/{id}/members/{user_id}."""
        guild = self._guild(request)
        found = guild.members.get(snowflake(request, "user_id"))
        if found is None:
            raise DiscordError(404, UNKNOWN_MEMBER)
        return json_response(payloads.member(found))

    def _visible_channel(self, request: web.Request) -> tuple[Channel, int]:
        """The channel and the bot's permissions in it; 403 50001 when the bot cannot see it."""
        require_bot(request)
        channel = self.state.channel(snowflake(request, "channel_id"))
        perms = self.state.bot_permissions(channel.id)
        if not perms & VIEW_CHANNEL:
            raise DiscordError(403, MISSING_ACCESS)
        return channel, perms

    async def get_channel(self, request: web.Request) -> web.Response:
        """GET /channels/{id}."""
        channel, _ = self._visible_channel(request)
        return json_response(payloads.channel(channel))

    async def typing(self, request: web.Request) -> web.Response:
        """POST /channels/{id}/typing."""
        _, perms = self._visible_channel(request)
        if not perms & SEND_MESSAGES:
            raise DiscordError(403, MISSING_PERMISSIONS)
        return no_content()

    # -- channel messages -----------------------------------------------------------------------

    async def list_messages(self, request: web.Request) -> web.Response:
        """GET /channels/{id}/messages: newest first; `before`, `after`, `around`, `limit` (1-100)."""
        channel, perms = self._visible_channel(request)
        raw_limit = request.query.get("limit", "50")
        limit = int(raw_limit) if raw_limit.isdigit() else -1
        if not 1 <= limit <= 100:
            raise invalid_form(["limit"], "NUMBER_TYPE_MAX", "int value should be less than or equal to 100.")
        if not perms & READ_MESSAGE_HISTORY:
            return json_response([])
        visible = [
            m for m in self.state.messages if m.channel_id == channel.id and not m.deleted and not m.ephemeral
        ]
        query = request.query
        if "after" in query:
            after = parse_snowflake(query["after"], "after")
            chosen = [m for m in visible if m.id > after][:limit]
        elif "around" in query:
            around = parse_snowflake(query["around"], "around")
            older = [m for m in visible if m.id <= around][-((limit + 1) // 2) :]
            chosen = older + [m for m in visible if m.id > around][: limit - len(older)]
        else:
            before = parse_snowflake(query["before"], "before") if "before" in query else None
            chosen = [m for m in visible if before is None or m.id < before][-limit:]
        chosen.sort(key=lambda m: m.id, reverse=True)
        return json_response([payloads.message(self.state, m) for m in chosen])

    async def create_message(self, request: web.Request) -> web.Response:
        """POST /channels/{id}/messages with SEND_MESSAGES, ATTACH_FILES and EMBED_LINKS checks."""
        channel, perms = self._visible_channel(request)
        if not perms & SEND_MESSAGES:
            raise DiscordError(403, MISSING_PERMISSIONS)
        payload, files = await read_message_body(request)
        reference = self._reference(payload, channel)
        message = build_message(
            self.state,
            channel_id=channel.id,
            author_id=self.state.bot_user.id,
            via="channel",
            payload=payload,
            files=files,
            file_limit=DEFAULT_FILE_LIMIT,
            allowed_flags=EDITABLE_FLAGS | FLAG_SUPPRESS_NOTIFICATIONS,
            can_mention_everyone=bool(perms & MENTION_EVERYONE),
            type=0 if reference is None else 19,
            reference_id=reference,
        )
        if message.attachments and not perms & ATTACH_FILES:
            raise DiscordError(403, MISSING_PERMISSIONS)
        if message.embeds and not perms & EMBED_LINKS:
            raise DiscordError(403, MISSING_PERMISSIONS)
        commit_message(self.state, message)
        data = payloads.message(self.state, message)
        if payload.get("nonce") is not None:
            data["nonce"] = payload["nonce"]
        return json_response(data)

    def _reference(self, payload: dict[str, Any], channel: Channel) -> int | None:
        reference = payload.get("message_reference")
        if not isinstance(reference, dict) or reference.get("message_id") is None:
            return None
        target_id = parse_snowflake(str(reference["message_id"]), "message_reference")
        target = self.state.messages_by_id.get(target_id)
        if target is None or target.deleted or target.ephemeral or target.channel_id != channel.id:
            if reference.get("fail_if_not_exists", True):
                raise invalid_form(
                    ["message_reference"], "MESSAGE_REFERENCE_UNKNOWN_MESSAGE", "Unknown message"
                )
            return None
        return target.id

    async def get_message(self, request: web.Request) -> web.Response:
        """GET /channels/{id}/messages/{id}."""
        channel, perms = self._visible_channel(request)
        if not perms & READ_MESSAGE_HISTORY:
            raise DiscordError(403, MISSING_PERMISSIONS)
        message = self.state.message(channel.id, snowflake(request, "message_id"))
        return json_response(payloads.message(self.state, message))

    async def edit_message(self, request: web.Request) -> web.Response:
        """PATCH /channels/{id}/messages/{id}: only messages the bot authored (not channel-webhook ones)."""
        channel, perms = self._visible_channel(request)
        message = self.state.message(channel.id, snowflake(request, "message_id"))
        if message.author_id != self.state.bot_user.id or message.via == "channel_webhook":
            raise DiscordError(403, CANNOT_EDIT_OTHERS_MESSAGE)
        payload, files = await read_message_body(request)
        if payload.get("embeds") and not perms & EMBED_LINKS:
            raise DiscordError(403, MISSING_PERMISSIONS)
        edit_message(
            self.state,
            message,
            payload,
            files,
            file_limit=DEFAULT_FILE_LIMIT,
            can_mention_everyone=bool(perms & MENTION_EVERYONE),
        )
        return json_response(payloads.message(self.state, message))

    async def delete_message(self, request: web.Request) -> web.Response:
        """DELETE /channels/{id}/messages/{id}: own messages, or anyone's with MANAGE_MESSAGES."""
        channel, perms = self._visible_channel(request)
        message = self.state.message(channel.id, snowflake(request, "message_id"))
        if message.author_id != self.state.bot_user.id and not perms & MANAGE_MESSAGES:
            raise DiscordError(403, MISSING_PERMISSIONS)
        delete_message(self.state, message)
        return no_content()

    # -- CDN ------------------------------------------------------------------------------------

    async def cdn(self, request: web.Request) -> web.Response:
        """An uploaded or test attachment's bytes."""
        attachment_id = request.match_info["attachment_id"]
        found = self.state.files.get(int(attachment_id)) if attachment_id.isdigit() else None
        if found is None or found.filename != request.match_info["filename"]:
            return web.Response(status=404, text="Not Found")
        return web.Response(body=found.data, content_type=found.content_type or "application/octet-stream")
