"""Bot exception hierarchy and the one place that turns any error into a short message for a user.

    BotError                   meaning
    ├── NotAllowedError        the member lacks a required role or permission
    ├── RateLimitedError       a per-user / per-guild limit or the active-runs quota is reached
    ├── BadRequestError        the command's options are unusable (no source, two sources, bad file)
    └── DeliveryError          every delivery route failed (kept in the delivery record)

Users see one short ephemeral line; details (tracebacks, Discord error bodies) go to the log.
Pipeline errors reuse `pipelines.errors.describe`, so the CLI and the bot say the same thing.
"""

from __future__ import annotations

from datetime import datetime

from pipelines.errors import PipelineError, RunNotFoundError, describe


class BotError(Exception):
    """A refusal or failure whose message is fit for the user."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NotAllowedError(BotError):
    """The member may not use this command (role allow-list, requester-or-admin rules)."""


class RateLimitedError(BotError):
    """A limit is reached; `retry_at` says when it frees up (None when a running run must end first)."""

    def __init__(self, message: str, retry_at: datetime | None = None) -> None:
        super().__init__(message)
        self.retry_at = retry_at


class BadRequestError(BotError):
    """The command's options cannot be used."""


class DeliveryError(BotError):
    """No route could post the message."""


MESSAGE_LIMIT = 2000  # Discord's message content limit


def user_message(exc: BaseException, run_id: str | None = None) -> str:
    """The one line a Discord user sees for `exc` (run id included for internal errors).

    Never longer than a Discord message may be, whatever the error quotes.
    """
    text = _user_text(exc, run_id)
    return text if len(text) <= MESSAGE_LIMIT else text[: MESSAGE_LIMIT - 1] + "…"


def _user_text(exc: BaseException, run_id: str | None) -> str:
    if isinstance(exc, RateLimitedError):
        when = f" Try again <t:{int(exc.retry_at.timestamp())}:R>." if exc.retry_at else ""
        return f"⏳ {exc.message}.{when}"
    if isinstance(exc, NotAllowedError):
        return f"🚫 {exc.message}"
    if isinstance(exc, BotError):
        return f"⚠️ {exc.message}"
    if isinstance(exc, RunNotFoundError):
        return f"⚠️ {exc.message} in this server"
    if isinstance(exc, PipelineError):
        return f"⚠️ {_sentence(exc.message)}"
    reference = f" (run {run_id})" if run_id else ""
    return f"💥 {_sentence(describe(exc))}{reference}"


def _sentence(text: str) -> str:
    text = text.strip()
    return text[:1].upper() + text[1:] + ("" if text.endswith((".", "!", "?")) else ".")
