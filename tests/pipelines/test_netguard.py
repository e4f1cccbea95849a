"""SSRF guard: the address policy, the DNS pre-check and connect-time enforcement."""

from __future__ import annotations

import asyncio
import re
import socket
import threading
from collections.abc import Iterator

import pytest

from pipelines.errors import BlockedAddressError, UnreachableHostError
from pipelines.netguard import ConnectBlocked, check_host, guarded, is_allowed_address


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
