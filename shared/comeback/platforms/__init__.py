"""Platform adapters: Shopify, WooCommerce and Segment webhooks turned into our canonical events.

Each adapter module is pure (no I/O, no clock, no globals) and offers the same three functions:

    verify(secret, body, headers) -> bool            # the platform's own HMAC, constant-time
    delivery_id(headers, payload) -> str | None      # the platform's id for this delivery
    to_events(headers, payload) -> list[dict]        # canonical event dicts (docs/events.md)

`to_events` returns an empty list for topics we ignore and for anonymous browsing (a cart or a
product view nobody can be named for); it raises `AdapterError` when a payload is JSON but cannot
be used (an order without id, an order nobody can be named for, ...), which the caller turns into a
per-event rejection. Events are returned as plain dicts shaped for `comeback.events.parse_event`;
the caller validates them (so one odd event is rejected on its own, not its whole delivery).

Event ids are stable for retries and derived from the platform's object ids wherever a platform
re-sends the same object, so the same order seen twice is one event (each module documents its
scheme). Ids that arrive as JSON integers (Shopify's exceed 2**53) are kept exact as strings; an id
that arrives as a float was already rounded by whoever parsed it, so it is refused.

This package module also holds the small helpers the three adapters share.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import re
import zoneinfo
from collections.abc import Mapping
from datetime import UTC, date, datetime
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from types import ModuleType
from typing import Any

from pydantic import EmailStr, TypeAdapter, ValidationError

from comeback.domain.money import MoneyError, exponent

PLATFORMS = ("shopify", "woocommerce", "segment")


class AdapterError(ValueError):
    """The payload is JSON but cannot become events (missing ids, nobody to attach it to, ...)."""


def adapter(platform: str) -> ModuleType:
    """The adapter module for `platform` ("shopify", "woocommerce" or "segment")."""
    if platform not in PLATFORMS:
        raise KeyError(f"unknown platform {platform!r}; expected one of {', '.join(PLATFORMS)}")
    return importlib.import_module(f"{__name__}.{platform}")


# --- headers ---------------------------------------------------------------------------------


def header(headers: Mapping[str, str], name: str) -> str | None:
    """A header value by case-insensitive name (HTTP/2 and API Gateway lower-case them)."""
    wanted = name.lower()
    for key, value in headers.items():
        if isinstance(key, str) and key.lower() == wanted:
            return value if isinstance(value, str) else None
    return None


# --- ids and text ----------------------------------------------------------------------------


def object_id(value: Any, what: str = "id") -> str | None:
    """A platform id as an exact string: ints (any size) and strings; None for missing/0/''.

    A float means the JSON went through a float parser and an id above 2**53 may already be
    wrong, so it is refused rather than guessed.
    """
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int):
        return str(value) if value != 0 else None
    if isinstance(value, float):
        raise AdapterError(f"{what} arrived as a float ({value!r}); ids must be parsed exactly")
    if isinstance(value, str):
        stripped = value.strip()
        return stripped if stripped and stripped != "0" else None
    return None


def text(value: Any, limit: int = 512) -> str | None:
    """A non-empty, stripped string (numbers are written out), cut to `limit` characters."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | Decimal):
        value = str(value)
    if not isinstance(value, str):
        return None
    stripped = re.sub(r"[\x00-\x1f\x7f]", " ", value).strip()
    return stripped[:limit] or None


_EMAIL: TypeAdapter[str] = TypeAdapter(EmailStr)


def email(value: Any) -> str | None:
    """A valid, lower-cased email address, or None (an invalid address is dropped, not fatal)."""
    raw = text(value, 254)
    if raw is None:
        return None
    try:
        return _EMAIL.validate_python(raw).lower()
    except ValidationError:
        return None


def customer_ref(customer_id: str | None, address: str | None) -> dict[str, str] | None:
    ref = {k: v for k, v in (("id", customer_id), ("email", address)) if v}
    return ref or None


def compact(values: Mapping[str, Any]) -> dict[str, Any]:
    """The mapping without None values, empty strings, empty dicts and empty lists."""
    return {k: v for k, v in values.items() if v is not None and v not in ("", {}, [])}


def obj(value: Any) -> dict[str, Any]:
    """The value when it is a JSON object, else an empty dict (payloads are untrusted)."""
    return value if isinstance(value, dict) else {}


MAX_ID = 128  # comeback.events.Id


def bounded_id(event_id: str) -> str:
    """The id itself, or (when over the model's 128 characters) its head plus a digest."""
    if len(event_id) <= MAX_ID:
        return event_id
    return f"{event_id[:80]}~{hashlib.sha256(event_id.encode()).hexdigest()[:40]}"


def stable_hash(value: Any) -> str:
    """A short digest of a JSON value, the same for every retry of the same content."""
    canonical = json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()[:32]


# --- time ------------------------------------------------------------------------------------


def _parse_datetime(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        return datetime.fromisoformat(value.strip().replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        return None


def instant(value: Any) -> str | None:
    """An ISO 8601 timestamp that carries an offset, normalised to UTC; None otherwise."""
    parsed = _parse_datetime(value)
    if parsed is None or parsed.utcoffset() is None:
        return None
    return parsed.astimezone(UTC).isoformat()


def gmt_instant(value: Any) -> str | None:
    """A timestamp the platform documents as GMT but sends without offset (WooCommerce `*_gmt`)."""
    parsed = _parse_datetime(value)
    if parsed is None:
        return None
    if parsed.utcoffset() is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC).isoformat()


def epoch_or_instant(value: Any) -> str | None:
    """ISO 8601 with an offset, or unix seconds (milliseconds when the number is that large)."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        seconds = value / 1000 if abs(value) > 10**11 else value
        try:
            return datetime.fromtimestamp(seconds, UTC).isoformat()
        except (OverflowError, OSError, ValueError):
            return None
    return instant(value)


def birthday(value: Any) -> str | None:
    """YYYY-MM-DD (also the date part of a timestamp) or --MM-DD / MM-DD; None if not a date."""
    raw = text(value, 64)
    if raw is None:
        return None
    if re.fullmatch(r"(?:--)?\d{2}-\d{2}", raw):
        return raw
    try:
        return date.fromisoformat(raw[:10]).isoformat()
    except ValueError:
        return None


# --- money -----------------------------------------------------------------------------------


def amount(value: Any) -> str | None:
    """A non-negative decimal amount as a string, from a string, an int or a JSON float.

    Floats are read through their shortest repr (19.99 -> "19.99"), never through binary
    expansion; anything that is not a finite number gives None.
    """
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, float):
        value = repr(value)
    try:
        number = Decimal(str(value).strip())
    except InvalidOperation:
        return None
    if not number.is_finite():
        return None
    return format(number, "f")


def add(*amounts: str | None) -> str | None:
    present = [Decimal(a) for a in amounts if a is not None]
    return format(sum(present, Decimal(0)), "f") if present else None


def currency(value: Any) -> str | None:
    """An ISO 4217 code we know, upper-cased; None otherwise."""
    raw = text(value, 8)
    if raw is None or not re.fullmatch(r"[A-Za-z]{3}", raw):
        return None
    try:
        exponent(raw)
    except MoneyError:
        return None
    return raw.upper()


def unit_price(line_total: str | None, quantity: int, code: str) -> str | None:
    """A unit price derived from a line total, rounded to the currency's minor unit."""
    if line_total is None or quantity < 1:
        return None
    step = Decimal(1).scaleb(-exponent(code))
    return format((Decimal(line_total) / quantity).quantize(step, rounding=ROUND_HALF_EVEN), "f")


def quantity(value: Any) -> int:
    """A line quantity (>= 1 when usable, 0 when not)."""
    if isinstance(value, bool):
        return 0
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return 0


# --- profile fields --------------------------------------------------------------------------


def country(value: Any) -> str | None:
    raw = text(value, 8)
    return raw.upper() if raw and re.fullmatch(r"[A-Za-z]{2}", raw) else None


def locale(value: Any) -> str | None:
    raw = text(value, 32)
    if raw and re.fullmatch(r"[A-Za-z]{2,3}([-_][A-Za-z0-9]{2,8})*", raw):
        head, *rest = re.split(r"([-_])", raw, maxsplit=1)
        return head.lower() + "".join(rest)
    return None


def timezone(value: Any) -> str | None:
    raw = text(value, 64)
    if raw is None:
        return None
    try:
        zoneinfo.ZoneInfo(raw)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return None
    return raw


def url(value: Any) -> str | None:
    raw = text(value, 2048)
    return raw if raw and re.match(r"https?://", raw) else None


def tag_list(value: Any) -> list[str] | None:
    """Tags from a list or a comma-separated string (Shopify); None when absent."""
    if isinstance(value, str):
        items: list[Any] = value.split(",")
    elif isinstance(value, list):
        items = value
    else:
        return None
    tags = [t for t in (text(item) for item in items) if t]
    return tags[:100]
