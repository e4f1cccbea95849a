"""Application commands: bulk-overwrite sync with Discord's validation, and building invocations from them."""

from __future__ import annotations

import re
from typing import Any

from . import payloads
from .errors import FormErrors
from .models import Channel, Guild
from .state import EmulatorState

NAME_RE = re.compile(r"^[-_'\w]{1,32}$")
SUBCOMMAND, SUBCOMMAND_GROUP = 1, 2
STRING, INTEGER, BOOLEAN, USER, CHANNEL, ROLE, MENTIONABLE, NUMBER, ATTACHMENT = 3, 4, 5, 6, 7, 8, 9, 10, 11
MAX_COMMANDS = 100
MAX_OPTIONS = 25
MAX_CHOICES = 25


def _check_name(name: Any, at: list[str | int], errors: FormErrors, *, lowercase: bool) -> None:
    if not isinstance(name, str) or not NAME_RE.match(name) or (lowercase and name != name.lower()):
        errors.add([*at, "name"], "APPLICATION_COMMAND_INVALID_NAME", "Command name is invalid")


def _check_description(value: Any, at: list[str | int], errors: FormErrors) -> None:
    if not isinstance(value, str) or not 1 <= len(value) <= 100:
        errors.add([*at, "description"], "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 100 in length.")


def _check_options(options: Any, at: list[str | int], errors: FormErrors, depth: int) -> None:
    if not isinstance(options, list):
        errors.add([*at, "options"], "LIST_TYPE_CONVERT", "Only iterables may be used in a ListType")
        return
    if len(options) > MAX_OPTIONS:
        errors.max_length([*at, "options"], MAX_OPTIONS)
    seen: set[Any] = set()
    optional_seen = False
    kinds = {o.get("type") in (SUBCOMMAND, SUBCOMMAND_GROUP) for o in options if isinstance(o, dict)}
    if len(kinds) > 1:
        errors.add(
            [*at, "options"],
            "APPLICATION_COMMAND_OPTIONS_TYPE_INVALID",
            "Sub-command and sub-command group option types are mutually exclusive to all other types",
        )
    for i, option in enumerate(options):
        where: list[str | int] = [*at, "options", i]
        if not isinstance(option, dict):
            errors.add(where, "DICT_TYPE_CONVERT", "Only dictionaries may be used in a DictType")
            continue
        kind = option.get("type")
        if kind not in range(1, 12):
            errors.add(
                [*where, "type"],
                "BASE_TYPE_CHOICES",
                "Value must be one of {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}.",
            )
        _check_name(option.get("name"), where, errors, lowercase=True)
        _check_description(option.get("description"), where, errors)
        if option.get("name") in seen:
            errors.add(
                [*where, "name"],
                "APPLICATION_COMMAND_OPTION_NAME_ALREADY_EXISTS",
                "Option names must be unique",
            )
        seen.add(option.get("name"))
        if kind in (SUBCOMMAND, SUBCOMMAND_GROUP):
            if depth >= 2 or (kind == SUBCOMMAND_GROUP and depth >= 1):
                errors.add(
                    [*where, "type"],
                    "APPLICATION_COMMAND_OPTIONS_TYPE_INVALID",
                    "Sub-commands cannot be nested this deep",
                )
            _check_options(option.get("options") or [], where, errors, depth + 1)
            continue
        required = bool(option.get("required"))
        if required and optional_seen:
            errors.add(
                [*at, "options"],
                "APPLICATION_COMMAND_OPTIONS_REQUIRED_INVALID",
                "Required options must be placed before non-required options",
            )
        optional_seen = optional_seen or not required
        choices = option.get("choices") or []
        if not isinstance(choices, list):
            errors.add([*where, "choices"], "LIST_TYPE_CONVERT", "Only iterables may be used in a ListType")
            continue
        if len(choices) > MAX_CHOICES:
            errors.max_length([*where, "choices"], MAX_CHOICES)
        for j, choice in enumerate(choices):
            name = choice.get("name") if isinstance(choice, dict) else None
            if not isinstance(name, str) or not 1 <= len(name) <= 100:
                errors.add(
                    [*where, "choices", j, "name"],
                    "BASE_TYPE_BAD_LENGTH",
                    "Must be between 1 and 100 in length.",
                )


def _comparable(command: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in command.items() if k not in ("id", "version", "application_id")}


def sync_commands(state: EmulatorState, guild_id: int | None, body: Any) -> list[dict[str, Any]]:
    """PUT .../commands: validate like Discord, replace the set, keep ids of same-named commands."""
    errors = FormErrors()
    if not isinstance(body, list):
        errors.add([], "LIST_TYPE_CONVERT", "Only iterables may be used in a ListType")
        errors.raise_if_any()
    keys: set[tuple[Any, Any]] = set()
    for i, command in enumerate(body):
        if not isinstance(command, dict):
            errors.add([i], "DICT_TYPE_CONVERT", "Only dictionaries may be used in a DictType")
            continue
        kind = command.get("type", 1)
        _check_name(command.get("name"), [i], errors, lowercase=kind == 1)
        if kind == 1:
            _check_description(command.get("description"), [i], errors)
            _check_options(command.get("options") or [], [i], errors, 0)
        elif command.get("description"):
            errors.add(
                [i, "description"],
                "APPLICATION_COMMAND_CONTEXT_MENU_DESCRIPTION",
                "Context menu commands cannot have description",
            )
        key = (command.get("name"), kind)
        if key in keys:
            errors.add(
                [i, "name"], "APPLICATION_COMMANDS_DUPLICATE_NAME", "Application command names must be unique"
            )
        keys.add(key)
    if sum(1 for c in body if isinstance(c, dict) and c.get("type", 1) == 1) > MAX_COMMANDS:
        errors.max_length([], MAX_COMMANDS)
    errors.raise_if_any()
    previous = {(c["name"], c["type"]): c for c in state.commands_for(guild_id)}
    result: list[dict[str, Any]] = []
    for command in body:
        kind = command.get("type", 1)
        old = previous.get((command["name"], kind))
        item: dict[str, Any] = {
            "id": old["id"] if old else str(state.ids.next()),
            "application_id": str(state.application_id),
            "version": "",
            "default_member_permissions": command.get("default_member_permissions"),
            "type": kind,
            "name": command["name"],
            "name_localizations": command.get("name_localizations") or None,
            "description": command.get("description", ""),
            "description_localizations": command.get("description_localizations") or None,
            "nsfw": bool(command.get("nsfw")),
            "contexts": command.get("contexts"),
            "integration_types": command.get("integration_types") or [0],
        }
        if command.get("options"):
            item["options"] = command["options"]
        if guild_id is None:
            item["dm_permission"] = command.get("dm_permission", True)
        else:
            item["guild_id"] = str(guild_id)
        same = old is not None and _comparable(old) == _comparable(item)
        item["version"] = old["version"] if same and old else str(state.ids.next())
        result.append(item)
    if guild_id is None:
        state.global_commands = result
    else:
        state.guild_commands[guild_id] = result
    state.notify()
    return result


def find_command(state: EmulatorState, guild_id: int, name: str) -> dict[str, Any] | None:
    """The command a user in this guild would run: a guild command first, then a global one."""
    for command in (*state.commands_for(guild_id), *state.commands_for(None)):
        if command["name"] == name and command.get("type", 1) == 1:
            return command
    return None


def _pick(definitions: list[dict[str, Any]], name: str, kind: int) -> dict[str, Any]:
    for definition in definitions:
        if definition["name"] == name and definition["type"] == kind:
            return definition
    raise ValueError(f"no {'subcommand group' if kind == SUBCOMMAND_GROUP else 'subcommand'} named {name!r}")


class OptionBuilder:
    """Turns `{"name": value}` into Discord's option list plus the `resolved` objects it refers to."""

    def __init__(self, state: EmulatorState, guild: Guild, channel: Channel, user_id: int) -> None:
        self.state, self.guild, self.channel, self.user_id = state, guild, channel, user_id
        self.resolved: dict[str, dict[str, Any]] = {}

    def build(self, definitions: list[dict[str, Any]], values: dict[str, Any]) -> list[dict[str, Any]]:
        """The option list for one level (the command, or its subcommand)."""
        unknown = set(values) - {d["name"] for d in definitions}
        if unknown:
            raise ValueError(
                f"unknown options {sorted(unknown)}; the command defines {[d['name'] for d in definitions]}"
            )
        result: list[dict[str, Any]] = []
        for definition in definitions:
            name = definition["name"]
            if values.get(name) is None:
                if definition.get("required"):
                    raise ValueError(f"option {name!r} is required")
                continue
            value = self._convert(definition, values[name])
            result.append({"name": name, "type": definition["type"], "value": value})
        return result

    def _resolve(self, kind: str, key: int, data: dict[str, Any]) -> str:
        self.resolved.setdefault(kind, {})[str(key)] = data
        return str(key)

    def _convert(self, definition: dict[str, Any], value: Any) -> Any:
        kind, name = definition["type"], definition["name"]
        if kind == STRING:
            value = str(value)
            if not definition.get("min_length", 0) <= len(value) <= definition.get("max_length", 6000):
                raise ValueError(f"option {name!r}: length out of range")
        elif kind in (INTEGER, NUMBER):
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise ValueError(f"option {name!r} needs a number")
            value = int(value) if kind == INTEGER else float(value)
            low, high = definition.get("min_value"), definition.get("max_value")
            if (low is not None and value < low) or (high is not None and value > high):
                raise ValueError(f"option {name!r}: {value} out of range")
        elif kind == BOOLEAN:
            value = bool(value)
        elif kind == ATTACHMENT:
            payload = value if isinstance(value, dict) else payloads.attachment(self.state.files[int(value)])
            return self._resolve("attachments", int(payload["id"]), payload)
        elif kind in (USER, MENTIONABLE) and int(value) in self.guild.members:
            member = self.guild.members[int(value)]
            perms = self.state.channel_permissions(self.channel.id, member.user.id)
            self._resolve(
                "members", member.user.id, payloads.member(member, permissions=perms, with_user=False)
            )
            return self._resolve("users", member.user.id, payloads.user(member.user))
        elif kind in (ROLE, MENTIONABLE) and int(value) in self.guild.roles:
            return self._resolve("roles", int(value), payloads.role(self.guild.roles[int(value)]))
        elif kind == CHANNEL and int(value) in self.guild.channels:
            target = self.guild.channels[int(value)]
            perms = self.state.channel_permissions(target.id, self.user_id)
            data = {
                k: v
                for k, v in payloads.channel(target, permissions=perms).items()
                if k != "permission_overwrites"
            }
            return self._resolve("channels", target.id, data)
        elif kind in (USER, MENTIONABLE, ROLE, CHANNEL):
            raise ValueError(f"option {name!r}: {value!r} is not in the guild")
        choices = definition.get("choices")
        if choices and value not in [c["value"] for c in choices]:
            raise ValueError(f"option {name!r}: {value!r} is not one of the choices")
        return value


def build_command_data(
    state: EmulatorState,
    command: dict[str, Any],
    guild: Guild,
    channel: Channel,
    user_id: int,
    options: dict[str, Any],
    subcommand: str | None,
    subcommand_group: str | None,
) -> dict[str, Any]:
    """The `data` of an APPLICATION_COMMAND interaction for this command and these option values."""
    if subcommand and " " in subcommand and subcommand_group is None:
        subcommand_group, subcommand = subcommand.split(" ", 1)
    definitions: list[dict[str, Any]] = command.get("options") or []
    group_def = sub_def = None
    if subcommand_group:
        group_def = _pick(definitions, subcommand_group, SUBCOMMAND_GROUP)
        definitions = group_def.get("options") or []
    if subcommand:
        sub_def = _pick(definitions, subcommand, SUBCOMMAND)
        definitions = sub_def.get("options") or []
    elif any(d["type"] in (SUBCOMMAND, SUBCOMMAND_GROUP) for d in definitions):
        raise ValueError(f"/{command['name']} has subcommands: pass subcommand=")
    builder = OptionBuilder(state, guild, channel, user_id)
    values = builder.build(definitions, options)
    if sub_def is not None:
        values = [{"name": sub_def["name"], "type": SUBCOMMAND, "options": values}]
    if group_def is not None:
        values = [{"name": group_def["name"], "type": SUBCOMMAND_GROUP, "options": values}]
    data: dict[str, Any] = {"id": command["id"], "name": command["name"], "type": command.get("type", 1)}
    if values:
        data["options"] = values
    if builder.resolved:
        data["resolved"] = builder.resolved
    if "guild_id" in command:
        data["guild_id"] = command["guild_id"]
    return data
