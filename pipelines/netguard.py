"""SSRF protection for the acquisition stage.

Two layers, both needed (yt-dlp follows redirects, and DNS answers can change between a check
and a connect):

1. `check_host()` resolves the URL's host before anything is fetched and refuses it when any
   resolved address is not allowed.
2. `guarded()` enforces the same rule at connect time. A process-wide audit hook (installed
   once, lazily) watches the "socket.connect" event of AF_INET/AF_INET6 sockets and raises
   `ConnectBlocked` for a refused address, but only for code running inside the guard: the
   switch is a `contextvars.ContextVar`, so `asyncio.to_thread` workers started inside the
   guard are covered while database and other connections elsewhere in the process are not.

`parse_ip_literal()` recognises every spelling of an IP address a URL parser or resolver
accepts — IPv6 in brackets, IPv4-mapped IPv6, and the legacy decimal (2130706433), octal
(0177.0.0.1), hex (0x7f.1) and shortened (127.1) IPv4 forms — so none of them slips past the
policy as a "host name".

Link-local (including the 169.254.169.254 cloud metadata service), unspecified, multicast and
reserved addresses are never allowed; loopback, private (RFC 1918, IPv6 ULA) and carrier-grade
NAT (100.64.0.0/10) only with ALLOW_PRIVATE_URLS. Production deployments should also restrict
egress at the network level: this guard covers Python sockets only, not subprocesses.
"""

from __future__ import annotations

import asyncio
import ipaddress
import re
import socket
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from pipelines.errors import BlockedAddressError, UnreachableHostError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

_CGNAT = ipaddress.IPv4Network("100.64.0.0/10")
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
_NUMERIC_LABEL = re.compile(r"0x[0-9a-f]*|[0-9]+", re.IGNORECASE)


class ConnectBlocked(ConnectionRefusedError):
    """Raised from `socket.connect` inside `guarded()` when the address is not allowed."""

    def __init__(self, address: str) -> None:
        super().__init__(f"refused to connect to {address}: not a public address")
        self.address = address


@dataclass
class GuardState:
    """One active guard: its policy and the addresses it refused (in order)."""

    allow_private: bool
    blocked: list[str] = field(default_factory=list)


_current: ContextVar[GuardState | None] = ContextVar("autointel_netguard", default=None)
_hook_lock = threading.Lock()
_hook_installed = False


def _unwrap(ip: IPAddress) -> IPAddress:
    """The IPv4 address behind an IPv4-mapped, NAT64 or 6to4 IPv6 address; else `ip` itself."""
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return ip.ipv4_mapped
        if ip in _NAT64:
            return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
        if ip.sixtofour is not None:
            return ip.sixtofour
    return ip


def numeric_ipv4(host: str) -> ipaddress.IPv4Address | None:
    """The IPv4 address a numeric host spells (the WHATWG URL IPv4 parser), or None for a name.

    "2130706433", "0x7f000001", "0177.0.0.1", "0x7f.1" and "127.1" all mean 127.0.0.1: up to
    four labels, each decimal, 0x-hex or 0-octal, the last one filling the remaining bytes.
    A host whose last label is numeric but that is no valid address ("1.2.3.4.5", "08.1",
    "foo.0x10") raises `ValueError`, as it fails in browsers.
    """
    labels = host.split(".")
    if len(labels) > 1 and labels[-1] == "":
        labels.pop()  # a trailing dot
    if not _NUMERIC_LABEL.fullmatch(labels[-1]):
        return None
    if len(labels) > 4 or not all(_NUMERIC_LABEL.fullmatch(label) for label in labels):
        raise ValueError(f"{host} is not a valid IPv4 address")
    try:
        numbers = [
            int(label[2:] or "0", 16)
            if label[:2].lower() == "0x"
            else int(label, 8 if len(label) > 1 and label[0] == "0" else 10)
            for label in labels
        ]
    except ValueError as exc:  # 8 or 9 in an octal label
        raise ValueError(f"{host} is not a valid IPv4 address") from exc
    *head, last = numbers
    if any(n > 255 for n in head) or last >= 256 ** (5 - len(numbers)):
        raise ValueError(f"{host} is not a valid IPv4 address")
    return ipaddress.IPv4Address(last + sum(n << (8 * (3 - i)) for i, n in enumerate(head)))


def parse_ip_literal(host: str) -> IPAddress | None:
    """The address `host` spells as an IP literal (bracketed IPv6, any IPv4 form), else None."""
    text = host.strip()
    if text.startswith("[") and text.endswith("]"):
        text = text[1:-1]
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        pass
    try:
        return numeric_ipv4(text)
    except ValueError:
        return None


def is_allowed_address(ip: str | IPAddress, allow_private: bool) -> bool:
    """Whether a connection to `ip` is allowed under the given policy.

    Unparseable addresses are refused. Link-local, unspecified, multicast and reserved
    addresses are never allowed; public ones always are; loopback, private and CGNAT
    addresses only when `allow_private` is true.
    """
    if isinstance(ip, str):
        try:
            ip = ipaddress.ip_address(ip)
        except ValueError:
            return False
    ip = _unwrap(ip)
    if ip.is_link_local or ip.is_unspecified or ip.is_multicast:
        return False
    if ip.is_loopback:  # before is_reserved: ::1 lies inside the reserved ::/8
        return allow_private
    if ip.is_reserved:
        return False
    if ip.is_global:
        return True
    if ip.is_private or (isinstance(ip, ipaddress.IPv4Address) and ip in _CGNAT):
        return allow_private
    return False


def blocked_message(address: str, host: str | None = None) -> str:
    """The user-facing sentence for a refused address (optionally naming the host)."""
    target = address if host is None or host == address else f"{host} ({address})"
    return f"refused to connect to {target}: not a public address"


async def check_host(host: str, port: int, allow_private: bool) -> list[str]:
    """Resolve `host` and return its addresses, refusing it if any address is not allowed.

    Raises `UnreachableHostError` when the name does not resolve and `BlockedAddressError`
    when any resolved address is not allowed.
    """
    literal = parse_ip_literal(host)  # an IP literal needs no resolver (and no executor thread)
    if literal is not None:
        if not is_allowed_address(literal, allow_private):
            raise BlockedAddressError(blocked_message(str(literal), host))
        return [str(literal)]
    loop = asyncio.get_running_loop()
    try:
        infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise UnreachableHostError(f"could not resolve host '{host}'") from exc
    addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))
    if not addresses:
        raise UnreachableHostError(f"could not resolve host '{host}'")
    for address in addresses:
        if not is_allowed_address(address, allow_private):
            raise BlockedAddressError(blocked_message(address, host))
    return addresses


def _addresses_of(host: str) -> list[str]:
    """The IP addresses a connect to `host` may use (the host itself when it is a literal)."""
    try:
        ipaddress.ip_address(host.split("%", 1)[0])
        return [host]
    except ValueError:
        pass
    try:
        return [str(info[4][0]) for info in socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)]
    except (OSError, UnicodeError):
        return [host]  # unresolvable: is_allowed_address refuses it


def _audit_hook(event: str, args: tuple[Any, ...]) -> None:
    """Process-wide audit hook; acts only on socket.connect inside an active guard."""
    if event != "socket.connect":
        return
    state = _current.get()
    if state is None:
        return
    sock, address = args[0], args[1]
    if getattr(sock, "family", None) not in (socket.AF_INET, socket.AF_INET6):
        return
    host = str(address[0]) if isinstance(address, tuple) and address else str(address)
    for candidate in _addresses_of(host):
        if not is_allowed_address(candidate.split("%", 1)[0], state.allow_private):
            state.blocked.append(candidate)
            raise ConnectBlocked(candidate)


def _install_hook() -> None:
    """Install the audit hook once per process (audit hooks cannot be removed)."""
    global _hook_installed
    with _hook_lock:
        if not _hook_installed:
            sys.addaudithook(_audit_hook)
            _hook_installed = True


@contextmanager
def guarded(allow_private: bool) -> Iterator[GuardState]:
    """Refuse connections to disallowed addresses made by code running inside this block.

    Covers the current thread/task and `asyncio.to_thread` workers started inside the block
    (they copy the context); threads started with plain `threading.Thread` are not covered.
    Yields the `GuardState`, whose `blocked` list names every refused address.
    """
    _install_hook()
    state = GuardState(allow_private=allow_private)
    token = _current.set(state)
    try:
        yield state
    finally:
        _current.reset(token)
