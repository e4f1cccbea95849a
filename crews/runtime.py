"""Import CrewAI the one safe way: telemetry, tracing and version checks off, storage in the data dir.

With telemetry on and no network, CrewAI stalls process exit for ~10 s, so these variables
must be set before the first `import crewai`. Import `crewai` from here, never directly.
"""

from __future__ import annotations

import os
import tempfile
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

__all__ = ["BaseLLM", "ConverterError", "crewai"]
