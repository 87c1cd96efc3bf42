"""Unit tests are pure: no sockets, so nothing can quietly reach a network or an emulator."""

from __future__ import annotations

import socket

import pytest


class _NoNetwork(socket.socket):
    def connect(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        raise RuntimeError("unit tests must not open network connections")


@pytest.fixture(autouse=True)
def _no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(socket, "socket", _NoNetwork)
