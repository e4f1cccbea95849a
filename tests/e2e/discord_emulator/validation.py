"""Discord's checks on message bodies: content and embed limits, URLs, allowed_mentions (400 50035)."""

from __future__ import annotations

import re
from typing import Any

from .constants import (
    MAX_AUTHOR_NAME,
    MAX_CONTENT,
    MAX_EMBED_DESCRIPTION,
    MAX_EMBED_FIELDS,
    MAX_EMBED_TITLE,
    MAX_EMBED_TOTAL,
    MAX_EMBEDS,
    MAX_FIELD_NAME,
    MAX_FIELD_VALUE,
    MAX_FOOTER_TEXT,
)
from .errors import FormErrors

URL_RE = re.compile(r"^(?:https?|attachment)://\S+$")
MENTION_KINDS = ("everyone", "users", "roles")


def _text(
    value: Any, path: list[str | int], limit: int, errors: FormErrors, *, required: bool = False
) -> int:
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
            errors.add(
                [*at, "color"], "NUMBER_TYPE_MAX", "int value should be less than or equal to 16777215."
            )
        for key in ("image", "thumbnail"):
            if isinstance(embed.get(key), dict):
                _url(embed[key].get("url"), [*at, key, "url"], errors)
        footer = embed.get("footer")
        if isinstance(footer, dict):
            total += _text(
                footer.get("text"), [*at, "footer", "text"], MAX_FOOTER_TEXT, errors, required=True
            )
            _url(footer.get("icon_url"), [*at, "footer", "icon_url"], errors)
        author = embed.get("author")
        if isinstance(author, dict):
            total += _text(
                author.get("name"), [*at, "author", "name"], MAX_AUTHOR_NAME, errors, required=True
            )
            _url(author.get("url"), [*at, "author", "url"], errors)
            _url(author.get("icon_url"), [*at, "author", "icon_url"], errors)
        fields = embed.get("fields") or []
        if not isinstance(fields, list):
            errors.add([*at, "fields"], "LIST_TYPE_CONVERT", "Only iterables may be used in a ListType")
            continue
        if len(fields) > MAX_EMBED_FIELDS:
            errors.max_length([*at, "fields"], MAX_EMBED_FIELDS)
        for j, item in enumerate(fields):
            where: list[str | int] = [*at, "fields", j]
            if not isinstance(item, dict):
                errors.add(where, "DICT_TYPE_CONVERT", "Only dictionaries may be used in a DictType")
                continue
            total += _text(item.get("name"), [*where, "name"], MAX_FIELD_NAME, errors, required=True)
            total += _text(item.get("value"), [*where, "value"], MAX_FIELD_VALUE, errors, required=True)
    if total > MAX_EMBED_TOTAL:
        errors.add(
            ["embeds"], "MAX_EMBED_SIZE_EXCEEDED", f"Embed size exceeds maximum size of {MAX_EMBED_TOTAL}"
        )


def validate_allowed_mentions(value: Any, errors: FormErrors) -> None:
    """The allowed_mentions object: known parse kinds, no parse+list overlap, at most 100 ids each."""
    if value is None:
        return
    if not isinstance(value, dict):
        errors.add(["allowed_mentions"], "DICT_TYPE_CONVERT", "Only dictionaries may be used in a DictType")
        return
    parse = value.get("parse") or []
    if not isinstance(parse, list):
        errors.add(
            ["allowed_mentions", "parse"], "LIST_TYPE_CONVERT", "Only iterables may be used in a ListType"
        )
        parse = []
    for i, kind in enumerate(parse):
        if kind not in MENTION_KINDS:
            errors.add(
                ["allowed_mentions", "parse", i],
                "BASE_TYPE_CHOICES",
                "Value must be one of {'everyone', 'users', 'roles'}.",
            )
    for kind in ("users", "roles"):
        ids = value.get(kind) or []
        if not isinstance(ids, list):
            errors.add(
                ["allowed_mentions", kind], "LIST_TYPE_CONVERT", "Only iterables may be used in a ListType"
            )
            continue
        for j, item in enumerate(ids):
            if not str(item).isdigit():
                errors.add(
                    ["allowed_mentions", kind, j], "NUMBER_TYPE_COERCE", f'Value "{item}" is not snowflake.'
                )
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
