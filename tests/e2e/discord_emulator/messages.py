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
    MAX_AUTHOR_NAME,
    MAX_CONTENT,
    MAX_EMBED_DESCRIPTION,
    MAX_EMBED_FIELDS,
    MAX_EMBED_TITLE,
    MAX_EMBED_TOTAL,
    MAX_EMBEDS,
    MAX_FIELD_NAME,
    MAX_FIELD_VALUE,
    MAX_FILES,
    MAX_FOOTER_TEXT,
    REQUEST_TOO_LARGE,
)
from .errors import DiscordError, FormErrors
from .models import MessageEdit, MessageVia, RecordedAttachment, RecordedMessage
from .state import EmulatorState

EVERYONE_RE = re.compile(r"@(?:everyone|here)\b")
USER_MENTION_RE = re.compile(r"<@!?(\d{15,21})>")
ROLE_MENTION_RE = re.compile(r"<@&(\d{15,21})>")
URL_RE = re.compile(r"^(?:https?|attachment)://\S+$")
MENTION_KINDS = ("everyone", "users", "roles")


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


def _text(value: Any, path: list[str | int], limit: int, errors: FormErrors, *, required: bool = False) -> int:
    if value is None or value == "":
        if required:
            errors.required(path)
        return 0
    if not isinstance(value, str):
        errors.add(path, "BASE_TYPE_STRING", "Must be a string.")
        return 0
    if len(value) > limit:
        errors.max_length(path, limit)
    return len(value)


def _url(value: Any, path: list[str | int], errors: FormErrors) -> None:
    if value is not None and not (isinstance(value, str) and URL_RE.match(value)):
        errors.add(path, "URL_TYPE_INVALID_URL", "Not a well formed URL.")


def validate_embeds(embeds: Any, errors: FormErrors) -> None:
    """Discord's embed limits: count, per-field lengths, 25 fields, 6000 characters in all, URLs, color."""
    if not isinstance(embeds, list):
        errors.add(["embeds"], "LIST_TYPE_CONVERT", "Only iterables may be used in a ListType")
        return
    if len(embeds) > MAX_EMBEDS:
        errors.max_length(["embeds"], MAX_EMBEDS)
    total = 0
    for i, embed in enumerate(embeds):
        at: list[str | int] = ["embeds", i]
        if not isinstance(embed, dict):
            errors.add(at, "DICT_TYPE_CONVERT", "Only dictionaries may be used in a DictType")
            continue
        total += _text(embed.get("title"), [*at, "title"], MAX_EMBED_TITLE, errors)
        total += _text(embed.get("description"), [*at, "description"], MAX_EMBED_DESCRIPTION, errors)
        _url(embed.get("url"), [*at, "url"], errors)
        color = embed.get("color")
        if color is not None and (not isinstance(color, int) or not 0 <= color <= 0xFFFFFF):
            errors.add([*at, "color"], "NUMBER_TYPE_MAX", "int value should be less than or equal to 16777215.")
        for key in ("image", "thumbnail"):
            if isinstance(embed.get(key), dict):
                _url(embed[key].get("url"), [*at, key, "url"], errors)
        footer = embed.get("footer")
        if isinstance(footer, dict):
            total += _text(footer.get("text"), [*at, "footer", "text"], MAX_FOOTER_TEXT, errors, required=True)
            _url(footer.get("icon_url"), [*at, "footer", "icon_url"], errors)
        author = embed.get("author")
        if isinstance(author, dict):
            total += _text(author.get("name"), [*at, "author", "name"], MAX_AUTHOR_NAME, errors, required=True)
            _url(author.get("url"), [*at, "author", "url"], errors)
            _url(author.get("icon_url"), [*at, "author", "icon_url"], errors)
        fields = embed.get("fields") or []
        if len(fields) > MAX_EMBED_FIELDS:
            errors.max_length([*at, "fields"], MAX_EMBED_FIELDS)
        for j, item in enumerate(fields):
            where: list[str | int] = [*at, "fields", j]
            total += _text(item.get("name"), [*where, "name"], MAX_FIELD_NAME, errors, required=True)
            total += _text(item.get("value"), [*where, "value"], MAX_FIELD_VALUE, errors, required=True)
    if total > MAX_EMBED_TOTAL:
        errors.add(["embeds"], "MAX_EMBED_SIZE_EXCEEDED", f"Embed size exceeds maximum size of {MAX_EMBED_TOTAL}")


def validate_allowed_mentions(value: Any, errors: FormErrors) -> None:
    """The allowed_mentions object: known parse kinds, no parse+list overlap, at most 100 ids each."""
    if value is None:
        return
    if not isinstance(value, dict):
        errors.add(["allowed_mentions"], "DICT_TYPE_CONVERT", "Only dictionaries may be used in a DictType")
        return
    parse = value.get("parse") or []
    for i, kind in enumerate(parse):
        if kind not in MENTION_KINDS:
            errors.add(["allowed_mentions", "parse", i], "BASE_TYPE_CHOICES", "Value must be one of {'everyone', 'users', 'roles'}.")
    for kind in ("users", "roles"):
        ids = value.get(kind) or []
        if kind in parse and ids:
            errors.add(
                ["allowed_mentions"],
                "MESSAGE_ALLOWED_MENTIONS_PARSE_EXCLUSIVE",
                f'parse:["{kind}"] and {kind}: [ids...] are mutually exclusive.',
            )
        if len(ids) > 100:
            errors.max_length(["allowed_mentions", kind], 100)


def validate_body(payload: dict[str, Any], errors: FormErrors) -> None:
    """Content, embeds and allowed_mentions of a message create or edit."""
    _text(payload.get("content"), ["content"], MAX_CONTENT, errors)
    if payload.get("embeds") is not None:
        validate_embeds(payload["embeds"], errors)
    validate_allowed_mentions(payload.get("allowed_mentions"), errors)
    flags = payload.get("flags")
    if flags is not None and (not isinstance(flags, int) or isinstance(flags, bool)):
        errors.add(["flags"], "NUMBER_TYPE_COERCE", f'Value "{flags}" is not int.')


def compute_mentions(
    state: EmulatorState, guild_id: int | None, content: str, allowed: dict[str, Any] | None, can_everyone: bool
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
                result.append(_new_attachment(state, upload, name, entry.get("description"), channel_id, ephemeral))
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
    state: EmulatorState, upload: UploadedFile, filename: str, description: str | None, channel_id: int, ephemeral: bool
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
    everyone, mentions, roles = compute_mentions(state, channel.guild_id, content, allowed, can_mention_everyone)
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
        everyone, users, roles = compute_mentions(state, message.guild_id, content, allowed, can_mention_everyone)
        message.allowed_mentions = allowed
        message.mention_everyone, message.mentions, message.mention_roles = everyone, users, roles
    message.content, message.embeds, message.components = content, embeds, components
    message.attachments, message.flags = attachments, flags
    if not was_loading:
        message.edited_timestamp = datetime.now(UTC)
    message.edits.append(MessageEdit(at=time.monotonic(), previous=previous, payload=dict(payload), kind=kind))
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
        data = {"id": str(message.id), "channel_id": str(message.channel_id), "guild_id": str(message.guild_id)}
        state.emit("MESSAGE_DELETE", data, INTENT_GUILD_MESSAGES)
