"""Creating, editing and deleting messages with Discord's validation, attachment and mention rules."""

from __future__ import annotations

import mimetypes
import re
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal
from urllib.parse import quote

from . import payloads
from .constants import (
    EDITABLE_FLAGS,
    EMPTY_MESSAGE,
    FLAG_LOADING,
    INTENT_GUILD_MESSAGES,
    MAX_FILES,
    REQUEST_TOO_LARGE,
)
from .errors import DiscordError, FormErrors
from .models import MessageEdit, MessageVia, RecordedAttachment, RecordedMessage
from .state import EmulatorState
from .validation import MENTION_KINDS, validate_body

EVERYONE_RE = re.compile(r"@(?:everyone|here)\b")
USER_MENTION_RE = re.compile(r"<@!?(\d{15,21})>")
ROLE_MENTION_RE = re.compile(r"<@&(\d{15,21})>")


@dataclass
class UploadedFile:
    """One `files[n]` part of a multipart request."""

    index: int
    filename: str
    content_type: str | None
    data: bytes


def check_file_sizes(files: list[UploadedFile], limit: int) -> None:
    """413 40005 when any file is larger than the upload limit."""
    if any(len(f.data) > limit for f in files):
        raise DiscordError(413, REQUEST_TOO_LARGE)


def compute_mentions(
    state: EmulatorState,
    guild_id: int | None,
    content: str,
    allowed: dict[str, Any] | None,
    can_everyone: bool,
) -> tuple[bool, list[int], list[int]]:
    """Who a message pings: everyone, users and roles the content names, filtered by allowed_mentions."""
    if allowed is None:
        parse, users_ok, roles_ok = set(MENTION_KINDS), set(), set()
    else:
        parse = set(allowed.get("parse") or [])
        users_ok = {int(u) for u in allowed.get("users") or []}
        roles_ok = {int(r) for r in allowed.get("roles") or []}
    everyone = bool(can_everyone and "everyone" in parse and EVERYONE_RE.search(content))
    guild = state.guilds.get(guild_id or 0)
    users: list[int] = []
    roles: list[int] = []
    if guild is not None:
        for match in USER_MENTION_RE.finditer(content):
            uid = int(match.group(1))
            if ("users" in parse or uid in users_ok) and uid in guild.members and uid not in users:
                users.append(uid)
        for match in ROLE_MENTION_RE.finditer(content):
            rid = int(match.group(1))
            role = guild.roles.get(rid)
            if role is None or rid == guild.id or rid in roles:
                continue
            if ("roles" in parse or rid in roles_ok) and (role.mentionable or can_everyone):
                roles.append(rid)
    return everyone, users, roles


def build_attachments(
    state: EmulatorState,
    payload: dict[str, Any],
    files: list[UploadedFile],
    *,
    channel_id: int,
    existing: list[RecordedAttachment],
    ephemeral: bool,
    errors: FormErrors,
) -> list[RecordedAttachment]:
    """The attachments after this request: kept ones named in `attachments`, then the uploaded files."""
    by_index = {f.index: f for f in files}
    used: set[int] = set()
    spec = payload.get("attachments")
    result: list[RecordedAttachment] = []
    if spec is None:
        result.extend(existing)
    elif not isinstance(spec, list):
        errors.add(["attachments"], "LIST_TYPE_CONVERT", "Only iterables may be used in a ListType")
    else:
        kept = {a.id: a for a in existing}
        for i, entry in enumerate(spec):
            try:
                ref = int(entry.get("id"))
            except (TypeError, ValueError, AttributeError):
                errors.add(["attachments", i, "id"], "NUMBER_TYPE_COERCE", "Value is not snowflake.")
                continue
            if ref in by_index and ref not in used:
                used.add(ref)
                upload = by_index[ref]
                name = entry.get("filename") or upload.filename
                result.append(
                    _new_attachment(state, upload, name, entry.get("description"), channel_id, ephemeral)
                )
            elif ref in kept:
                result.append(kept[ref])
            else:
                errors.add(["attachments", i, "id"], "ATTACHMENT_NOT_FOUND", "Unknown attachment.")
    for upload in files:
        if upload.index not in used:
            result.append(_new_attachment(state, upload, upload.filename, None, channel_id, ephemeral))
    if len(files) > MAX_FILES or len(result) > MAX_FILES:
        errors.max_length(["attachments"], MAX_FILES)
    return result


def _new_attachment(
    state: EmulatorState,
    upload: UploadedFile,
    filename: str,
    description: str | None,
    channel_id: int,
    ephemeral: bool,
) -> RecordedAttachment:
    content_type = upload.content_type
    if not content_type or content_type == "application/octet-stream":
        content_type = mimetypes.guess_type(filename)[0] or content_type
    attachment_id = state.ids.next()
    url = state.attachment_url(channel_id, attachment_id, quote(filename), ephemeral=ephemeral)
    return RecordedAttachment(
        id=attachment_id,
        filename=filename,
        size=len(upload.data),
        data=upload.data,
        content_type=content_type,
        url=url,
        proxy_url=url.replace(state.base_url, state.base_url + "/media", 1),
        description=description,
        ephemeral=ephemeral,
    )


def _is_empty(content: str, embeds: list[Any], attachments: list[Any], payload: dict[str, Any]) -> bool:
    return not (content or embeds or attachments or payload.get("components") or payload.get("sticker_ids"))


def build_message(
    state: EmulatorState,
    *,
    channel_id: int,
    author_id: int,
    via: MessageVia,
    payload: dict[str, Any],
    files: list[UploadedFile],
    file_limit: int,
    allowed_flags: int,
    extra_flags: int = 0,
    can_mention_everyone: bool = True,
    **fields: Any,
) -> RecordedMessage:
    """Validate a create request like Discord (413, 50035, 50006) and build the message without storing it."""
    check_file_sizes(files, file_limit)
    errors = FormErrors()
    validate_body(payload, errors)
    errors.raise_if_any()
    flags = ((payload.get("flags") or 0) & allowed_flags) | extra_flags
    channel = state.channel(channel_id)
    attachments = build_attachments(
        state, payload, files, channel_id=channel_id, existing=[], ephemeral=bool(flags & 64), errors=errors
    )
    errors.raise_if_any()
    content = payload.get("content") or ""
    embeds = payload.get("embeds") or []
    if _is_empty(content, embeds, attachments, payload) and not flags & FLAG_LOADING:
        raise DiscordError(400, EMPTY_MESSAGE)
    allowed = payload.get("allowed_mentions")
    everyone, mentions, roles = compute_mentions(
        state, channel.guild_id, content, allowed, can_mention_everyone
    )
    return RecordedMessage(
        id=state.ids.next(),
        channel_id=channel_id,
        guild_id=channel.guild_id,
        author_id=author_id,
        via=via,
        content=content,
        embeds=embeds,
        attachments=attachments,
        flags=flags,
        components=payload.get("components") or [],
        tts=bool(payload.get("tts")),
        allowed_mentions=allowed,
        mention_everyone=everyone,
        mentions=mentions,
        mention_roles=roles,
        username=payload.get("username"),
        avatar_url=payload.get("avatar_url"),
        **fields,
    )


def _gateway_payload(state: EmulatorState, message: RecordedMessage) -> tuple[dict[str, Any], bool]:
    data = payloads.message(state, message)
    data["guild_id"] = None if message.guild_id is None else str(message.guild_id)
    own = message.author_id == state.bot_user.id
    return data, not own and state.bot_user.id not in message.mentions


def commit_message(state: EmulatorState, message: RecordedMessage) -> RecordedMessage:
    """Store a built message, serve its files, and send MESSAGE_CREATE (never for ephemeral messages)."""
    for item in message.attachments:
        state.files[item.id] = item
    message.timestamp = datetime.now(UTC)
    message.created_at = time.monotonic()
    state.store_message(message)
    if not message.ephemeral:
        data, redact = _gateway_payload(state, message)
        state.emit("MESSAGE_CREATE", data, INTENT_GUILD_MESSAGES, redact)
    return message


def edit_message(
    state: EmulatorState,
    message: RecordedMessage,
    payload: dict[str, Any],
    files: list[UploadedFile],
    *,
    file_limit: int,
    can_mention_everyone: bool = True,
    kind: Literal["edit", "deferred_followup"] = "edit",
) -> RecordedMessage:
    """Apply a PATCH (or the first followup after a defer) with Discord's validation; keep the old version."""
    check_file_sizes(files, file_limit)
    errors = FormErrors()
    validate_body(payload, errors)
    errors.raise_if_any()
    attachments = build_attachments(
        state,
        payload,
        files,
        channel_id=message.channel_id,
        existing=message.attachments,
        ephemeral=message.ephemeral,
        errors=errors,
    )
    errors.raise_if_any()
    content = (payload.get("content") or "") if "content" in payload else message.content
    embeds = (payload.get("embeds") or []) if "embeds" in payload else message.embeds
    components = (payload.get("components") or []) if "components" in payload else message.components
    if _is_empty(content, embeds, attachments, {"components": components}):
        raise DiscordError(400, EMPTY_MESSAGE)
    was_loading = message.loading
    previous = message.version()
    flags = message.flags & ~FLAG_LOADING
    if payload.get("flags") is not None:
        flags = (flags & ~EDITABLE_FLAGS) | (payload["flags"] & EDITABLE_FLAGS)
    if "content" in payload or "allowed_mentions" in payload:
        allowed = payload.get("allowed_mentions")
        everyone, users, roles = compute_mentions(
            state, message.guild_id, content, allowed, can_mention_everyone
        )
        message.allowed_mentions = allowed
        message.mention_everyone, message.mentions, message.mention_roles = everyone, users, roles
    message.content, message.embeds, message.components = content, embeds, components
    message.attachments, message.flags = attachments, flags
    if not was_loading:
        message.edited_timestamp = datetime.now(UTC)
    message.edits.append(
        MessageEdit(at=time.monotonic(), previous=previous, payload=dict(payload), kind=kind)
    )
    for item in attachments:
        state.files[item.id] = item
    state.notify()
    if not message.ephemeral:
        data, redact = _gateway_payload(state, message)
        state.emit("MESSAGE_UPDATE", data, INTENT_GUILD_MESSAGES, redact)
    return message


def delete_message(state: EmulatorState, message: RecordedMessage) -> None:
    """Mark a message deleted and send MESSAGE_DELETE (never for ephemeral messages)."""
    message.deleted = True
    message.deleted_at = time.monotonic()
    state.notify()
    if not message.ephemeral:
        data = {
            "id": str(message.id),
            "channel_id": str(message.channel_id),
            "guild_id": str(message.guild_id),
        }
        state.emit("MESSAGE_DELETE", data, INTENT_GUILD_MESSAGES)
