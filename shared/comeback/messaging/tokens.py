"""Signed link tokens: who (shop, contact), for which message, issued when, and for what.

`base64url(payload).base64url(HMAC-SHA256(key, payload))`. The key is a Secrets Manager secret
read through Powertools Parameters. A token is good for a year (CAN-SPAM asks for 30 days at
least; a link in an old email should still work); a forged or altered token is refused.

A token has one purpose (`Purpose`): an unsubscribe token cannot answer "why did you leave" and a
reason token cannot unsubscribe. Unsubscribe tokens carry no purpose field, so the links in every
email sent before purposes existed keep working; any other purpose is written into the payload
(and so covered by the signature).
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
from typing import Literal

from comeback.app.settings import Settings
from comeback.domain.clock import Clock

VALID_FOR = timedelta(days=365)

Purpose = Literal["unsubscribe", "reason", "score"]
UNSUBSCRIBE: Purpose = "unsubscribe"
REASON: Purpose = "reason"
# an NPS email's one-click score links: the score itself is signed (`value`), one token per score
SCORE: Purpose = "score"


class BadToken(ValueError):
    pass


@dataclass(frozen=True)
class Subscription:
    shop_id: str
    contact_id: str
    message_key: str | None
    issued_at: int
    value: str | None = None  # what the link answers, when the token signs it (a score)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class TokenSigner:
    def __init__(self, key: Callable[[], bytes], clock: Clock) -> None:
        self._key = key
        self._clock = clock

    def issue(
        self,
        shop_id: str,
        contact_id: str,
        message_key: str | None = None,
        purpose: Purpose = UNSUBSCRIBE,
        value: str | None = None,
    ) -> str:
        payload: dict[str, str | int] = {
            "s": shop_id,
            "c": contact_id,
            "t": int(self._clock.now().timestamp()),
        }
        if message_key:
            payload["m"] = message_key
        if purpose != UNSUBSCRIBE:
            payload["p"] = purpose
        if value is not None:
            payload["v"] = value
        body = json.dumps(payload, separators=(",", ":")).encode()
        return f"{_b64(body)}.{_b64(self._mac(body))}"

    def read(self, token: str, purpose: Purpose = UNSUBSCRIBE) -> Subscription:
        body_part, _, mac_part = token.partition(".")
        try:
            body, mac = _unb64(body_part), _unb64(mac_part)
        except (binascii.Error, ValueError):
            raise BadToken("malformed token") from None
        if not body or not hmac.compare_digest(mac, self._mac(body)):
            raise BadToken("token signature does not match")
        try:
            payload = json.loads(body)
            value = payload.get("v")
            subscription = Subscription(
                str(payload["s"]),
                str(payload["c"]),
                payload.get("m"),
                int(payload["t"]),
                str(value) if value is not None else None,
            )
            made_for = payload.get("p", UNSUBSCRIBE)
        except (ValueError, KeyError, TypeError, AttributeError):
            raise BadToken("malformed token payload") from None
        if made_for != purpose:
            raise BadToken(f"a {made_for} token, not a {purpose} token")
        if self._clock.now().timestamp() - subscription.issued_at > VALID_FOR.total_seconds():
            raise BadToken("token expired")
        return subscription

    def _mac(self, body: bytes) -> bytes:
        return hmac.new(self._key(), body, hashlib.sha256).digest()


def key_source(settings: Settings) -> Callable[[], bytes]:
    """The signing key, a SecureString parameter in SSM Parameter Store, cached by one Powertools
    provider per container."""
    from aws_lambda_powertools.utilities.parameters import SSMProvider

    from comeback.aws import clients as aws

    provider = SSMProvider(boto3_client=aws.client("ssm", settings))  # type: ignore[arg-type]

    def key() -> bytes:
        value = provider.get(
            settings.token_key_secret, max_age=max(settings.secret_cache_seconds, 60), decrypt=True
        )
        if isinstance(value, str):
            return value.encode()
        if isinstance(value, bytes):
            return value
        raise ValueError(f"parameter {settings.token_key_secret} holds no key")

    return key
