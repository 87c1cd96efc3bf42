"""Standard Webhooks signatures (standardwebhooks.com), checked against the real clock.

`webhook-signature: v1,<base64 HMAC-SHA256(key, "{id}.{timestamp}.{raw body}")>`, several
space-separated signatures allowed (key rotation); the shop secret is `whsec_<base64 key>` and a
shop may have several secrets at once (during rotation). The official `standardwebhooks` library
signs exactly this way (our tests check both directions); we do the checking ourselves because the
library reads the wall clock (the local runtime moves time) and raises on malformed headers
instead of refusing them.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
from collections.abc import Iterable, Mapping
from datetime import datetime

SECRET_PREFIX = "whsec_"


class SignatureError(Exception):
    """Why a request was refused; the HTTP answer is the same 401 whatever the reason."""


def decode_secret(secret: str) -> bytes:
    body = secret.removeprefix(SECRET_PREFIX)
    try:
        key = base64.b64decode(body + "=" * (-len(body) % 4), validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("a webhook secret is whsec_ followed by base64") from None
    if not key:
        raise ValueError("a webhook secret cannot be empty")
    return key


def new_secret(nbytes: int = 32) -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(nbytes)).decode()


def sign(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """The `v1,<sig>` value for one secret (what a shop's library sends)."""
    mac = hmac.new(decode_secret(secret), f"{msg_id}.{timestamp}.".encode() + body, hashlib.sha256)
    return "v1," + base64.b64encode(mac.digest()).decode()


def signed_headers(secret: str, body: bytes, msg_id: str, timestamp: int) -> dict[str, str]:
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": sign(secret, msg_id, timestamp, body),
    }


def verify(
    secrets_: Iterable[str],
    headers: Mapping[str, str],
    body: bytes,
    now: datetime,
    tolerance_seconds: int = 300,
) -> str:
    """Check the request against any of the shop's secrets; returns the webhook id.

    Every comparison is constant-time, and every candidate signature is compared against every
    secret, so timing does not tell which part matched.
    """
    lowered = {k.lower(): v for k, v in headers.items()}
    msg_id = lowered.get("webhook-id", "")
    stamp = lowered.get("webhook-timestamp", "")
    header = lowered.get("webhook-signature", "")
    if not (msg_id and stamp and header):
        raise SignatureError("missing webhook-id, webhook-timestamp or webhook-signature")
    if not stamp.isdigit() or len(stamp) > 12:
        raise SignatureError("webhook-timestamp is not unix seconds")
    # whole seconds on both sides, so the window is symmetric: -300 s and +300 s are both inside
    if abs(int(now.timestamp()) - int(stamp)) > tolerance_seconds:
        raise SignatureError("webhook-timestamp is outside the tolerance")

    offered: list[bytes] = []
    for part in header.split():
        version, _, value = part.partition(",")
        if version != "v1" or not value:
            continue
        try:
            offered.append(base64.b64decode(value, validate=True))
        except (binascii.Error, ValueError):
            continue
    if not offered:
        raise SignatureError("no v1 signature in webhook-signature")

    signed = f"{msg_id}.{stamp}.".encode() + body
    matched = False
    for secret in secrets_:
        expected = hmac.new(decode_secret(secret), signed, hashlib.sha256).digest()
        for candidate in offered:
            matched |= hmac.compare_digest(expected, candidate)
    if not matched:
        raise SignatureError("no signature matches a secret of this shop")
    return msg_id
