"""Logging setup shared by every entry point: plain or JSON lines on stderr.

Every line logged while a run executes carries its context (`run_id`, `guild`, `stage`), set
with `log_context` by the runner and inherited by the tasks it starts. Secret values from the
settings are masked in every line, whatever logged them.
"""

from __future__ import annotations

import contextlib
import contextvars
import json
import logging
import sys
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime

_CONTEXT: contextvars.ContextVar[tuple[tuple[str, str], ...]] = contextvars.ContextVar(
    "autointel_log_context", default=()
)
MASK = "**********"

_NOISY = (
    "asyncio",
    "faster_whisper",
    "urllib3",
    "httpx",
    "httpcore",
    "openai",
    "crewai",
    "LiteLLM",
    "opentelemetry",
    "alembic.runtime.migration",
)


class ThirdPartyFilter(logging.Filter):
    """Drop records that libraries log from their own code through the root logger (CrewAI does)."""

    _PACKAGES = ("/crewai/", "/litellm/", "/opentelemetry/")

    def filter(self, record: logging.LogRecord) -> bool:
        """Keep our own records and library records logged under the library's own name."""
        return not (record.name == "root" and any(p in record.pathname for p in self._PACKAGES))


@contextlib.contextmanager
def log_context(**fields: str) -> Iterator[None]:
    """Add `fields` (run_id, guild, stage) to every record logged inside the block."""
    token = _CONTEXT.set(tuple({**dict(_CONTEXT.get()), **fields}.items()))
    try:
        yield
    finally:
        _CONTEXT.reset(token)


class ContextFilter(logging.Filter):
    """Copy the current run context onto each record (as attributes, so JSON lines get fields)."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Attach the context; never drops a record."""
        context = _CONTEXT.get()
        for key, value in context:
            setattr(record, key, value)
        record.context = " ".join(f"{k}={v}" for k, v in context)
        return True


class SecretMasker(logging.Filter):
    """Replace secret values anywhere in a record's final text (message, arguments, exception)."""

    def __init__(self, secrets: Iterable[str]) -> None:
        super().__init__()
        self.secrets = sorted({s for s in secrets if s and len(s) >= 6}, key=len, reverse=True)

    def mask(self, text: str) -> str:
        """`text` with every secret replaced by the mask."""
        for secret in self.secrets:
            text = text.replace(secret, MASK)
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        """Render the message once, masked; mask a formatted exception too."""
        if self.secrets:
            record.msg = self.mask(record.getMessage())
            record.args = None
            if record.exc_info:
                record.exc_text = self.mask(logging.Formatter().formatException(record.exc_info))
                record.exc_info = None
        return True


class JSONFormatter(logging.Formatter):
    """One JSON object per line with time, level, logger, message and any `extra` fields."""

    _STANDARD = set(logging.makeLogRecord({}).__dict__) | {"message", "asctime", "context"}

    def format(self, record: logging.LogRecord) -> str:
        """Render a record as JSON."""
        payload = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        payload.update({k: v for k, v in record.__dict__.items() if k not in self._STANDARD})
        if record.exc_info:
            payload["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            payload["exception"] = record.exc_text
        return json.dumps(payload, default=str)


def setup_logging(level: str = "WARNING", json_lines: bool = False, secrets: Iterable[str] = ()) -> None:
    """Configure the root logger once; third-party chatter is shown only at ERROR (or with DEBUG).

    `secrets` (tokens, passwords, API keys from the settings) are masked in every line.
    """
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        JSONFormatter()
        if json_lines
        else logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s %(context)s")
    )
    handler.addFilter(ContextFilter())
    handler.addFilter(SecretMasker(secrets))
    if level != "DEBUG":
        handler.addFilter(ThirdPartyFilter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    quiet = logging.DEBUG if level == "DEBUG" else logging.ERROR
    for name in _NOISY:
        logging.getLogger(name).setLevel(quiet)
