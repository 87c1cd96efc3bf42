"""Parsing request bodies we did not write: JSON with limits, so hostile input is a 400, not a 500.

The standard `json` module accepts things that break us later: nesting deep enough to exceed
pydantic's serialisation depth (or the interpreter's recursion limit), integers of thousands of
digits and floats such as `1e400` (DynamoDB stores at most 38 significant digits, in magnitudes
1e-130 to 1e126; anything else fails the contact write and lands in the dead-letter queue), the
non-standard `NaN` and `Infinity`, and duplicate keys (two parsers reading the same signed body
could disagree on which value counts). `loads` refuses all of them with `UnsafeJson`, whose
message is fit to send back to the shop.
"""

from __future__ import annotations

import json
import re
from decimal import Decimal, InvalidOperation
from typing import Any

# Deep enough for every real payload (Shopify's orders are about 6 levels deep), shallow enough
# that nothing downstream recurses anywhere near its limits.
MAX_DEPTH = 32
# DynamoDB's number precision: a number with more significant digits cannot be stored exactly.
MAX_DIGITS = 38
# DynamoDB's number range (positive or negative); zero is always allowed.
MAX_EXPONENT = 125
MIN_EXPONENT = -130

# A JSON string (escapes included) or a bracket: what the depth check has to look at.
_TOKENS = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"|[\[\]{}]')


class UnsafeJson(ValueError):
    """The body is not JSON we accept; the message says why, in a line."""


def loads(data: bytes | str, max_depth: int = MAX_DEPTH) -> Any:
    """Parse a JSON document (UTF-8 if bytes) within the limits above."""
    if isinstance(data, bytes | bytearray):
        try:
            text = bytes(data).decode("utf-8")
        except UnicodeDecodeError:
            raise UnsafeJson("body is not UTF-8") from None
    else:
        text = data
    _check_depth(text, max_depth)
    try:
        return json.loads(
            text,
            parse_int=_integer,
            parse_float=_float,
            parse_constant=_constant,
            object_pairs_hook=_object,
        )
    except UnsafeJson:
        raise
    except (json.JSONDecodeError, RecursionError, ValueError):
        raise UnsafeJson("body is not JSON") from None


def _check_depth(text: str, max_depth: int) -> None:
    """Refuse deep nesting before the (recursive) parser sees it; strings are skipped whole."""
    depth = 0
    for match in _TOKENS.finditer(text):
        token = match.group()
        if token in "[{":
            depth += 1
            if depth > max_depth:
                raise UnsafeJson(f"JSON nested deeper than {max_depth} levels")
        elif token in "]}":
            depth -= 1


def _integer(text: str) -> int:
    # checked on the text, before int(): Python itself refuses beyond 4,300 digits with a
    # ValueError that is not a JSONDecodeError
    digits = len(text.lstrip("-").lstrip("0")) or 1
    if digits > MAX_DIGITS:
        raise UnsafeJson(f"integer with more than {MAX_DIGITS} digits")
    return int(text)


def _float(text: str) -> float:
    try:
        number = Decimal(text)
    except InvalidOperation:  # pragma: no cover - the scanner only hands us JSON numbers
        raise UnsafeJson("body is not JSON") from None
    if number and not MIN_EXPONENT <= number.adjusted() <= MAX_EXPONENT:
        raise UnsafeJson(f"number {text[:20]}... out of range (1e{MIN_EXPONENT} to 1e{MAX_EXPONENT + 1})")
    # precision needs no check: float() keeps 17 significant digits, which DynamoDB stores exactly
    return float(text)


def _constant(name: str) -> Any:
    raise UnsafeJson(f"{name} is not JSON")


def _object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise UnsafeJson(f"duplicate key {key[:64]!r}")
        result[key] = value
    return result
