"""Building the emulated world: guilds, channels, roles, members, bot permissions, files, user messages.

Every change a connected client would hear about is announced on the gateway (GUILD_CREATE,
CHANNEL_CREATE/UPDATE, GUILD_ROLE_CREATE, GUILD_MEMBER_ADD, MESSAGE_CREATE).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from . import payloads
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
from .messages import build_message, commit_message
from .models import Channel, Guild, Member, Overwrite, RecordedAttachment, RecordedMessage, Role, User
from .state import EmulatorState


class WorldBuilder:
    """The world-building half of DiscordEmulator's API."""

    state: EmulatorState
    base_url: str
    _default_channels: dict[int, int]

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
        self.state.emit(
            "GUILD_ROLE_CREATE", {"guild_id": str(guild_id), "role": payloads.role(role)}, INTENT_GUILDS
        )
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
            role_ids.append(
                admin_role or self.add_role(guild_id, "Administrators", permissions=ADMINISTRATOR)
            )
        user = User(id=self.state.ids.next(), username=username, global_name=global_name)
        self.state.users[user.id] = user
        member = Member(
            user, guild_id, role_ids, datetime.now(UTC), permissions_override=permissions, nick=nick
        )
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

    def add_attachment(
        self, filename: str, data: bytes, *, content_type: str | None = None
    ) -> dict[str, Any]:
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
