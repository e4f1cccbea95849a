"""Import CrewAI the one safe way: telemetry, tracing and version checks off, storage in the data dir.

With telemetry on and no network, CrewAI stalls process exit for ~10 s, so these variables
must be set before the first `import crewai`. Import `crewai` from here, never directly.

CrewAI also reads REDIS_URL from the environment and, when it is set, takes its internal
file locks in Redis: a Redis restart would then fail model calls mid-run. Those locks only
guard files in CrewAI's local storage directory, so they are kept local (file locks there).
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

_QUIET = {
    "CREWAI_DISABLE_TELEMETRY": "true",
    "OTEL_SDK_DISABLED": "true",
    "CREWAI_TRACING_ENABLED": "false",
    "CREWAI_DISABLE_VERSION_CHECK": "true",
}
for _name, _value in _QUIET.items():
    os.environ[_name] = _value
_storage = Path(tempfile.gettempdir()) / "autointel-crewai"
_storage.mkdir(parents=True, exist_ok=True)
os.environ["CREWAI_STORAGE_DIR"] = str(_storage)

import crewai  # noqa: E402
from crewai.llms.base_llm import BaseLLM  # noqa: E402
from crewai.utilities.converter import ConverterError  # noqa: E402
from crewai_core.lock_store import set_lock_backend  # noqa: E402


@contextmanager
def _local_lock(name: str, *, timeout: float) -> Iterator[None]:
    """CrewAI's named lock as a file lock in its storage directory (never in Redis)."""
    import portalocker

    digest = hashlib.md5(name.encode(), usedforsecurity=False).hexdigest()
    with portalocker.Lock(str(_storage / f"lock-{digest}"), timeout=timeout):
        yield


set_lock_backend(_local_lock)

__all__ = ["BaseLLM", "ConverterError", "crewai"]
