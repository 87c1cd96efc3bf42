"""AWS clients, created lazily and cached per process.

Nothing creates a client at import time: tests start moto first, and the local runtime points
every client at the embedded emulator through `Settings.endpoint_for(service)`. boto3 itself is
imported on first use, which keeps the import time of every handler module down.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from comeback.app.settings import Settings

if TYPE_CHECKING:
    from botocore.client import BaseClient

_lock = threading.Lock()
_clients: dict[tuple[str, str, str | None], Any] = {}
# Called with every botocore client made (and every one cached when the hook is added), so a
# test or the local runtime can watch the calls (comeback.local.recording). Empty in Lambda: no
# cost beyond looking at an empty list once per client.
ClientHook = Callable[[Any], None]
_hooks: list[ClientHook] = []


def _botocore_client(made: Any) -> Any:
    """The botocore client behind a client or a boto3 resource."""
    return getattr(made.meta, "client", made)


def add_client_hook(hook: ClientHook) -> None:
    with _lock:
        _hooks.append(hook)
        made = list(_clients.values())
    for each in made:
        hook(_botocore_client(each))


def remove_client_hook(hook: ClientHook) -> None:
    with _lock:
        if hook in _hooks:
            _hooks.remove(hook)


def _made(new: Any) -> Any:
    for hook in _hooks:
        hook(_botocore_client(new))
    return new


_LOOPBACK = ("http://127.", "http://localhost", "http://[::1]")


def _credentials(endpoint: str | None) -> dict[str, str]:
    """Credentials for an emulator on this machine, which accepts any: an operator using
    `--local` needs no AWS account, and real keys in the environment are not sent to it."""
    if endpoint and endpoint.startswith(_LOOPBACK):
        return {"aws_access_key_id": "local", "aws_secret_access_key": "local"}
    return {}


def _session() -> Any:
    """One boto3 session for every client (called under `_lock`): its loader reads botocore's
    endpoint rules and service models once, not once per client, which a cold start feels."""
    global _shared_session
    if _shared_session is None:
        import boto3

        _shared_session = boto3.session.Session()
    return _shared_session


_shared_session: Any = None


def client(service: str, settings: Settings) -> BaseClient:
    key = (service, settings.region, settings.endpoint_for(service))
    cached = _clients.get(key)
    if cached is not None:
        return cached
    with _lock:
        if key not in _clients:
            from botocore.config import Config

            config = Config(
                retries={"mode": "standard", "max_attempts": 3},
                connect_timeout=5,
                read_timeout=30,
                max_pool_connections=32,
            )
            _clients[key] = _made(
                _session().client(
                    service,  # type: ignore[call-overload]
                    region_name=settings.region,
                    endpoint_url=settings.endpoint_for(service),
                    config=config,
                    **_credentials(settings.endpoint_for(service)),
                )
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
            _clients[key] = _made(
                _session().resource(
                    service,  # type: ignore[call-overload]
                    region_name=settings.region,
                    endpoint_url=settings.endpoint_for(service),
                    **_credentials(settings.endpoint_for(service)),
                )
            )
        return _clients[key]


def reset() -> None:
    """Forget every client (tests that start a fresh moto call this)."""
    global _shared_session
    with _lock:
        _clients.clear()
        _shared_session = None
