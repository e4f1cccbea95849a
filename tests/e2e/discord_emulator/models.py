"""The emulator's records: guilds and their channels, roles and members, webhooks, messages, interactions."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal, NamedTuple

from .constants import DEFAULT_FILE_LIMIT, FLAG_EPHEMERAL, FLAG_LOADING

MessageVia = Literal["interaction_response", "followup", "channel_webhook", "channel", "user"]


@dataclass
class User:
    """A Discord user (the bot, a guild member, a guild owner)."""

    id: int
    username: str
    bot: bool = False
    global_name: str | None = None


@dataclass
class Role:
    """A guild role; the @everyone role has the guild's id."""

    id: int
    guild_id: int
    name: str
    permissions: int
    position: int = 0
    color: int = 0
    hoist: bool = False
    managed: bool = False
    mentionable: bool = False
    bot_id: int | None = None


@dataclass
class Overwrite:
    """A channel permission overwrite for a role (type 0) or a member (type 1)."""

    id: int
    type: int
    allow: int = 0
    deny: int = 0


@dataclass
class Channel:
    """A guild channel (text channels, type 0, unless told otherwise)."""

    id: int
    guild_id: int
    name: str
    position: int
    type: int = 0
    topic: str | None = None
    nsfw: bool = False
    parent_id: int | None = None
    overwrites: dict[int, Overwrite] = field(default_factory=dict)
    last_message_id: int | None = None


@dataclass
class Member:
    """A guild member; `permissions_override`, when set, is the permission int interactions carry."""

    user: User
    guild_id: int
    roles: list[int]
    joined_at: datetime
    permissions_override: int | None = None
    nick: str | None = None


@dataclass
class Guild:
    """A guild with its channels, roles and members (insertion ordered)."""

    id: int
    name: str
    owner_id: int
    bot_role_id: int
    locale: str = "en-US"
    channels: dict[int, Channel] = field(default_factory=dict)
    roles: dict[int, Role] = field(default_factory=dict)
    members: dict[int, Member] = field(default_factory=dict)


@dataclass
class Webhook:
    """A channel webhook (type 1, incoming)."""

    id: int
    guild_id: int
    channel_id: int
    name: str
    token: str
    application_id: int | None
    creator_id: int
    avatar: str | None = None
    created_at: float = field(default_factory=time.monotonic)
    deleted: bool = False


@dataclass
class RecordedAttachment:
    """A file: an uploaded message attachment or a test attachment given to a command option."""

    id: int
    filename: str
    size: int
    data: bytes
    content_type: str | None
    url: str
    proxy_url: str
    description: str | None = None
    ephemeral: bool = False


@dataclass
class MessageVersion:
    """A message's contents at one point in time (kept in `RecordedMessage.edits`)."""

    content: str
    embeds: list[dict[str, Any]]
    attachments: list[RecordedAttachment]
    flags: int
    components: list[dict[str, Any]]
    allowed_mentions: dict[str, Any] | None
    mention_everyone: bool
    mentions: list[int]
    mention_roles: list[int]


@dataclass
class MessageEdit:
    """One change to a message: when (monotonic), what it looked like before, and the fields sent."""

    at: float
    previous: MessageVersion
    payload: dict[str, Any]
    kind: Literal["edit", "deferred_followup"] = "edit"


@dataclass(eq=False)
class RecordedMessage:
    """A message created through any endpoint, with every later edit and its deletion."""

    id: int
    channel_id: int
    guild_id: int | None
    author_id: int
    via: MessageVia
    content: str = ""
    embeds: list[dict[str, Any]] = field(default_factory=list)
    attachments: list[RecordedAttachment] = field(default_factory=list)
    flags: int = 0
    components: list[dict[str, Any]] = field(default_factory=list)
    tts: bool = False
    type: int = 0
    webhook_id: int | None = None
    application_id: int | None = None
    interaction_id: int | None = None
    reference_id: int | None = None
    username: str | None = None
    avatar_url: str | None = None
    allowed_mentions: dict[str, Any] | None = None
    mention_everyone: bool = False
    mentions: list[int] = field(default_factory=list)
    mention_roles: list[int] = field(default_factory=list)
    timestamp: datetime = field(default_factory=lambda: datetime.now(UTC))
    edited_timestamp: datetime | None = None
    created_at: float = field(default_factory=time.monotonic)
    edits: list[MessageEdit] = field(default_factory=list)
    deleted: bool = False
    deleted_at: float | None = None

    @property
    def ephemeral(self) -> bool:
        """Whether the message carries the EPHEMERAL flag (64)."""
        return bool(self.flags & FLAG_EPHEMERAL)

    @property
    def loading(self) -> bool:
        """Whether this is a deferred response still showing "is thinking..." (flag 128)."""
        return bool(self.flags & FLAG_LOADING)

    def version(self) -> MessageVersion:
        """A snapshot of the current contents."""
        return MessageVersion(
            content=self.content,
            embeds=list(self.embeds),
            attachments=list(self.attachments),
            flags=self.flags,
            components=list(self.components),
            allowed_mentions=self.allowed_mentions,
            mention_everyone=self.mention_everyone,
            mentions=list(self.mentions),
            mention_roles=list(self.mention_roles),
        )


@dataclass(eq=False)
class EmulatedInteraction:
    """An application-command interaction sent to the bot, and how the bot answered it."""

    id: int
    token: str
    application_id: int
    guild_id: int
    channel_id: int
    user_id: int
    command_id: int
    command_name: str
    subcommand: str | None
    options: dict[str, Any]
    payload: dict[str, Any]
    created_at: float
    token_ttl: float
    attachment_size_limit: int = DEFAULT_FILE_LIMIT
    locale: str = "en-US"
    acknowledged: asyncio.Event = field(default_factory=asyncio.Event)
    ack_latency: float | None = None
    response_type: int | None = None
    ephemeral: bool = False
    original_message: RecordedMessage | None = None
    followups: list[RecordedMessage] = field(default_factory=list)
    modal: dict[str, Any] | None = None
    deadline_missed: bool = False
    callback_attempts: list[tuple[float, int, int | None]] = field(default_factory=list)
    token_revoked: bool = False

    @property
    def expired(self) -> bool:
        """Whether the token no longer works (older than `token_ttl`, or expired by the test)."""
        return self.token_revoked or time.monotonic() - self.created_at > self.token_ttl

    async def wait_ack(self, timeout: float = 5.0) -> EmulatedInteraction:  # noqa: ASYNC109
        """Wait until the bot acknowledged the interaction; raise TimeoutError otherwise."""
        await asyncio.wait_for(self.acknowledged.wait(), timeout)
        return self


class RecordedRequest(NamedTuple):
    """One REST call: method, path below the API base, HTTP status, JSON error code, monotonic time."""

    method: str
    path: str
    status: int
    code: int | None
    at: float
