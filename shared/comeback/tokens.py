"""Signed unsubscribe tokens: who (shop, contact), for which message, issued when.

`base64url(payload).base64url(HMAC-SHA256(key, payload))`. The key is a Secrets Manager secret
read through Powertools Parameters. A token is good for a year (CAN-SPAM asks for 30 days at
least; a link in an old email should still work); a forged or altered token is refused.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from comeback.clock import Clock
from comeback.settings import Settings

VALID_FOR = timedelta(days=365)


class BadToken(ValueError):
    pass


@dataclass(frozen=True)
class Subscription:
    shop_id: str
    contact_id: str
    message_key: str | None
    issued_at: int


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class TokenSigner:
    def __init__(self, key: Callable[[], bytes], clock: Clock) -> None:
        self._key = key
        self._clock = clock

    def issue(self, shop_id: str, contact_id: str, message_key: str | None = None) -> str:
        payload = {"s": shop_id, "c": contact_id, "t": int(self._clock.now().timestamp())}
        if message_key:
            payload["m"] = message_key
        body = json.dumps(payload, separators=(",", ":")).encode()
        return f"{_b64(body)}.{_b64(self._mac(body))}"

    def read(self, token: str) -> Subscription:
        body_part, _, mac_part = token.partition(".")
        try:
            body, mac = _unb64(body_part), _unb64(mac_part)
        except (binascii.Error, ValueError):
            raise BadToken("malformed token") from None
        if not body or not hmac.compare_digest(mac, self._mac(body)):
            raise BadToken("token signature does not match")
        try:
            payload = json.loads(body)
            subscription = Subscription(
                str(payload["s"]), str(payload["c"]), payload.get("m"), int(payload["t"])
            )
        except (ValueError, KeyError, TypeError):
            raise BadToken("malformed token payload") from None
        if self._clock.now().timestamp() - subscription.issued_at > VALID_FOR.total_seconds():
            raise BadToken("token expired")
        return subscription

    def _mac(self, body: bytes) -> bytes:
        return hmac.new(self._key(), body, hashlib.sha256).digest()


def key_source(settings: Settings) -> Callable[[], bytes]:
    """The signing key from Secrets Manager, cached by one Powertools provider per container."""
    from aws_lambda_powertools.utilities.parameters import SecretsProvider

    from comeback import aws

    provider = SecretsProvider(boto3_client=aws.client("secretsmanager", settings))  # type: ignore[arg-type]

    def key() -> bytes:
        value = provider.get(settings.token_key_secret, max_age=max(settings.secret_cache_seconds, 60))
        if isinstance(value, str):
            return value.encode()
        if isinstance(value, bytes):
            return value
        raise ValueError(f"secret {settings.token_key_secret} holds no key")

    return key
