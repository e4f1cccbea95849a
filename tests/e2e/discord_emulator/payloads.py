"""JSON payloads shaped like Discord's: users, members, roles, channels, guilds, messages, webhooks."""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any

from .models import (
    Channel,
    EmulatedInteraction,
    Guild,
    Member,
    RecordedAttachment,
    RecordedMessage,
    Role,
    User,
    Webhook,
)
from .state import EmulatorState


def iso(moment: datetime | None) -> str | None:
    """Discord's timestamp format (ISO 8601 with the UTC offset)."""
    return None if moment is None else moment.isoformat()


def user(item: User) -> dict[str, Any]:
    """A user object."""
    data: dict[str, Any] = {
        "id": str(item.id),
        "username": item.username,
        "discriminator": "0",
        "global_name": item.global_name,
        "avatar": None,
        "avatar_decoration_data": None,
        "banner": None,
        "accent_color": None,
        "public_flags": 0,
        "flags": 0,
        "primary_guild": None,
        "collectibles": None,
    }
    if item.bot:
        data["bot"] = True
    return data


def current_user(state: EmulatorState) -> dict[str, Any]:
    """GET /users/@me for the bot."""
    return {
        **user(state.bot_user),
        "verified": True,
        "mfa_enabled": False,
        "email": None,
        "locale": "en-US",
        "premium_type": 0,
        "bio": "",
    }


def application(state: EmulatorState) -> dict[str, Any]:
    """GET /oauth2/applications/@me."""
    return {
        "id": str(state.application_id),
        "name": state.bot_user.username,
        "icon": None,
        "description": "",
        "summary": "",
        "type": None,
        "hook": True,
        "bot_public": True,
        "bot_require_code_grant": False,
        "verify_key": hashlib.sha256(str(state.application_id).encode()).hexdigest(),
        "flags": 0,
        "owner": user(state.app_owner),
        "team": None,
        "bot": user(state.bot_user),
        "redirect_uris": [],
        "interactions_endpoint_url": None,
        "role_connections_verification_url": None,
        "tags": [],
        "approximate_guild_count": len(state.guilds),
        "integration_types_config": {"0": {}},
    }


def role(item: Role) -> dict[str, Any]:
    """A role object."""
    data: dict[str, Any] = {
        "id": str(item.id),
        "name": item.name,
        "color": item.color,
        "colors": {"primary_color": item.color, "secondary_color": None, "tertiary_color": None},
        "hoist": item.hoist,
        "icon": None,
        "unicode_emoji": None,
        "position": item.position,
        "permissions": str(item.permissions),
        "managed": item.managed,
        "mentionable": item.mentionable,
        "flags": 0,
    }
    if item.bot_id is not None:
        data["tags"] = {"bot_id": str(item.bot_id)}
    return data


def channel(item: Channel, *, permissions: int | None = None) -> dict[str, Any]:
    """A guild channel object (`permissions` is added the way interactions carry it)."""
    data: dict[str, Any] = {
        "id": str(item.id),
        "type": item.type,
        "guild_id": str(item.guild_id),
        "name": item.name,
        "position": item.position,
        "permission_overwrites": [
            {"id": str(o.id), "type": o.type, "allow": str(o.allow), "deny": str(o.deny)}
            for o in item.overwrites.values()
        ],
        "topic": item.topic,
        "nsfw": item.nsfw,
        "parent_id": None if item.parent_id is None else str(item.parent_id),
        "last_message_id": None if item.last_message_id is None else str(item.last_message_id),
        "rate_limit_per_user": 0,
        "flags": 0,
    }
    if permissions is not None:
        data["permissions"] = str(permissions)
    return data


def member(item: Member, *, permissions: int | None = None, with_user: bool = True) -> dict[str, Any]:
    """A guild member object (`permissions` as interactions carry it)."""
    data: dict[str, Any] = {
        "roles": [str(r) for r in item.roles],
        "nick": item.nick,
        "avatar": None,
        "banner": None,
        "premium_since": None,
        "joined_at": iso(item.joined_at),
        "deaf": False,
        "mute": False,
        "pending": False,
        "flags": 0,
        "communication_disabled_until": None,
        "unusual_dm_activity_until": None,
    }
    if with_user:
        data["user"] = user(item.user)
    if permissions is not None:
        data["permissions"] = str(permissions)
    return data


def guild(state: EmulatorState, item: Guild, *, gateway: bool) -> dict[str, Any]:
    """A guild object; the GUILD_CREATE form adds channels, members and the gateway-only fields."""
    data: dict[str, Any] = {
        "id": str(item.id),
        "name": item.name,
        "icon": None,
        "splash": None,
        "discovery_splash": None,
        "banner": None,
        "description": None,
        "owner_id": str(item.owner_id),
        "afk_channel_id": None,
        "afk_timeout": 300,
        "widget_enabled": False,
        "verification_level": 0,
        "default_message_notifications": 0,
        "explicit_content_filter": 0,
        "roles": [role(r) for r in item.roles.values()],
        "emojis": [],
        "stickers": [],
        "features": [],
        "mfa_level": 0,
        "application_id": None,
        "system_channel_id": None,
        "system_channel_flags": 0,
        "rules_channel_id": None,
        "public_updates_channel_id": None,
        "safety_alerts_channel_id": None,
        "vanity_url_code": None,
        "premium_tier": 0,
        "premium_subscription_count": 0,
        "preferred_locale": item.locale,
        "nsfw_level": 0,
        "premium_progress_bar_enabled": False,
        "max_members": 500000,
        "max_video_channel_users": 25,
        "max_stage_video_channel_users": 50,
        "incidents_data": None,
    }
    if gateway:
        data.update(
            {
                "unavailable": False,
                "large": False,
                "lazy": True,
                "joined_at": iso(item.members[state.bot_user.id].joined_at),
                "member_count": len(item.members),
                "members": [member(m) for m in item.members.values()],
                "channels": [channel(c) for c in item.channels.values()],
                "threads": [],
                "voice_states": [],
                "presences": [],
                "stage_instances": [],
                "guild_scheduled_events": [],
                "soundboard_sounds": [],
                "embedded_activities": [],
            }
        )
    return data


def attachment(item: RecordedAttachment) -> dict[str, Any]:
    """An attachment object."""
    data: dict[str, Any] = {
        "id": str(item.id),
        "filename": item.filename,
        "size": item.size,
        "url": item.url,
        "proxy_url": item.proxy_url,
        "content_type": item.content_type,
    }
    if item.description is not None:
        data["description"] = item.description
    if item.ephemeral:
        data["ephemeral"] = True
    return data


def _author(state: EmulatorState, message: RecordedMessage) -> dict[str, Any]:
    if message.via == "channel_webhook":
        webhook = state.webhooks.get(message.webhook_id or 0)
        name = message.username or (webhook.name if webhook else "Webhook")
        return {
            "id": str(message.webhook_id),
            "username": name,
            "discriminator": "0000",
            "global_name": None,
            "avatar": None,
            "bot": True,
            "public_flags": 0,
            "flags": 0,
        }
    author = state.users.get(message.author_id)
    return (
        user(author)
        if author
        else {"id": str(message.author_id), "username": "unknown", "discriminator": "0"}
    )


def message(state: EmulatorState, item: RecordedMessage) -> dict[str, Any]:
    """A message object as REST endpoints return it."""
    data: dict[str, Any] = {
        "id": str(item.id),
        "channel_id": str(item.channel_id),
        "type": item.type,
        "content": item.content,
        "author": _author(state, item),
        "attachments": [attachment(a) for a in item.attachments],
        "embeds": item.embeds,
        "mentions": [user(state.users[u]) for u in item.mentions if u in state.users],
        "mention_roles": [str(r) for r in item.mention_roles],
        "mention_everyone": item.mention_everyone,
        "pinned": False,
        "tts": item.tts,
        "timestamp": iso(item.timestamp),
        "edited_timestamp": iso(item.edited_timestamp),
        "flags": item.flags,
        "components": item.components,
    }
    if item.webhook_id is not None:
        data["webhook_id"] = str(item.webhook_id)
    if item.application_id is not None:
        data["application_id"] = str(item.application_id)
    if item.reference_id is not None:
        data["message_reference"] = {
            "type": 0,
            "message_id": str(item.reference_id),
            "channel_id": str(item.channel_id),
            "guild_id": None if item.guild_id is None else str(item.guild_id),
        }
    interaction = state.interactions.get(item.interaction_id or 0)
    if interaction is not None:
        invoker = user(state.users[interaction.user_id])
        name = " ".join(p for p in (interaction.command_name, interaction.subcommand) if p)
        data["interaction_metadata"] = {
            "id": str(interaction.id),
            "type": 2,
            "user": invoker,
            "authorizing_integration_owners": {"0": str(interaction.guild_id)},
            "name": name,
            "command_type": 1,
        }
        if item.reference_id is not None:
            data["interaction_metadata"]["original_response_message_id"] = str(item.reference_id)
        data["interaction"] = {"id": str(interaction.id), "type": 2, "name": name, "user": invoker}
    return data


def webhook(state: EmulatorState, item: Webhook, *, with_user: bool = True) -> dict[str, Any]:
    """A channel webhook object (with its token, as Discord shows it to the bot that manages it)."""
    data: dict[str, Any] = {
        "id": str(item.id),
        "type": 1,
        "guild_id": str(item.guild_id),
        "channel_id": str(item.channel_id),
        "name": item.name,
        "avatar": item.avatar,
        "token": item.token,
        "application_id": None if item.application_id is None else str(item.application_id),
    }
    if with_user and item.creator_id in state.users:
        data["user"] = user(state.users[item.creator_id])
    return data


def interaction_create(
    state: EmulatorState, interaction: EmulatedInteraction, data: dict[str, Any]
) -> dict[str, Any]:
    """The INTERACTION_CREATE payload of an application command used in a guild channel."""
    item = state.guilds[interaction.guild_id]
    where = item.channels[interaction.channel_id]
    invoker = item.members[interaction.user_id]
    member_perms = state.channel_permissions(where.id, invoker.user.id)
    return {
        "id": str(interaction.id),
        "application_id": str(interaction.application_id),
        "type": 2,
        "token": interaction.token,
        "version": 1,
        "guild_id": str(item.id),
        "channel_id": str(where.id),
        "channel": channel(where, permissions=member_perms),
        "guild": {"id": str(item.id), "locale": item.locale, "features": []},
        "member": member(invoker, permissions=member_perms),
        "app_permissions": str(state.bot_permissions(where.id)),
        "locale": interaction.locale,
        "guild_locale": item.locale,
        "entitlements": [],
        "entitlement_sku_ids": [],
        "authorizing_integration_owners": {"0": str(item.id)},
        "context": 0,
        "attachment_size_limit": interaction.attachment_size_limit,
        "data": data,
    }
