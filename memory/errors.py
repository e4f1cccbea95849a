"""Memory exception hierarchy (see the package docstring for the table).

Every error carries a stable `code` and a one-line `message` fit for a Discord user or a
CLI line, like `pipelines.errors`.
"""

from __future__ import annotations


class MemoryStoreError(Exception):
    """Base of all memory errors; `code` is stable, `message` is one line for the user."""

    code = "memory_error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidNamespaceError(MemoryStoreError, ValueError):
    """A namespace name outside `^[a-z0-9_-]{1,64}$` (also a ValueError)."""

    code = "invalid_namespace"


class EmbedderError(MemoryStoreError):
    """The embedder could not load or the embeddings endpoint failed."""

    code = "embedder_failed"


class DimensionMismatchError(MemoryStoreError):
    """A collection holds vectors of another size than the embedder makes."""

    code = "dimension_mismatch"


class MemoryUnavailableError(MemoryStoreError):
    """The Qdrant server cannot be reached, or the local storage is locked by another process."""

    code = "memory_unavailable"


class CorpusError(MemoryStoreError):
    """A reference corpus file is missing or cannot be parsed.

    `problems` lists every malformed line of a JSON Lines file as "line N: reason", in order;
    `message` is the one-line summary.
    """

    code = "bad_corpus"

    def __init__(self, message: str, problems: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.problems = problems
