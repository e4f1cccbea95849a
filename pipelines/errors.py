"""Pipeline exception hierarchy and the one place that turns errors into user-facing text.

    PipelineError                      code         meaning
    ├── SourceError
    │   ├── MalformedURLError          malformed_url    not a parseable http(s) URL
    │   ├── UnsupportedSchemeError     unsupported_scheme  scheme other than http/https
    │   ├── CredentialsInURLError      credentials_in_url  user:password@ in the URL
    │   ├── DeceptiveHostError         deceptive_host   a look-alike (homograph) international host name
    │   ├── SourceNotFoundError        file_not_found   local path does not exist
    │   └── EmptySourceError           empty_file       zero-byte file or response
    ├── AcquisitionError
    │   ├── BlockedAddressError        blocked_address  resolves/redirects to a non-public address
    │   ├── UnsupportedSiteError       unsupported_site no extractor found media at the URL
    │   ├── UnreachableHostError       unreachable_host DNS failure, refused, timed out
    │   ├── HTTPStatusError            http_error       the server answered 4xx/5xx
    │   ├── NotMediaError              not_media        no decodable audio stream
    │   ├── TooLongError               too_long         longer than MAX_MEDIA_DURATION_SECONDS
    │   ├── TooLargeError              too_large        bigger than MAX_MEDIA_FILESIZE_MB
    │   └── MediaUnavailableError      media_unavailable  the site refuses the media (private, removed, …)
    ├── TranscriptionError             transcription_failed
    │   └── NoSpeechError              no_speech        the audio holds no recognisable speech
    ├── RunError
    │   ├── RunNotFoundError           run_not_found
    │   ├── StoreUnavailableError      store_unavailable  the database cannot be opened
    │   ├── MemoryRequiredError        memory_unavailable long-term memory was not opened
    │   ├── InternalStageError         internal_error   unexpected failure inside a stage
    │   ├── RunCancelledError          cancelled        a user cancelled the run
    │   ├── QueueUnavailableError      queue_unavailable  Redis (REDIS_URL) cannot be reached
    │   ├── DiskFullError              disk_full        the data dir's disk is full (ENOSPC)
    │   └── RunFailedError             (stored code)    a run that failed in a worker, as recorded
    └── WatchError
        ├── WatchLimitError            watch_limit      a server's watch limit is reached
        ├── WatchExistsError           watch_exists     the channel already watches this URL
        ├── WatchNotFoundError         watch_not_found  no such watch (in this server)
        └── WatchListingError          watch_listing    a watched source could not be listed

Every error carries a stable `code` (stored in the run record) and a short message fit
for a Discord user or a CLI line; `describe()` is the single mapping used by all clients.
"""

from __future__ import annotations


class PipelineError(Exception):
    """Base of all pipeline errors; `code` is stable and stored with the failed stage."""

    code = "pipeline_error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class SourceError(PipelineError):
    """The source given by the user is not acceptable before anything is fetched."""


class MalformedURLError(SourceError):
    code = "malformed_url"


class UnsupportedSchemeError(SourceError):
    code = "unsupported_scheme"


class CredentialsInURLError(SourceError):
    code = "credentials_in_url"


class DeceptiveHostError(SourceError):
    code = "deceptive_host"


class SourceNotFoundError(SourceError):
    code = "file_not_found"


class EmptySourceError(SourceError):
    code = "empty_file"


class AcquisitionError(PipelineError):
    """Fetching or checking the media failed."""


class BlockedAddressError(AcquisitionError):
    code = "blocked_address"


class UnsupportedSiteError(AcquisitionError):
    code = "unsupported_site"


class UnreachableHostError(AcquisitionError):
    code = "unreachable_host"


class HTTPStatusError(AcquisitionError):
    code = "http_error"

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class NotMediaError(AcquisitionError):
    code = "not_media"


class TooLongError(AcquisitionError):
    code = "too_long"


class TooLargeError(AcquisitionError):
    code = "too_large"


class MediaUnavailableError(AcquisitionError):
    code = "media_unavailable"


class TranscriptionError(PipelineError):
    code = "transcription_failed"


class NoSpeechError(TranscriptionError):
    code = "no_speech"


class RunError(PipelineError):
    """Problems with the run itself rather than its input."""


class RunNotFoundError(RunError):
    code = "run_not_found"


class StoreUnavailableError(RunError):
    code = "store_unavailable"


class MemoryRequiredError(RunError):
    code = "memory_unavailable"


class InternalStageError(RunError):
    code = "internal_error"


class RunCancelledError(RunError):
    code = "cancelled"


class QueueUnavailableError(RunError):
    code = "queue_unavailable"


class DiskFullError(RunError):
    code = "disk_full"


DISK_FULL_MESSAGE = (
    "the server's data disk is full (AUTOINTEL_DATA_DIR): an admin must free space, then run it again"
)


def exception_chain(exc: BaseException) -> list[BaseException]:
    """The exception and everything it wraps (yt-dlp's `exc_info` and `.cause`, `__cause__`,
    `__context__`), each once, at most 20."""
    seen: list[BaseException] = []
    pending: list[BaseException | None] = [exc]
    while pending and len(seen) < 20:
        current = pending.pop(0)
        if current is None or any(current is s for s in seen):
            continue
        seen.append(current)
        exc_info = getattr(current, "exc_info", None)  # yt-dlp's DownloadError keeps its cause here
        if isinstance(exc_info, tuple) and len(exc_info) > 1 and isinstance(exc_info[1], BaseException):
            pending.append(exc_info[1])
        cause = getattr(current, "cause", None)
        pending += [cause if isinstance(cause, BaseException) else None, current.__cause__]
        pending.append(current.__context__)
    return seen


def out_of_space(exc: BaseException) -> bool:
    """Whether `exc` (or anything it wraps) says a disk is full: ENOSPC, or SQLite's own report."""
    import errno

    for current in exception_chain(exc):
        if isinstance(current, OSError) and current.errno in (errno.ENOSPC, errno.EDQUOT):
            return True
        if "database or disk is full" in str(current) or "No space left on device" in str(current):
            return True
    return False


class RunFailedError(RunError):
    """A run that failed in another process, as its record tells it (code and message as stored)."""

    def __init__(self, message: str, code: str) -> None:
        super().__init__(message)
        self.code = code


class WatchError(PipelineError):
    """Watchlist refusals and failures (pipelines.watch)."""


class WatchLimitError(WatchError):
    code = "watch_limit"


class WatchExistsError(WatchError):
    code = "watch_exists"


class WatchNotFoundError(WatchError):
    code = "watch_not_found"


class WatchListingError(WatchError):
    code = "watch_listing"


def describe(exc: BaseException) -> str:
    """One line for the user: the pipeline's (or memory's) own message, or a generic one."""
    from memory.errors import MemoryStoreError

    if isinstance(exc, PipelineError | MemoryStoreError):
        return exc.message
    return "internal error: the run failed unexpectedly; see the logs for details"
