"""SSRF guard: the address policy, the DNS pre-check and connect-time enforcement."""

from __future__ import annotations

import asyncio
import re
import socket
import threading
from collections.abc import Iterator

import pytest

from fakes.dns import rebind
from pipelines.errors import BlockedAddressError, UnreachableHostError
from pipelines.netguard import (
    ConnectBlocked,
    check_host,
    guarded,
    is_allowed_address,
    numeric_ipv4,
    parse_ip_literal,
)


@pytest.mark.parametrize(
    ("address", "allowed_strict", "allowed_private"),
    [
        ("8.8.8.8", True, True),
        ("2606:4700:4700::1111", True, True),
        ("127.0.0.1", False, True),
        ("::1", False, True),
        ("10.1.2.3", False, True),
        ("172.16.0.1", False, True),
        ("192.168.1.1", False, True),
        ("100.64.0.1", False, True),  # carrier-grade NAT
        ("fd00::1", False, True),  # unique local
        ("::ffff:127.0.0.1", False, True),  # IPv4-mapped loopback
        ("::ffff:8.8.8.8", True, True),
        ("169.254.169.254", False, False),  # cloud metadata
        ("::ffff:169.254.169.254", False, False),
        ("64:ff9b::a9fe:a9fe", False, False),  # NAT64 form of 169.254.169.254
        ("fe80::1", False, False),
        ("0.0.0.0", False, False),
        ("::", False, False),
        ("224.0.0.1", False, False),
        ("ff02::1", False, False),
        ("240.0.0.1", False, False),
        ("255.255.255.255", False, False),
        ("not an address", False, False),
    ],
)
def test_address_policy(address: str, allowed_strict: bool, allowed_private: bool) -> None:
    assert is_allowed_address(address, allow_private=False) is allowed_strict
    assert is_allowed_address(address, allow_private=True) is allowed_private


async def test_check_host_refuses_loopback_unless_private_allowed() -> None:
    with pytest.raises(
        BlockedAddressError, match=re.escape("refused to connect to 127.0.0.1: not a public address")
    ):
        await check_host("127.0.0.1", 80, allow_private=False)
    with pytest.raises(BlockedAddressError, match=r"localhost \((127\.0\.0\.1|::1)\)"):
        await check_host("localhost", 80, allow_private=False)
    assert "127.0.0.1" in await check_host("127.0.0.1", 80, allow_private=True)


async def test_check_host_never_allows_metadata_address() -> None:
    with pytest.raises(BlockedAddressError, match=re.escape("169.254.169.254")):
        await check_host("169.254.169.254", 80, allow_private=True)


async def test_check_host_unresolvable_name() -> None:
    with pytest.raises(UnreachableHostError, match=re.escape("could not resolve host 'nonexistent.invalid'")):
        await check_host("nonexistent.invalid", 80, allow_private=True)


@pytest.fixture
def listener() -> Iterator[int]:
    """A listening TCP socket on 127.0.0.1 that accepts connections; yields its port."""
    server = socket.create_server(("127.0.0.1", 0))
    port = server.getsockname()[1]
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.1)
        while not stop.is_set():
            try:
                conn, _ = server.accept()
                conn.close()
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield port
    stop.set()
    thread.join(timeout=5)
    server.close()


def _connect(port: int) -> None:
    with socket.create_connection(("127.0.0.1", port), timeout=5):
        pass


def test_guard_blocks_connect_inside_and_only_inside(listener: int) -> None:
    _connect(listener)  # outside any guard: allowed
    with guarded(allow_private=False) as state:
        with pytest.raises(ConnectBlocked, match=re.escape("refused to connect to 127.0.0.1")) as caught:
            _connect(listener)
        assert isinstance(caught.value, ConnectionRefusedError)
        assert caught.value.address == "127.0.0.1"
    assert state.blocked == ["127.0.0.1"]
    _connect(listener)  # the guard is gone again


def test_guard_with_private_allowed_still_blocks_unspecified(listener: int) -> None:
    with guarded(allow_private=True) as state:
        _connect(listener)
        with pytest.raises(ConnectBlocked):
            with socket.create_connection(("0.0.0.0", listener), timeout=5):
                pass
    assert state.blocked == ["0.0.0.0"]


def test_guard_ignores_non_inet_sockets() -> None:
    left, right = socket.socketpair()
    with guarded(allow_private=False):
        left.sendall(b"x")
        assert right.recv(1) == b"x"
    left.close()
    right.close()


async def test_guard_covers_to_thread_workers_but_not_other_tasks(listener: int) -> None:
    inside_ready = asyncio.Event()
    outside_done = asyncio.Event()

    async def outside() -> None:
        await inside_ready.wait()
        await asyncio.to_thread(_connect, listener)  # e.g. a database connection elsewhere
        outside_done.set()

    other = asyncio.create_task(outside())
    with guarded(allow_private=False) as state:
        inside_ready.set()
        await outside_done.wait()  # the other task connected while the guard was active
        with pytest.raises(ConnectBlocked):
            await asyncio.to_thread(_connect, listener)
    await other
    assert state.blocked == ["127.0.0.1"]


# --- every spelling of an address -------------------------------------------------------------


@pytest.mark.parametrize(
    ("host", "address"),
    [
        ("2130706433", "127.0.0.1"),  # decimal
        ("0177.0.0.1", "127.0.0.1"),  # octal
        ("0x7f.1", "127.0.0.1"),  # hex, shortened
        ("0X7F000001", "127.0.0.1"),
        ("127.1", "127.0.0.1"),
        ("127.0.1", "127.0.0.1"),
        ("0xa9.0xfe.0xa9.0xfe", "169.254.169.254"),
        ("0x0.0", "0.0.0.0"),
        ("10.0.0.1.", "10.0.0.1"),  # trailing dot
        ("134744072", "8.8.8.8"),
    ],
)
def test_numeric_ipv4_forms(host: str, address: str) -> None:
    assert str(numeric_ipv4(host)) == address
    assert str(parse_ip_literal(host)) == address


@pytest.mark.parametrize("host", ["example.com", "a1.b2", "0x1g", "", "٣.٣.٣.٣", "+1", "1.example"])
def test_names_are_not_addresses(host: str) -> None:
    assert numeric_ipv4(host) is None


@pytest.mark.parametrize("host", ["1.2.3.4.5", "256.1.1.1", "08.0.0.1", "0x1g.1", "1..1", "4294967296"])
def test_bad_numbers_are_neither_names_nor_addresses(host: str) -> None:
    with pytest.raises(ValueError, match="not a valid IPv4 address"):
        numeric_ipv4(host)
    assert parse_ip_literal(host) is None


@pytest.mark.parametrize(
    ("host", "address"),
    [
        ("[::1]", "::1"),
        ("[::ffff:127.0.0.1]", "::ffff:7f00:1"),
        ("::ffff:7f00:1", "::ffff:7f00:1"),
        ("[fd00::1]", "fd00::1"),
    ],
)
def test_ipv6_literals_in_and_out_of_brackets(host: str, address: str) -> None:
    assert str(parse_ip_literal(host)) == address


@pytest.fixture
def no_resolver(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail the test if anything asks the resolver."""

    def refuse(*args: object, **kwargs: object) -> list[object]:
        raise AssertionError(f"resolver called for {args[0]!r}")

    monkeypatch.setattr(socket, "getaddrinfo", refuse)


@pytest.mark.parametrize(
    ("host", "address"),
    [
        ("2130706433", "127.0.0.1"),
        ("0177.0.0.1", "127.0.0.1"),
        ("0x7f.1", "127.0.0.1"),
        ("[::ffff:127.0.0.1]", "::ffff:7f00:1"),
        ("[::1]", "::1"),
        ("0xa9fea9fe", "169.254.169.254"),
    ],
)
async def test_check_host_refuses_every_spelling_without_dns(
    no_resolver: None, host: str, address: str
) -> None:
    with pytest.raises(BlockedAddressError, match=re.escape(f"{host} ({address}): not a public address")):
        await check_host(host, 80, allow_private=False)


async def test_private_spellings_pass_only_with_private_urls_allowed(no_resolver: None) -> None:
    assert await check_host("0x7f.1", 80, allow_private=True) == ["127.0.0.1"]
    assert await check_host("[::ffff:127.0.0.1]", 80, allow_private=True) == ["::ffff:7f00:1"]
    with pytest.raises(BlockedAddressError):  # link-local stays refused
        await check_host("0xa9fea9fe", 80, allow_private=True)


# --- DNS rebinding ----------------------------------------------------------------------------


class Accepts:
    """A TCP server on 127.0.0.1 that records what each accepted connection sent first."""

    def __init__(self) -> None:
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = int(self.server.getsockname()[1])
        self.received: list[bytes] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        self.server.settimeout(0.05)
        while not self._stop.is_set():
            try:
                conn, _ = self.server.accept()
            except OSError:
                continue
            with conn:
                conn.settimeout(5)
                try:
                    self.received.append(conn.recv(64))
                except OSError:
                    self.received.append(b"")

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self.server.close()


@pytest.fixture
def accepts() -> Iterator[Accepts]:
    """A counting loopback server."""
    server = Accepts()
    yield server
    server.close()


async def test_rebinding_between_check_and_connect_is_caught_at_connect(
    monkeypatch: pytest.MonkeyPatch, accepts: Accepts
) -> None:
    answers = rebind(monkeypatch, "rebind.test", "93.184.216.34", "127.0.0.1")
    assert await check_host("rebind.test", accepts.port, allow_private=False) == ["93.184.216.34"]
    with guarded(allow_private=False) as state:
        with pytest.raises(ConnectBlocked, match=re.escape("refused to connect to 127.0.0.1")):
            await asyncio.to_thread(socket.create_connection, ("rebind.test", accepts.port), 5)
    assert answers == ["93.184.216.34", "127.0.0.1"]  # the second answer was the one connected to
    assert state.blocked == ["127.0.0.1"]
    # One honest connection after it: the server accepts in arrival order, so had the rebound
    # connect gone through, it would be recorded before this one.
    with socket.create_connection(("127.0.0.1", accepts.port), timeout=5) as honest:
        honest.sendall(b"honest")
        for _ in range(500):
            if accepts.received:
                break
            await asyncio.sleep(0.01)
    assert accepts.received == [b"honest"]
