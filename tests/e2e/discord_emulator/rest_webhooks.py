"""REST routes for interactions (callback, followups, @original) and channel webhooks."""

from __future__ import annotations

import hashlib
import secrets
from typing import Any

from aiohttp import web

from . import payloads
from .constants import (
    ALREADY_ACKNOWLEDGED,
    DEFAULT_FILE_LIMIT,
    EDITABLE_FLAGS,
    FLAG_EPHEMERAL,
    FLAG_LOADING,
    FLAG_SUPPRESS_NOTIFICATIONS,
    INVALID_WEBHOOK_TOKEN,
    MANAGE_WEBHOOKS,
    MAX_WEBHOOK_NAME,
    MAX_WEBHOOKS_PER_CHANNEL,
    MAX_WEBHOOKS_REACHED,
    MISSING_ACCESS,
    MISSING_PERMISSIONS,
    UNKNOWN_CHANNEL,
    UNKNOWN_INTERACTION,
    UNKNOWN_MESSAGE,
    UNKNOWN_WEBHOOK,
    VIEW_CHANNEL,
)
from .errors import DiscordError, FormErrors, invalid_form
from .messages import build_message, commit_message, delete_message, edit_message
from .models import EmulatedInteraction, RecordedMessage, Webhook
from .server import (
    ARRIVAL,
    Handler,
    json_response,
    no_content,
    query_flag,
    read_json,
    read_message_body,
    require_bot,
    snowflake,
)
from .state import EmulatorState, parse_snowflake

INTERACTION_FLAGS = FLAG_EPHEMERAL | EDITABLE_FLAGS | FLAG_SUPPRESS_NOTIFICATIONS
WEBHOOK_FLAGS = EDITABLE_FLAGS | FLAG_SUPPRESS_NOTIFICATIONS
INTENT_GUILD_WEBHOOKS = 1 << 5


def check_webhook_name(name: Any, field: str) -> None:
    """1-80 characters, and never "discord" or "clyde" (400 50035 like Discord)."""
    errors = FormErrors()
    if not isinstance(name, str) or not 1 <= len(name) <= MAX_WEBHOOK_NAME:
        errors.add([field], "BASE_TYPE_BAD_LENGTH", f"Must be between 1 and {MAX_WEBHOOK_NAME} in length.")
    else:
        for word in ("discord", "clyde"):
            if word in name.lower():
                errors.add([field], "USERNAME_INVALID_CONTAINS", f'Username cannot contain "{word}"')
    errors.raise_if_any()


class WebhookRoutes:
    """Handlers for interaction responses and channel webhooks."""

    def __init__(self, state: EmulatorState) -> None:
        self.state = state

    def routes(self) -> list[tuple[str, str, Handler]]:
        """(method, path, handler) for the router."""
        token_path = "/webhooks/{webhook_id}/{token}"
        return [
            ("POST", "/interactions/{interaction_id}/{token}/callback", self.callback),
            ("GET", "/channels/{channel_id}/webhooks", self.list_channel_webhooks),
            ("POST", "/channels/{channel_id}/webhooks", self.create_webhook),
            ("GET", "/guilds/{guild_id}/webhooks", self.list_guild_webhooks),
            ("GET", "/webhooks/{webhook_id}", self.get_webhook),
            ("PATCH", "/webhooks/{webhook_id}", self.modify_webhook),
            ("DELETE", "/webhooks/{webhook_id}", self.delete_webhook),
            ("GET", token_path, self.get_webhook_with_token),
            ("PATCH", token_path, self.modify_webhook),
            ("DELETE", token_path, self.delete_webhook),
            ("POST", token_path, self.execute),
            ("GET", token_path + "/messages/{message_id}", self.get_webhook_message),
            ("PATCH", token_path + "/messages/{message_id}", self.edit_webhook_message),
            ("DELETE", token_path + "/messages/{message_id}", self.delete_webhook_message),
        ]

    # -- interaction callback -------------------------------------------------------------------

    async def callback(self, request: web.Request) -> web.Response:
        """POST /interactions/{id}/{token}/callback: the one acknowledgement, within the deadline."""
        interaction = self.state.interactions.get(snowflake(request, "interaction_id"))
        if interaction is None or interaction.token != request.match_info["token"]:
            raise DiscordError(404, UNKNOWN_INTERACTION)
        payload, files = await read_message_body(request)
        latency = ARRIVAL.get() - interaction.created_at
        try:
            body = self._acknowledge(interaction, payload, files, latency)
        except DiscordError as error:
            interaction.callback_attempts.append((latency, error.status, error.code))
            self.state.notify()
            raise
        with_response = query_flag(request, "with_response")
        interaction.callback_attempts.append((latency, 200 if with_response else 204, None))
        self.state.notify()
        return json_response(body) if with_response else no_content()

    def _acknowledge(
        self, interaction: EmulatedInteraction, payload: dict[str, Any], files: list[Any], latency: float
    ) -> dict[str, Any]:
        state = self.state
        if interaction.acknowledged.is_set():
            raise DiscordError(400, ALREADY_ACKNOWLEDGED)
        if interaction.deadline_missed or latency > state.ack_deadline:
            interaction.deadline_missed = True
            raise DiscordError(404, UNKNOWN_INTERACTION)
        kind = payload.get("type")
        data = payload.get("data") or {}
        if not isinstance(data, dict):
            raise invalid_form(["data"], "DICT_TYPE_CONVERT", "Only dictionaries may be used in a DictType")
        message: RecordedMessage | None = None
        common: dict[str, Any] = {
            "channel_id": interaction.channel_id,
            "author_id": state.bot_user.id,
            "via": "interaction_response",
            "file_limit": interaction.attachment_size_limit,
            "allowed_flags": INTERACTION_FLAGS,
            "webhook_id": state.application_id,
            "application_id": state.application_id,
            "interaction_id": interaction.id,
            "type": 20,
        }
        if kind == 4:
            message = build_message(state, payload=data, files=files, **common)
        elif kind == 5:
            flags = FLAG_LOADING | ((data.get("flags") or 0) & FLAG_EPHEMERAL)
            message = build_message(state, payload={}, files=[], extra_flags=flags, **common)
        elif kind == 9:
            errors = FormErrors()
            for key, limit in (("custom_id", 100), ("title", 45)):
                value = data.get(key)
                if not isinstance(value, str) or not 1 <= len(value) <= limit:
                    errors.add(
                        ["data", key], "BASE_TYPE_BAD_LENGTH", f"Must be between 1 and {limit} in length."
                    )
            if not data.get("components"):
                errors.required(["data", "components"])
            errors.raise_if_any()
            interaction.modal = data
        elif kind in (1, 6, 7, 8, 10, 12):
            raise invalid_form(
                ["type"], "INTERACTION_CALLBACK_TYPE_INVALID", "Invalid interaction callback type"
            )
        else:
            raise invalid_form(
                ["type"], "BASE_TYPE_CHOICES", "Value must be one of {1, 4, 5, 6, 7, 8, 9, 10, 12}."
            )
        if message is not None:
            commit_message(state, message)
        interaction.response_type = kind
        interaction.ack_latency = latency
        interaction.original_message = message
        interaction.ephemeral = bool(message is not None and message.ephemeral)
        interaction.acknowledged.set()
        state.notify()
        summary: dict[str, Any] = {"id": str(interaction.id), "type": 2, "activity_instance_id": None}
        resource: dict[str, Any] = {"type": kind}
        if message is not None:
            summary["response_message_id"] = str(message.id)
            summary["response_message_loading"] = message.loading
            summary["response_message_ephemeral"] = message.ephemeral
            resource["message"] = payloads.message(state, message)
        return {"interaction": summary, "resource": resource}

    # -- token lookups --------------------------------------------------------------------------

    def _interaction(self, request: web.Request) -> EmulatedInteraction:
        interaction = self.state.interactions_by_token.get(request.match_info["token"])
        if interaction is None or interaction.expired:
            raise DiscordError(401, INVALID_WEBHOOK_TOKEN)
        if not interaction.acknowledged.is_set():
            raise DiscordError(404, UNKNOWN_WEBHOOK)
        return interaction

    def _is_interaction(self, request: web.Request) -> bool:
        return snowflake(request, "webhook_id") == self.state.application_id

    def _webhook_with_token(self, request: web.Request) -> Webhook:
        webhook = self.state.webhook(snowflake(request, "webhook_id"))
        if not secrets.compare_digest(webhook.token, request.match_info["token"]):
            raise DiscordError(401, INVALID_WEBHOOK_TOKEN)
        return webhook

    def _token_message(self, request: web.Request) -> tuple[RecordedMessage, int]:
        """The message a token may touch, and the upload limit that applies to it."""
        raw = request.match_info["message_id"]
        if self._is_interaction(request):
            interaction = self._interaction(request)
            if raw == "@original":
                found = interaction.original_message
            else:
                found = self.state.messages_by_id.get(parse_snowflake(raw, "message_id"))
                found = found if found is not None and found.interaction_id == interaction.id else None
            limit = interaction.attachment_size_limit
        else:
            webhook = self._webhook_with_token(request)
            found = None
            if raw != "@original":
                found = self.state.messages_by_id.get(parse_snowflake(raw, "message_id"))
                found = found if found is not None and found.webhook_id == webhook.id else None
            limit = DEFAULT_FILE_LIMIT
        if found is None or found.deleted:
            raise DiscordError(404, UNKNOWN_MESSAGE)
        return found, limit

    # -- executing and editing through a token ---------------------------------------------------

    async def execute(self, request: web.Request) -> web.Response:
        """POST /webhooks/{id}/{token}: an interaction followup, or a channel webhook message."""
        if "thread_id" in request.query:
            raise DiscordError(404, UNKNOWN_CHANNEL)
        state = self.state
        if self._is_interaction(request):
            interaction = self._interaction(request)
            payload, files = await read_message_body(request)
            original = interaction.original_message
            if (
                interaction.response_type == 5
                and original is not None
                and original.loading
                and not original.deleted
            ):
                limit = interaction.attachment_size_limit
                message = edit_message(
                    state, original, payload, files, file_limit=limit, kind="deferred_followup"
                )
            else:
                reference = original.id if original is not None and not original.deleted else None
                message = build_message(
                    state,
                    channel_id=interaction.channel_id,
                    author_id=state.bot_user.id,
                    via="followup",
                    payload=payload,
                    files=files,
                    file_limit=interaction.attachment_size_limit,
                    allowed_flags=INTERACTION_FLAGS,
                    webhook_id=state.application_id,
                    application_id=state.application_id,
                    interaction_id=interaction.id,
                    type=20 if reference is None else 19,
                    reference_id=reference,
                )
                commit_message(state, message)
                interaction.followups.append(message)
        else:
            webhook = self._webhook_with_token(request)
            payload, files = await read_message_body(request)
            if payload.get("username"):
                check_webhook_name(payload["username"], "username")
            message = build_message(
                state,
                channel_id=webhook.channel_id,
                author_id=webhook.id,
                via="channel_webhook",
                payload=payload,
                files=files,
                file_limit=DEFAULT_FILE_LIMIT,
                allowed_flags=WEBHOOK_FLAGS,
                webhook_id=webhook.id,
                application_id=webhook.application_id,
            )
            commit_message(state, message)
        if not query_flag(request, "wait"):
            return no_content()
        return json_response(payloads.message(state, message))

    async def get_webhook_message(self, request: web.Request) -> web.Response:
        """GET /webhooks/{id}/{token}/messages/{id | @original}."""
        message, _ = self._token_message(request)
        return json_response(payloads.message(self.state, message))

    async def edit_webhook_message(self, request: web.Request) -> web.Response:
        """PATCH /webhooks/{id}/{token}/messages/{id | @original}."""
        message, limit = self._token_message(request)
        payload, files = await read_message_body(request)
        edit_message(self.state, message, payload, files, file_limit=limit)
        return json_response(payloads.message(self.state, message))

    async def delete_webhook_message(self, request: web.Request) -> web.Response:
        """DELETE /webhooks/{id}/{token}/messages/{id | @original}."""
        message, _ = self._token_message(request)
        delete_message(self.state, message)
        return no_content()

    # -- managing channel webhooks ---------------------------------------------------------------

    def _require_manage(self, channel_id: int) -> None:
        perms = self.state.bot_permissions(channel_id)
        if not perms & VIEW_CHANNEL:
            raise DiscordError(403, MISSING_ACCESS)
        if not perms & MANAGE_WEBHOOKS:
            raise DiscordError(403, MISSING_PERMISSIONS)

    def _changed(self, webhook: Webhook) -> None:
        data = {"guild_id": str(webhook.guild_id), "channel_id": str(webhook.channel_id)}
        self.state.emit("WEBHOOKS_UPDATE", data, INTENT_GUILD_WEBHOOKS)
        self.state.notify()

    async def list_channel_webhooks(self, request: web.Request) -> web.Response:
        """GET /channels/{id}/webhooks (MANAGE_WEBHOOKS)."""
        require_bot(request)
        channel = self.state.channel(snowflake(request, "channel_id"))
        self._require_manage(channel.id)
        return json_response(
            [payloads.webhook(self.state, w) for w in self.state.channel_webhooks(channel.id)]
        )

    async def create_webhook(self, request: web.Request) -> web.Response:
        """POST /channels/{id}/webhooks (MANAGE_WEBHOOKS, a valid name, at most 15 per channel)."""
        require_bot(request)
        channel = self.state.channel(snowflake(request, "channel_id"))
        self._require_manage(channel.id)
        body = await read_json(request)
        check_webhook_name(body.get("name") if isinstance(body, dict) else None, "name")
        if len(self.state.channel_webhooks(channel.id)) >= MAX_WEBHOOKS_PER_CHANNEL:
            raise DiscordError(400, MAX_WEBHOOKS_REACHED)
        avatar = body.get("avatar")
        webhook = Webhook(
            id=self.state.ids.next(),
            guild_id=channel.guild_id,
            channel_id=channel.id,
            name=body["name"],
            token=secrets.token_urlsafe(51),
            application_id=self.state.application_id,
            creator_id=self.state.bot_user.id,
            avatar=hashlib.md5(avatar.encode()).hexdigest() if isinstance(avatar, str) else None,
        )
        self.state.webhooks[webhook.id] = webhook
        self._changed(webhook)
        return json_response(payloads.webhook(self.state, webhook))

    async def list_guild_webhooks(self, request: web.Request) -> web.Response:
        """GET /guilds/{id}/webhooks (MANAGE_WEBHOOKS at guild level)."""
        require_bot(request)
        guild = self.state.guild(snowflake(request, "guild_id"))
        if not self.state.base_permissions(guild, self.state.bot_user.id) & MANAGE_WEBHOOKS:
            raise DiscordError(403, MISSING_PERMISSIONS)
        found = [w for w in self.state.webhooks.values() if w.guild_id == guild.id and not w.deleted]
        return json_response([payloads.webhook(self.state, w) for w in found])

    async def get_webhook(self, request: web.Request) -> web.Response:
        """GET /webhooks/{id} (bot auth, MANAGE_WEBHOOKS in its channel)."""
        require_bot(request)
        webhook = self.state.webhook(snowflake(request, "webhook_id"))
        self._require_manage(webhook.channel_id)
        return json_response(payloads.webhook(self.state, webhook))

    async def get_webhook_with_token(self, request: web.Request) -> web.Response:
        """GET /webhooks/{id}/{token} (no user object, like Discord)."""
        if self._is_interaction(request):
            interaction = self._interaction(request)
            return json_response(
                {
                    "id": str(self.state.application_id),
                    "type": 3,
                    "name": self.state.bot_user.username,
                    "avatar": None,
                    "channel_id": str(interaction.channel_id),
                    "guild_id": str(interaction.guild_id),
                    "application_id": str(self.state.application_id),
                }
            )
        return json_response(payloads.webhook(self.state, self._webhook_with_token(request), with_user=False))

    def _managed_webhook(self, request: web.Request) -> Webhook:
        if "token" in request.match_info:
            return self._webhook_with_token(request)
        require_bot(request)
        webhook = self.state.webhook(snowflake(request, "webhook_id"))
        self._require_manage(webhook.channel_id)
        return webhook

    async def modify_webhook(self, request: web.Request) -> web.Response:
        """PATCH /webhooks/{id}[/{token}]: name, avatar, and (bot auth only) channel_id."""
        webhook = self._managed_webhook(request)
        body = await read_json(request)
        if not isinstance(body, dict):
            raise invalid_form([], "DICT_TYPE_CONVERT", "Only dictionaries may be used in a DictType")
        if "name" in body:
            check_webhook_name(body["name"], "name")
        if body.get("channel_id") is not None and "token" not in request.match_info:
            target = self.state.channel(parse_snowflake(str(body["channel_id"]), "channel_id"))
            if target.guild_id != webhook.guild_id:
                raise DiscordError(400, UNKNOWN_CHANNEL)
            self._require_manage(target.id)
            if target.id != webhook.channel_id:
                if len(self.state.channel_webhooks(target.id)) >= MAX_WEBHOOKS_PER_CHANNEL:
                    raise DiscordError(400, MAX_WEBHOOKS_REACHED)
                webhook.channel_id = target.id
        if "name" in body:
            webhook.name = body["name"]
        if "avatar" in body:
            avatar = body["avatar"]
            webhook.avatar = hashlib.md5(avatar.encode()).hexdigest() if isinstance(avatar, str) else None
        self._changed(webhook)
        with_user = "token" not in request.match_info
        return json_response(payloads.webhook(self.state, webhook, with_user=with_user))

    async def delete_webhook(self, request: web.Request) -> web.Response:
        """DELETE /webhooks/{id}[/{token}]."""
        webhook = self._managed_webhook(request)
        webhook.deleted = True
        self._changed(webhook)
        return no_content()
