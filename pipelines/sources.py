"""Turn what a user typed into a `Source`: a canonical http(s) URL or a hashed local file.

Text containing "://" (or starting with a known scheme such as "ftp:" or "file:") is a URL:
only http and https are accepted, credentials are refused, URLs longer than `MAX_URL_LENGTH`
(2,048 characters, what browsers and most servers handle) are refused, and the host must be a
valid IP address or IDNA host name. Numeric IPv4 spellings (2130706433, 0177.0.0.1, 0x7f.1)
are rewritten to the dotted address they mean, so the address policy judges what a connect
would reach. International host names must pass a homograph check modelled on Unicode
UTS #39 "highly restrictive" (see `_check_homograph`): each label in one script (Japanese,
Chinese and Korean mixes with Latin allowed), and no all-Cyrillic label spelt only with
Latin look-alikes under an ASCII top-level domain.

The canonical form lowercases scheme and host, drops the default port, the fragment and
utm_* tracking parameters, and rewrites every YouTube video form to
https://www.youtube.com/watch?v=ID. Anything else is a local path, identified by the SHA-256
of its content. All failures are `SourceError`s with a one-line message for the user.
"""

from __future__ import annotations

import hashlib
import ipaddress
import re
import unicodedata
from pathlib import Path
from urllib.parse import SplitResult, parse_qsl, quote, urlsplit, urlunsplit

from pipelines.errors import (
    CredentialsInURLError,
    DeceptiveHostError,
    EmptySourceError,
    MalformedURLError,
    SourceNotFoundError,
    UnsupportedSchemeError,
)
from pipelines.models import Source
from pipelines.netguard import numeric_ipv4

MAX_URL_LENGTH = 2048
SHOWN_CHARS = 80
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
# Script mixes a label may use besides a single script (UTS #39 "highly restrictive").
_ALLOWED_MIXES = (
    frozenset({"LATIN", "HAN", "HIRAGANA", "KATAKANA"}),
    frozenset({"LATIN", "HAN", "BOPOMOFO"}),
    frozenset({"LATIN", "HAN", "HANGUL"}),
)
_SCRIPT_ALIASES = {"CJK": "HAN", "IDEOGRAPHIC": "HAN", "KATAKANA-HIRAGANA": "KATAKANA"}
# Cyrillic letters that pass for Latin ones: a label made only of them imitates a Latin name.
_CYRILLIC_LATIN_ALIKE = frozenset("асԁеһіјӏорԛѕԝхуъьҽпгѵѡ")
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
        shown = _shown(scheme or text.split(":", 1)[0])
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
        if isinstance(ip, ipaddress.IPv6Address) and ip.scope_id:
            raise MalformedURLError("malformed URL: IPv6 zone identifiers are not accepted")
        return f"[{ip.compressed}]" if ip.version == 6 else ip.compressed
    try:  # 2130706433, 0177.0.0.1, 0x7f.1: the address a connect would use
        legacy = numeric_ipv4(host)
    except ValueError as exc:
        raise MalformedURLError(f"malformed URL: invalid host name '{_shown(host)}'") from exc
    if legacy is not None:
        return legacy.compressed
    name = host.rstrip(".")
    try:
        ascii_name = name.encode("idna").decode("ascii").lower()
    except UnicodeError as exc:
        raise MalformedURLError(f"malformed URL: invalid host name '{_shown(host)}'") from exc
    labels = ascii_name.split(".")
    if not ascii_name or len(ascii_name) > 253 or not all(_LABEL_RE.match(label) for label in labels):
        raise MalformedURLError(f"malformed URL: invalid host name '{_shown(host)}'")
    _check_homograph(ascii_name)
    return ascii_name


def _shown(text: str) -> str:
    """Part of the member's input as quoted in a refusal, cut to `SHOWN_CHARS` (one short line)."""
    return text if len(text) <= SHOWN_CHARS else text[: SHOWN_CHARS - 1] + "…"


def _script(char: str) -> str | None:
    """The script of a letter (from its Unicode name: LATIN, CYRILLIC, HAN, …); None for others."""
    if not unicodedata.category(char).startswith("L"):
        return None  # digits, hyphens, combining marks go with any script
    if char.isascii():
        return "LATIN"
    word = unicodedata.name(char, "UNKNOWN").split(" ", 1)[0]
    return _SCRIPT_ALIASES.get(word, word)


def _check_homograph(ascii_name: str) -> None:
    """Refuse an international host name whose labels could pass for another site's.

    A label mixing scripts (Latin "youtub" + Cyrillic "е") is refused unless the mix is a
    Japanese, Chinese or Korean one; so is an all-Cyrillic label spelt only with Latin
    look-alikes ("аррӏе") under an ASCII top-level domain. The message names the host as
    typed and in its punycode form.
    """
    labels = ascii_name.split(".")
    try:
        shown = [label.encode("ascii").decode("idna") for label in labels]
    except UnicodeError as exc:
        raise MalformedURLError(f"malformed URL: invalid host name '{_shown(ascii_name)}'") from exc
    host = f"'{'.'.join(shown)}' ({ascii_name})"
    ascii_tld = not labels[-1].startswith("xn--")
    for label, text in zip(labels, shown, strict=True):
        if not label.startswith("xn--"):
            continue
        scripts = {script for script in map(_script, text) if script is not None}
        if len(scripts) > 1 and not any(scripts <= mix for mix in _ALLOWED_MIXES):
            names = " and ".join(sorted(script.title() for script in scripts))
            raise DeceptiveHostError(
                f"refused a look-alike host name: {host} mixes {names} letters, "
                "the way fake addresses imitate real sites"
            )
        letters = {char for char in text if unicodedata.category(char).startswith("L")}
        if ascii_tld and scripts == {"CYRILLIC"} and letters <= _CYRILLIC_LATIN_ALIKE:
            raise DeceptiveHostError(
                f"refused a look-alike host name: {host} is spelt in Cyrillic letters that imitate Latin ones"
            )


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
