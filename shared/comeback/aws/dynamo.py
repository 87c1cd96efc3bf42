"""Small helpers between plain Python values and DynamoDB's typed JSON (low-level client)."""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from botocore.exceptions import ClientError

_serializer: Any = None
_deserializer: Any = None


def _codecs() -> tuple[Any, Any]:
    global _serializer, _deserializer
    if _serializer is None:
        from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

        _serializer, _deserializer = TypeSerializer(), TypeDeserializer()
    return _serializer, _deserializer


def _prepare(value: Any) -> Any:
    """Floats become Decimals (DynamoDB has no float); empty sets are dropped (it has no empty set)."""
    if isinstance(value, float):
        return Decimal(str(value))
    if isinstance(value, dict):
        return {k: _prepare(v) for k, v in value.items() if not (isinstance(v, set) and not v)}
    if isinstance(value, list | tuple):
        return [_prepare(v) for v in value]
    return value


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, set):
        return {_plain(v) for v in value}
    return value


def value(python: Any) -> dict[str, Any]:
    serializer, _ = _codecs()
    return serializer.serialize(_prepare(python))  # type: ignore[no-any-return]


def item(python: dict[str, Any]) -> dict[str, Any]:
    serializer, _ = _codecs()
    prepared = _prepare(python)
    return {k: serializer.serialize(v) for k, v in prepared.items() if v is not None}


def plain(typed: dict[str, Any]) -> dict[str, Any]:
    _, deserializer = _codecs()
    return {k: _plain(deserializer.deserialize(v)) for k, v in typed.items()}


def error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def cancellation_reasons(exc: ClientError) -> list[dict[str, Any]]:
    """Per-item reasons of a cancelled transaction (in TransactItems order)."""
    reasons: list[dict[str, Any]] = exc.response.get("CancellationReasons") or []  # type: ignore[assignment]
    return list(reasons)


def failed_condition(reason: dict[str, Any]) -> bool:
    return reason.get("Code") == "ConditionalCheckFailed"
