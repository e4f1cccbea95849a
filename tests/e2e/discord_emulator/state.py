"""The emulator's world: ids, guilds, channels, webhooks, messages, interactions, permissions and waiters."""

from __future__ import annotations

import asyncio
import base64
import re
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from .constants import (
    ADMINISTRATOR,
    ALL_PERMISSIONS,
    ATTACH_FILES,
    EMBED_LINKS,
    MENTION_EVERYONE,
    SEND_MESSAGES,
    SEND_TTS_MESSAGES,
    UNKNOWN_CHANNEL,
    UNKNOWN_GUILD,
    UNKNOWN_MESSAGE,
    UNKNOWN_WEBHOOK,
    VIEW_CHANNEL,
)
from .errors import DiscordError, invalid_form
from .models import (
    Channel,
    EmulatedInteraction,
    Guild,
    Member,
    RecordedAttachment,
    RecordedMessage,
    RecordedRequest,
    User,
    Webhook,
)

DISCORD_EPOCH_MS = 1420070400000
T = TypeVar("T")
POLL_INTERVAL = 0.05
EventSink = Callable[[str, dict[str, Any], int, bool], list["asyncio.Future[None]"]]


class SnowflakeGenerator:
    """Discord-style ids: milliseconds since the Discord epoch in the high bits, strictly increasing."""

    def __init__(self) -> None:
        self._last = 0

    def next(self) -> int:
        """A new id, larger than every id handed out before."""
        value = ((int(time.time() * 1000) - DISCORD_EPOCH_MS) << 22) | (1 << 17)
        if value <= self._last:
            value = self._last + 1
        self._last = value
        return value


@dataclass
class InjectedFault:
    """A scripted error answered instead of the real handler for matching requests."""

    method: str | None
    pattern: re.Pattern[str]
    status: int
    code: int | None
    message: str
    remaining: int
    retry_after: float | None
    is_global: bool = False
    skip: int = 0  # matching requests let through before the fault starts answering

    def matches(self, method: str, path: str) -> bool:
        """Whether this fault applies to a request (and has uses left); a skipped request counts."""
        if self.remaining <= 0 or (self.method is not None and self.method != method):
            return False
        if self.pattern.search(path) is None:
            return False
        if self.skip > 0:
            self.skip -= 1
            return False
        return True


def parse_snowflake(value: str, field: str) -> int:
    """A path or body id as an int; a non-numeric id is a 400 50035 like Discord answers."""
    if value.isdigit() and len(value) < 21:
        return int(value)
    raise invalid_form([field], "NUMBER_TYPE_COERCE", f'Value "{value}" is not snowflake.')


def effective_flags(perms: int) -> int:
    """Discord's implicit denials: no VIEW_CHANNEL means nothing; no SEND_MESSAGES drops what needs it."""
    if not perms & VIEW_CHANNEL:
        return 0
    if not perms & SEND_MESSAGES:
        perms &= ~(SEND_TTS_MESSAGES | MENTION_EVERYONE | EMBED_LINKS | ATTACH_FILES)
    return perms


class EmulatorState:
    """Everything the REST handlers, the gateway and the test-facing API share."""

    def __init__(
        self, *, ack_deadline: float, token_ttl: float, attachment_size_limit: int, bot_name: str
    ) -> None:
        self.ids = SnowflakeGenerator()
        self.ack_deadline = ack_deadline
        self.token_ttl = token_ttl
        self.attachment_size_limit = attachment_size_limit
        self.bot_user = User(id=self.ids.next(), username=bot_name, bot=True)
        self.application_id = self.ids.next()
        self.app_owner = User(id=self.ids.next(), username="app-owner")
        encoded_id = base64.urlsafe_b64encode(str(self.bot_user.id).encode()).decode().rstrip("=")
        self.bot_token = f"{encoded_id}.{secrets.token_urlsafe(4)}.{secrets.token_urlsafe(27)}"
        self.users: dict[int, User] = {u.id: u for u in (self.bot_user, self.app_owner)}
        self.guilds: dict[int, Guild] = {}
        self.channels: dict[int, Channel] = {}
        self.webhooks: dict[int, Webhook] = {}
        self.messages: list[RecordedMessage] = []
        self.messages_by_id: dict[int, RecordedMessage] = {}
        self.interactions: dict[int, EmulatedInteraction] = {}
        self.interactions_by_token: dict[str, EmulatedInteraction] = {}
        self.files: dict[int, RecordedAttachment] = {}
        self.global_commands: list[dict[str, Any]] = []
        self.guild_commands: dict[int, list[dict[str, Any]]] = {}
        self.requests: list[RecordedRequest] = []
        self.faults: list[InjectedFault] = []
        self.internal_errors: list[BaseException] = []
        self.base_url = ""
        self.event_sink: EventSink = lambda _event, _data, _intent, _redact: []
        self._waiters: list[asyncio.Future[None]] = []

    # -- change notification -------------------------------------------------------------------

    def notify(self) -> None:
        """Wake every `wait_for` so it re-evaluates its predicate."""
        waiters, self._waiters = self._waiters, []
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)

    async def wait_for(self, predicate: Callable[[], T | None], timeout: float) -> T:  # noqa: ASYNC109
        """Return the first truthy value of `predicate()`, re-evaluated after every change (and every 50 ms,
        so predicates on the client's own state work too)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            result = predicate()
            if result:
                return result
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise TimeoutError(f"condition not met within {timeout}s")
            waiter: asyncio.Future[None] = loop.create_future()
            self._waiters.append(waiter)
            await asyncio.wait({waiter}, timeout=min(remaining, POLL_INTERVAL))
            if not waiter.done():
                waiter.cancel()

    def emit(self, event: str, data: dict[str, Any], intent: int = 0, redact: bool = False) -> None:
        """Send a gateway event to every live session (fire and forget)."""
        self.event_sink(event, data, intent, redact)

    # -- lookups that answer like Discord ---------------------------------------------------------

    def guild(self, guild_id: int) -> Guild:
        """The guild, or 404 10004 Unknown Guild."""
        try:
            return self.guilds[guild_id]
        except KeyError:
            raise DiscordError(404, UNKNOWN_GUILD) from None

    def channel(self, channel_id: int) -> Channel:
        """The channel, or 404 10003 Unknown Channel."""
        try:
            return self.channels[channel_id]
        except KeyError:
            raise DiscordError(404, UNKNOWN_CHANNEL) from None

    def message(
        self, channel_id: int, message_id: int, *, include_ephemeral: bool = False
    ) -> RecordedMessage:
        """A live message of that channel, or 404 10008 Unknown Message."""
        message = self.messages_by_id.get(message_id)
        if (
            message is None
            or message.deleted
            or message.channel_id != channel_id
            or (message.ephemeral and not include_ephemeral)
        ):
            raise DiscordError(404, UNKNOWN_MESSAGE)
        return message

    def webhook(self, webhook_id: int) -> Webhook:
        """A live channel webhook, or 404 10015 Unknown Webhook."""
        webhook = self.webhooks.get(webhook_id)
        if webhook is None or webhook.deleted:
            raise DiscordError(404, UNKNOWN_WEBHOOK)
        return webhook

    def channel_webhooks(self, channel_id: int) -> list[Webhook]:
        """The live webhooks of a channel, oldest first."""
        return [w for w in self.webhooks.values() if w.channel_id == channel_id and not w.deleted]

    def commands_for(self, guild_id: int | None) -> list[dict[str, Any]]:
        """The synced commands: global ones, or those of one guild."""
        if guild_id is None:
            return self.global_commands
        return self.guild_commands.get(guild_id, [])

    # -- permissions --------------------------------------------------------------------------

    def base_permissions(self, guild: Guild, user_id: int) -> int:
        """Guild-level permissions: owner and ADMINISTRATOR get everything, else @everyone | roles."""
        if user_id == guild.owner_id:
            return ALL_PERMISSIONS
        member = guild.members.get(user_id)
        if member is None:
            return 0
        perms = guild.roles[guild.id].permissions
        for role_id in member.roles:
            role = guild.roles.get(role_id)
            if role is not None:
                perms |= role.permissions
        return ALL_PERMISSIONS if perms & ADMINISTRATOR else perms

    def overwritten(self, channel: Channel, member: Member, perms: int, *, with_member: bool = True) -> int:
        """Apply the channel's @everyone, role and (optionally) member overwrites, in Discord's order."""
        everyone = channel.overwrites.get(channel.guild_id)
        if everyone is not None:
            perms = (perms & ~everyone.deny) | everyone.allow
        allow = deny = 0
        for role_id in member.roles:
            overwrite = channel.overwrites.get(role_id)
            if overwrite is not None and overwrite.type == 0:
                allow |= overwrite.allow
                deny |= overwrite.deny
        perms = (perms & ~deny) | allow
        own = channel.overwrites.get(member.user.id)
        if with_member and own is not None and own.type == 1:
            perms = (perms & ~own.deny) | own.allow
        return perms

    def channel_permissions(self, channel_id: int, user_id: int, *, use_override: bool = True) -> int:
        """A member's permissions in a channel (the explicit per-member override wins when set)."""
        channel = self.channel(channel_id)
        guild = self.guilds[channel.guild_id]
        member = guild.members.get(user_id)
        if member is None:
            return 0
        if use_override and member.permissions_override is not None:
            return member.permissions_override
        base = self.base_permissions(guild, user_id)
        if base & ADMINISTRATOR:
            return ALL_PERMISSIONS
        return effective_flags(self.overwritten(channel, member, base))

    def bot_permissions(self, channel_id: int) -> int:
        """The bot's permissions in a channel."""
        return self.channel_permissions(channel_id, self.bot_user.id)

    # -- storage ------------------------------------------------------------------------------

    def store_message(self, message: RecordedMessage) -> None:
        """Keep a new message and wake the waiters."""
        self.messages.append(message)
        self.messages_by_id[message.id] = message
        channel = self.channels.get(message.channel_id)
        if channel is not None and not message.ephemeral:
            channel.last_message_id = message.id
        self.notify()

    def attachment_url(self, channel_id: int, attachment_id: int, filename: str, *, ephemeral: bool) -> str:
        """Where the emulator's CDN serves a file."""
        kind = "ephemeral-attachments" if ephemeral else "attachments"
        return f"{self.base_url}/{kind}/{channel_id}/{attachment_id}/{filename}"
