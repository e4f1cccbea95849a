"""Turn what a user typed into a `Source`: a canonical http(s) URL or a hashed local file.

Text containing "://" (or starting with a known scheme such as "ftp:" or "file:") is a URL:
only http and https are accepted, credentials are refused, the host must be a valid IP address
or IDNA host name. The canonical form lowercases scheme and host, drops the default port, the
fragment and utm_* tracking parameters, and rewrites every YouTube video form to
https://www.youtube.com/watch?v=ID. Anything else is a local path, identified by the SHA-256
of its content. All failures are `SourceError`s with a one-line message for the user.
"""

from __future__ import annotations

import hashlib
import ipaddress
import re
from pathlib import Path
from urllib.parse import SplitResult, parse_qsl, quote, urlsplit, urlunsplit

from pipelines.errors import (
    CredentialsInURLError,
    EmptySourceError,
    MalformedURLError,
    SourceNotFoundError,
    UnsupportedSchemeError,
)
from pipelines.models import Source

MAX_URL_LENGTH = 2048
_CHUNK = 1024 * 1024
_DEFAULT_PORTS = {"http": 80, "https": 443}
# Schemes recognised without "://" ("file:/etc/passwd", "mailto:x"), so they get a clear refusal.
_BARE_SCHEMES = frozenset(
    "file ftp ftps sftp ssh data javascript mailto tel magnet gopher dict ldap smb rtsp rtmp mms ws wss "
    "http https".split()
)
_SCHEME_RE = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*):")
_LABEL_RE = re.compile(r"^(?!-)[a-z0-9_-]{1,63}(?<!-)$")
_HOSTLIKE_RE = re.compile(r"^[\w-]+(\.[\w-]+)*\.[A-Za-z]{2,}(/|$)")
_YOUTUBE_HOSTS = frozenset(
    {
        "youtube.com",
        "www.youtube.com",
        "m.youtube.com",
        "music.youtube.com",
        "youtube-nocookie.com",
        "www.youtube-nocookie.com",
    }
)
_YOUTUBE_ID = re.compile(r"^[A-Za-z0-9_-]{11}$")
_YOUTUBE_PATH = re.compile(r"^/(?:shorts|embed|live|v)/([^/?#]+)")


def normalise_source(text: str, *, allow_files: bool = True) -> Source:
    """Validate and canonicalise a user-supplied URL or local path.

    Raises a `SourceError` subclass (malformed URL, unsupported scheme, credentials in URL,
    file not found, empty file) whose message is fit to show the user. With
    `allow_files=False` (remote users, e.g. Discord) only URLs are accepted and the local
    filesystem is never looked at.
    """
    text = text.strip()
    if not text:
        raise MalformedURLError("no link or file given")
    scheme = _SCHEME_RE.match(text)
    if "://" in text or (scheme is not None and scheme.group(1).lower() in _BARE_SCHEMES):
        url = canonical_url(text)
        return Source(kind="url", location=url, key=url)
    if not allow_files:
        raise MalformedURLError("not a link: give an http:// or https:// URL")
    return _local_source(text)


def canonical_url(text: str) -> str:
    """The canonical form of an http(s) URL; raises `SourceError` for anything unacceptable."""
    if len(text) > MAX_URL_LENGTH:
        raise MalformedURLError(f"malformed URL: longer than {MAX_URL_LENGTH} characters")
    if any(ch.isspace() or ord(ch) < 32 for ch in text):
        raise MalformedURLError("malformed URL: it contains spaces or control characters")
    try:
        parts = urlsplit(text)
    except ValueError as exc:
        reason = "invalid IPv6 address" if "IPv6" in str(exc) else str(exc)
        raise MalformedURLError(f"malformed URL: {reason}") from exc
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS:
        shown = scheme or text.split(":", 1)[0]
        raise UnsupportedSchemeError(
            f"unsupported URL scheme '{shown}': only http and https links are accepted"
        )
    if parts.username is not None or parts.password is not None or "@" in parts.netloc:
        raise CredentialsInURLError("links with a user name or password are not accepted")
    host = _canonical_host(parts)
    try:
        port = parts.port
    except ValueError as exc:
        raise MalformedURLError("malformed URL: invalid port number") from exc
    netloc = host if port is None or port == _DEFAULT_PORTS[scheme] else f"{host}:{port}"
    youtube = _youtube_id(host, parts)
    if youtube is not None:
        return f"https://www.youtube.com/watch?v={youtube}"
    path = quote(parts.path, safe="/%:@!$&'()*+,;=-._~") or "/"
    return urlunsplit((scheme, netloc, path, _strip_tracking(parts.query), ""))


def _canonical_host(parts: SplitResult) -> str:
    """The lowercase host (IPv6 in brackets, names in IDNA/punycode form), or MalformedURLError."""
    try:
        host = parts.hostname
    except ValueError as exc:
        raise MalformedURLError("malformed URL: invalid host") from exc
    if not host:
        raise MalformedURLError("malformed URL: no host name")
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        pass
    else:
        return f"[{ip.compressed}]" if ip.version == 6 else ip.compressed
    name = host.rstrip(".")
    try:
        ascii_name = name.encode("idna").decode("ascii").lower()
    except UnicodeError as exc:
        raise MalformedURLError(f"malformed URL: invalid host name '{host}'") from exc
    labels = ascii_name.split(".")
    if (
        not ascii_name
        or len(ascii_name) > 253
        or not all(_LABEL_RE.match(label) for label in labels)
        or labels[-1].isdigit()  # "2130706433", "127.1": numeric forms, not host names
    ):
        raise MalformedURLError(f"malformed URL: invalid host name '{host}'")
    return ascii_name


def _youtube_id(host: str, parts: SplitResult) -> str | None:
    """The video id of any YouTube video URL form, else None."""
    candidate: str | None = None
    if host == "youtu.be":
        candidate = parts.path.lstrip("/").split("/", 1)[0]
    elif host in _YOUTUBE_HOSTS:
        if parts.path.rstrip("/") == "/watch":
            candidate = dict(parse_qsl(parts.query)).get("v")
        else:
            match = _YOUTUBE_PATH.match(parts.path)
            candidate = match.group(1) if match else None
    if candidate and _YOUTUBE_ID.match(candidate):
        return candidate
    return None


def _strip_tracking(query: str) -> str:
    """The query without utm_* parameters, other parameters kept byte for byte."""
    kept = [p for p in query.split("&") if p and not p.split("=", 1)[0].lower().startswith("utm_")]
    return "&".join(kept)


def _local_source(text: str) -> Source:
    """A local file source: absolute path, and its content hash as key."""
    path = Path(text).expanduser()
    try:
        path = path.resolve()
    except (OSError, RuntimeError) as exc:
        raise SourceNotFoundError(f"file not found: {path}") from exc
    if not path.exists():
        hint = " (for a link, start it with https://)" if _HOSTLIKE_RE.match(text) else ""
        raise SourceNotFoundError(f"file not found: {path}{hint}")
    if path.is_dir():
        raise SourceNotFoundError(f"not a file: {path} is a directory")
    if not path.is_file():
        raise SourceNotFoundError(f"not a regular file: {path}")
    try:
        if path.stat().st_size == 0:
            raise EmptySourceError(f"empty file: {path} has zero bytes")
        digest = file_sha256(path)
    except OSError as exc:
        raise SourceNotFoundError(f"cannot read file: {path} ({exc.strerror or exc})") from exc
    return Source(kind="file", location=str(path), key=f"sha256:{digest}")


def file_sha256(path: Path) -> str:
    """Hex SHA-256 of a file's content, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()
