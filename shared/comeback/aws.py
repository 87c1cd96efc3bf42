"""AWS clients, created lazily and cached per process.

Nothing creates a client at import time: tests start moto first, and the local runtime points
every client at the embedded emulator through `Settings.endpoint_for(service)`. boto3 itself is
imported on first use, which keeps the import time of every handler module down.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

from comeback.settings import Settings

if TYPE_CHECKING:
    from botocore.client import BaseClient

_lock = threading.Lock()
_clients: dict[tuple[str, str, str | None], Any] = {}


def client(service: str, settings: Settings) -> BaseClient:
    key = (service, settings.region, settings.endpoint_for(service))
    cached = _clients.get(key)
    if cached is not None:
        return cached
    with _lock:
        if key not in _clients:
            import boto3
            from botocore.config import Config

            config = Config(
                retries={"mode": "standard", "max_attempts": 3},
                connect_timeout=5,
                read_timeout=30,
                max_pool_connections=32,
            )
            _clients[key] = boto3.session.Session().client(
                service,  # type: ignore[call-overload]
                region_name=settings.region,
                endpoint_url=settings.endpoint_for(service),
                config=config,
            )
        return _clients[key]


def resource(service: str, settings: Settings) -> Any:
    """A boto3 resource (Powertools' DynamoDBProvider wants one), sharing the client's settings."""
    key = (f"resource:{service}", settings.region, settings.endpoint_for(service))
    cached = _clients.get(key)
    if cached is not None:
        return cached
    with _lock:
        if key not in _clients:
            import boto3

            _clients[key] = boto3.session.Session().resource(
                service,  # type: ignore[call-overload]
                region_name=settings.region,
                endpoint_url=settings.endpoint_for(service),
            )
        return _clients[key]


def reset() -> None:
    """Forget every client (tests that start a fresh moto call this)."""
    with _lock:
        _clients.clear()
