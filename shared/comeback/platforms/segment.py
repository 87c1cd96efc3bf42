"""Segment-spec messages (identify and track, one at a time or batched) -> canonical events.

What the docs say (segmentio/segment-docs, now also on twilio.com/docs/segment):

- Signature: with a shared secret set, the Webhooks destination "will sign your requests using the
  shared secret and the body of the request, and add that as the `X-Signature` header. We calculate
  a SHA1 digest using the shared secret and the JSON-stringified body of the request" (example:
  `crypto.createHmac('sha1', sharedSecret).update(body).digest('hex')`):
  src/connections/destinations/catalog/webhooks/index.md ("Authentication"). The Webhooks (Actions)
  destination says the same: "an HMAC in the X-Signature request header ... a hex-encoded SHA1
  hash generated using the shared secret and the request body"
  (src/connections/destinations/catalog/actions-webhook/index.md). `verify` checks the hex
  HMAC-SHA1 of the raw body, case-insensitively, in constant time.
- Bodies: one message, `{"batch": [...]}` (HTTP API /v1/batch, whose top-level `context` applies to
  every message) or a JSON array (Webhooks (Actions) with batching on).
- identify: `userId` and `traits`; reserved traits (src/connections/spec/identify.md) may be
  camelCase or snake_case: email, firstName/first_name, lastName/last_name, birthday,
  createdAt/created_at, address{street, city, state, postalCode, country}, ...
- track: `event` and `properties`; e-commerce v2 (src/connections/spec/ecommerce/v2.md):
  Order Completed {order_id, total, revenue, subtotal, shipping, coupon, currency, products[]},
  Order Refunded {order_id, total?, currency?, products[]}, Product Viewed {product_id, sku, name,
  category, price, currency, url, image_url}, Product Added {cart_id, product...}, Cart Viewed
  {cart_id, products[]}, Checkout Started {order_id, value, revenue, currency, products[]}. Without
  `currency`, "we assume the revenue to be in US dollars" (src/connections/spec/track.md), so USD
  is the default here too. The v1 names Completed Order, Viewed Product, Added Product and the
  Started Order alias are accepted; names compare case-insensitively.

Mapping: identify -> customer.updated; Order Completed -> order.placed; Order Refunded ->
order.refunded; Product Viewed -> product.viewed; Product Added and Cart Viewed -> cart.updated
(Product Added carries only the added product, flagged `partial` in data attributes); Checkout
Started -> checkout.started; page, screen, group, alias and every other track event -> [].

Customer: `userId` is the customer id; the email is `traits.email` (identify) or
`context.traits.email`. A message with neither (only an `anonymousId`) cannot be attached to
anybody: anonymous browsing (product views, carts, checkouts) gives [], while an anonymous identify,
order or refund raises `AdapterError` so the loss is visible.

Event ids: `segment:<messageId>` (libraries resend the same messageId on retry); messages without
a messageId use `segment:h:<digest of the message>`. Order Completed uses `segment:order:<order_id>`
instead, because pages that fire it twice (a reloaded thank-you page) must not count an order
twice. `delivery_id` is the messageId of a single message, None for a batch (each message's event
id carries the dedupe). A batch maps message by message; `messages(payload)` splits one so a
caller can map and reject messages one at a time.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any

from comeback.platforms import (
    AdapterError,
    add,
    amount,
    birthday,
    bounded_id,
    compact,
    country,
    currency,
    customer_ref,
    email,
    epoch_or_instant,
    header,
    instant,
    locale,
    obj,
    object_id,
    quantity,
    stable_hash,
    text,
    timezone,
    url,
)

SOURCE = "segment"
DEFAULT_CURRENCY = "USD"


def verify(secret: str, body: bytes, headers: Mapping[str, str]) -> bool:
    """True when `X-Signature` is hex(HMAC-SHA1(secret, body))."""
    sent = header(headers, "X-Signature")
    if not secret or not sent:
        return False
    expected = hmac.new(secret.encode(), body, hashlib.sha1).hexdigest()
    return hmac.compare_digest(expected.encode(), sent.strip().lower().encode("utf-8", "replace"))


def messages(payload: Any) -> list[dict[str, Any]]:
    """The messages of a body: a single message, {"batch": [...]} or a JSON array."""
    if isinstance(payload, list):
        batch, shared = payload, {}
    elif isinstance(payload, dict) and isinstance(payload.get("batch"), list):
        batch = payload["batch"]
        shared = obj(payload.get("context"))
    elif isinstance(payload, dict):
        return [payload]
    else:
        raise AdapterError('expected a Segment message, a {"batch": [...]} object or an array')
    out = []
    for index, message in enumerate(batch):
        if not isinstance(message, dict):
            raise AdapterError(f"batch[{index}]: expected a JSON object")
        if shared:
            message = {**message, "context": {**shared, **obj(message.get("context"))}}  # noqa: PLW2901
        out.append(message)
    return out


def delivery_id(headers: Mapping[str, str], payload: Any) -> str | None:
    """The messageId of a single message; None for a batch."""
    if isinstance(payload, dict) and "batch" not in payload:
        return text(payload.get("messageId"), 128)
    return None


def to_events(headers: Mapping[str, str], payload: Any) -> list[dict[str, Any]]:
    batch = messages(payload)
    events: list[dict[str, Any]] = []
    for index, message in enumerate(batch):
        try:
            events.extend(_message_events(message))
        except AdapterError as exc:
            if len(batch) == 1:
                raise
            raise AdapterError(f"batch[{index}]: {exc}") from None
    return events


# --- one message -----------------------------------------------------------------------------


def _event_id(message: dict[str, Any]) -> str:
    message_id = text(message.get("messageId"), 100)
    return f"segment:{message_id}" if message_id else f"segment:h:{stable_hash(message)}"


def _occurred(message: dict[str, Any]) -> str:
    for field in ("timestamp", "originalTimestamp", "sentAt", "receivedAt"):
        when = instant(message.get(field))
        if when:
            return when
    raise AdapterError("the message has no timestamp")


def _traits(message: dict[str, Any]) -> dict[str, Any]:
    context = obj(message.get("context"))
    traits = obj(context.get("traits"))
    own = obj(message.get("traits"))
    return {**traits, **own}


def _ref(message: dict[str, Any]) -> dict[str, str] | None:
    traits = _traits(message)
    return customer_ref(object_id(message.get("userId"), "userId"), email(traits.get("email")))


def _event(
    message: dict[str, Any], kind: str, ref: dict[str, str], data: dict[str, Any], event_id: str | None = None
) -> dict[str, Any]:
    attributes = compact(
        {
            "source": SOURCE,
            "segment_type": text(message.get("type")),
            "segment_event": text(message.get("event")),
            "anonymous_id": text(message.get("anonymousId"), 128),
        }
    )
    return {
        "id": bounded_id(event_id or _event_id(message)),
        "type": kind,
        "occurred_at": _occurred(message),
        "customer": ref,
        "data": data,
        "attributes": attributes,
    }


def _message_events(message: dict[str, Any]) -> list[dict[str, Any]]:
    kind = (text(message.get("type")) or "").lower()
    if kind == "identify":
        return _identify(message)
    if kind != "track":
        return []
    name = (text(message.get("event")) or "").casefold()
    handler = _TRACKS.get(name)
    if handler is None:
        return []
    properties = obj(message.get("properties"))
    return handler(message, properties)


_MAPPED_TRAITS = {
    "email",
    "firstName",
    "first_name",
    "lastName",
    "last_name",
    "birthday",
    "createdAt",
    "created_at",
    "address",
}


def _identify(message: dict[str, Any]) -> list[dict[str, Any]]:
    ref = _ref(message)
    if ref is None:
        raise AdapterError("identify without userId or traits.email")
    traits = obj(message.get("traits"))
    context = obj(message.get("context"))
    address_in = obj(traits.get("address"))
    address = compact(
        {
            "line1": text(address_in.get("street")),
            "city": text(address_in.get("city")),
            "region": text(address_in.get("state")),
            "postal_code": text(address_in.get("postalCode")) or text(address_in.get("postal_code")),
            "country": country(address_in.get("country")),
            # a country that is not an ISO alpha-2 code ("USA") is kept as written
            "country_name": None if country(address_in.get("country")) else text(address_in.get("country")),
        }
    )
    raw_birthday = traits.get("birthday")
    data = compact(
        {
            "email": ref.get("email"),
            "first_name": text(traits.get("firstName")) or text(traits.get("first_name")),
            "last_name": text(traits.get("lastName")) or text(traits.get("last_name")),
            "birthday": birthday(raw_birthday),
            "signed_up_at": epoch_or_instant(
                traits.get("createdAt") if "createdAt" in traits else traits.get("created_at")
            ),
            "locale": locale(context.get("locale")),
            "timezone": timezone(context.get("timezone")),
            "address": address or None,
        }
    )
    extra = {k: v for k, v in traits.items() if k not in _MAPPED_TRAITS and v is not None}
    if raw_birthday is not None and "birthday" not in data:
        extra["birthday_raw"] = raw_birthday
    if extra:
        data["attributes"] = extra
    return [_event(message, "customer.updated", ref, data)]


# --- e-commerce ------------------------------------------------------------------------------


def _money(properties: dict[str, Any], *fields: str) -> str | None:
    for field in fields:
        value = amount(properties.get(field))
        if value is not None:
            return value
    return None


def _code(properties: dict[str, Any]) -> str:
    raw = properties.get("currency")
    if raw in (None, ""):
        return DEFAULT_CURRENCY
    code = currency(raw)
    if code is None:
        raise AdapterError(f"unknown currency {raw!r}")
    return code


def _product(product: dict[str, Any]) -> dict[str, Any] | None:
    product_id = object_id(product.get("product_id"), "product_id") or text(product.get("sku"), 128)
    price = amount(product.get("price"))
    count = quantity(product.get("quantity", 1))
    if product_id is None or price is None or count < 1:
        return None
    return compact(
        {
            "product_id": product_id,
            "sku": text(product.get("sku")),
            "name": text(product.get("name")),
            "category": text(product.get("category")),
            "price": price,
            "quantity": count,
            "brand": text(product.get("brand")),
            "variant": text(product.get("variant")),
            "url": text(product.get("url"), 2048),
            "image_url": text(product.get("image_url"), 2048),
        }
    )


def _products(properties: dict[str, Any]) -> list[dict[str, Any]]:
    items = (_product(p) for p in properties.get("products") or [] if isinstance(p, dict))
    return [item for item in items if item is not None][:500]


def _products_total(items: list[dict[str, Any]]) -> str | None:
    return add(*(format(Decimal(i["price"]) * i["quantity"], "f") for i in items))


def _order_id(properties: dict[str, Any], what: str) -> str:
    order_id = object_id(properties.get("order_id"), "order_id")
    if order_id is None:
        raise AdapterError(f"{what} without properties.order_id")
    return order_id


def _order_completed(message: dict[str, Any], properties: dict[str, Any]) -> list[dict[str, Any]]:
    ref = _ref(message)
    if ref is None:
        raise AdapterError("Order Completed without userId or email")
    order_id = _order_id(properties, "Order Completed")
    items = _products(properties)
    total = _money(properties, "total", "revenue", "value") or _products_total(items)
    if total is None:
        raise AdapterError(f"Order Completed {order_id} without total or revenue")
    coupon = text(properties.get("coupon"))
    data = compact(
        {
            "order_id": order_id,
            "total": total,
            "currency": _code(properties),
            "subtotal": _money(properties, "subtotal"),
            "shipping": _money(properties, "shipping"),
            "items": items,
            "discount_codes": [coupon] if coupon else None,
            "checkout_id": text(properties.get("checkout_id"), 128),
            "revenue": _money(properties, "revenue"),
            "tax": _money(properties, "tax"),
            "discount": _money(properties, "discount"),
            "affiliation": text(properties.get("affiliation")),
        }
    )
    return [_event(message, "order.placed", ref, data, f"segment:order:{order_id}")]


def _order_refunded(message: dict[str, Any], properties: dict[str, Any]) -> list[dict[str, Any]]:
    ref = _ref(message)
    if ref is None:
        raise AdapterError("Order Refunded without userId or email")
    order_id = _order_id(properties, "Order Refunded")
    refunded = _money(properties, "total", "revenue", "value") or _products_total(_products(properties))
    if refunded is None:
        raise AdapterError(f"Order Refunded {order_id} without total or products")
    data = compact(
        {
            "order_id": order_id,
            "amount": refunded,
            "currency": _code(properties),
            "reason": text(properties.get("reason")),
        }
    )
    return [_event(message, "order.refunded", ref, data)]


def _product_viewed(message: dict[str, Any], properties: dict[str, Any]) -> list[dict[str, Any]]:
    ref = _ref(message)
    if ref is None:
        return []
    product_id = object_id(properties.get("product_id"), "product_id") or text(properties.get("sku"), 128)
    if product_id is None:
        raise AdapterError("Product Viewed without product_id or sku")
    price = amount(properties.get("price"))
    data = compact(
        {
            "product_id": product_id,
            "sku": text(properties.get("sku")),
            "name": text(properties.get("name")),
            "category": text(properties.get("category")),
            "price": price,
            "currency": _code(properties) if price is not None else None,
            "url": url(properties.get("url")),
            "image_url": url(properties.get("image_url")),
            "brand": text(properties.get("brand")),
            "variant": text(properties.get("variant")),
        }
    )
    return [_event(message, "product.viewed", ref, data)]


def _cart(
    message: dict[str, Any], properties: dict[str, Any], items: list[dict[str, Any]], partial: bool
) -> list[dict[str, Any]]:
    ref = _ref(message)
    if ref is None:
        return []
    data = compact(
        {
            "cart_id": text(properties.get("cart_id"), 128),
            "currency": _code(properties),
            "items": items,
            "total": None if partial else _products_total(items),
            "partial": True if partial else None,
        }
    )
    return [_event(message, "cart.updated", ref, data)]


def _product_added(message: dict[str, Any], properties: dict[str, Any]) -> list[dict[str, Any]]:
    item = _product(properties)
    return _cart(message, properties, [item] if item else [], partial=True)


def _cart_viewed(message: dict[str, Any], properties: dict[str, Any]) -> list[dict[str, Any]]:
    return _cart(message, properties, _products(properties), partial=False)


def _checkout_started(message: dict[str, Any], properties: dict[str, Any]) -> list[dict[str, Any]]:
    ref = _ref(message)
    if ref is None:
        return []
    items = _products(properties)
    data = compact(
        {
            "checkout_id": text(properties.get("checkout_id"), 128)
            or object_id(properties.get("order_id"), "order_id"),
            "cart_id": text(properties.get("cart_id"), 128),
            "total": _money(properties, "value", "total", "revenue") or _products_total(items),
            "currency": _code(properties),
            "items": items,
            "coupon": text(properties.get("coupon")),
        }
    )
    return [_event(message, "checkout.started", ref, data)]


_TRACKS: dict[str, Callable[[dict[str, Any], dict[str, Any]], list[dict[str, Any]]]] = {
    "order completed": _order_completed,
    "completed order": _order_completed,
    "order refunded": _order_refunded,
    "product viewed": _product_viewed,
    "viewed product": _product_viewed,
    "product added": _product_added,
    "added product": _product_added,
    "cart viewed": _cart_viewed,
    "checkout started": _checkout_started,
    "started order": _checkout_started,
}
