"""A DNS name whose answer changes between lookups (rebinding), for the connect-time guard tests.

Public names don't resolve on the test machines, so the rebinding name is answered here: the
first lookup gets a public address (what the pre-check sees), every later one a private one
(what the connect uses). Every other name goes to the real resolver.
"""

from __future__ import annotations

import socket
from typing import Any

import pytest


def rebind(monkeypatch: pytest.MonkeyPatch, name: str, first: str, then: str) -> list[str]:
    """Make `name` resolve to `first` once and to `then` ever after; returns the answers given, in order."""
    real = socket.getaddrinfo
    answers: list[str] = []

    def resolve(host: Any, port: Any, *args: Any, **kwargs: Any) -> list[Any]:
        if host != name:
            return list(real(host, port, *args, **kwargs))
        address = first if not answers else then
        answers.append(address)
        return [(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", (address, int(port or 0)))]

    monkeypatch.setattr(socket, "getaddrinfo", resolve)
    return answers
