"""Discord's error responses: a JSON body with a numeric code, a message and, for 50035, a form-error tree."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .constants import ERROR_MESSAGES, INVALID_FORM_BODY


class DiscordError(Exception):
    """An HTTP error answered exactly like Discord does: `{"code": ..., "message": ..., "errors": ...}`."""

    def __init__(
        self,
        status: int,
        code: int | None,
        message: str | None = None,
        *,
        errors: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        self.status = status
        self.code = code
        self.message = message if message is not None else ERROR_MESSAGES.get(code or 0, f"{status}: Error")
        self.errors = errors
        self.headers = headers or {}
        self.extra = extra or {}
        super().__init__(f"{status} {code} {self.message}")

    def body(self) -> dict[str, Any]:
        """The JSON body Discord sends for this error."""
        data: dict[str, Any] = {"message": self.message}
        if self.code is not None:
            data["code"] = self.code
        if self.errors:
            data["errors"] = self.errors
        data.update(self.extra)
        return data


class FormErrors:
    """Collects Invalid Form Body (50035) errors in Discord's nested `{"field": {"_errors": [...]}}` shape."""

    def __init__(self) -> None:
        self.tree: dict[str, Any] = {}

    def add(self, path: Sequence[str | int], code: str, message: str) -> None:
        """Record one error at `path` (keys and list indexes)."""
        node = self.tree
        for key in path:
            node = node.setdefault(str(key), {})
        node.setdefault("_errors", []).append({"code": code, "message": message})

    def max_length(self, path: Sequence[str | int], limit: int) -> None:
        """Record Discord's BASE_TYPE_MAX_LENGTH error."""
        self.add(path, "BASE_TYPE_MAX_LENGTH", f"Must be {limit} or fewer in length.")

    def required(self, path: Sequence[str | int]) -> None:
        """Record Discord's BASE_TYPE_REQUIRED error."""
        self.add(path, "BASE_TYPE_REQUIRED", "This field is required")

    def __bool__(self) -> bool:
        return bool(self.tree)

    def raise_if_any(self) -> None:
        """Raise 400 50035 Invalid Form Body when any error was recorded."""
        if self.tree:
            raise DiscordError(400, INVALID_FORM_BODY, errors=self.tree)


def invalid_form(path: Sequence[str | int], code: str, message: str) -> DiscordError:
    """A 400 50035 error with a single form error."""
    errors = FormErrors()
    errors.add(path, code, message)
    return DiscordError(400, INVALID_FORM_BODY, errors=errors.tree)
