"""Logging setup shared by every entry point: plain or JSON lines on stderr."""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime

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


class JSONFormatter(logging.Formatter):
    """One JSON object per line with time, level, logger, message and any `extra` fields."""

    _STANDARD = set(logging.makeLogRecord({}).__dict__) | {"message", "asctime"}

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
        return json.dumps(payload, default=str)


def setup_logging(level: str = "WARNING", json_lines: bool = False) -> None:
    """Configure the root logger once; third-party chatter is shown only at ERROR (or with DEBUG)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        JSONFormatter()
        if json_lines
        else logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    )
    if level != "DEBUG":
        handler.addFilter(ThirdPartyFilter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    quiet = logging.DEBUG if level == "DEBUG" else logging.ERROR
    for name in _NOISY:
        logging.getLogger(name).setLevel(quiet)
