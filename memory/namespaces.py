"""Memory namespaces: one tenant each (a Discord guild id, "cli", or the shared reference corpus)."""

from __future__ import annotations

import re

from memory.errors import InvalidNamespaceError

NAMESPACE_PATTERN = re.compile(r"^[a-z0-9_-]{1,64}$")
REFERENCE_NAMESPACE = "reference"
CLI_NAMESPACE = "cli"


def validate_namespace(namespace: str) -> str:
    """Return `namespace` unchanged if it is a valid name, else raise `InvalidNamespaceError`.

    Only lower-case letters, digits, `_` and `-` (1-64 characters) are allowed, so a name can
    never smuggle in another tenant's collection name or a path.
    """
    if not isinstance(namespace, str) or not NAMESPACE_PATTERN.fullmatch(namespace):
        raise InvalidNamespaceError(
            f"invalid memory namespace {namespace!r}: use 1-64 characters of a-z, 0-9, '_' or '-'"
        )
    return namespace
