"""WooCommerce webhooks -> canonical events.

What the docs and the source say:

- Signature: `X-WC-Webhook-Signature` is "a base64 encoded HMAC-SHA256 hash of the payload"
  (woocommerce-rest-api-docs, source/includes/wp-api-v3/_webhooks.md, "Delivery/payload");
  `WC_Webhook::generate_signature()` (woocommerce/includes/class-wc-webhook.php) computes
  `base64_encode(hash_hmac('sha256', $body, wp_specialchars_decode($secret, ENT_QUOTES), true))`
  over the exact body it sends (`trim(wp_json_encode($payload))`). Because of that
  `wp_specialchars_decode`, a secret containing `&amp;`-style entities is also tried decoded.
- Headers: `X-WC-Webhook-Topic` (e.g. `order.updated`), `-Resource`, `-Event`, `-ID`, `-Source`
  and `X-WC-Webhook-Delivery-ID` (the REST docs still say `X-WC-Delivery-ID`, the code has sent
  `X-WC-Webhook-Delivery-ID` since 3.3; both are read). The delivery id is
  `wp_hash(webhook id . time())`: a new one for every delivery, and WooCommerce does not retry
  failed deliveries (it disables the webhook after repeated failures), so deduplication must rest
  on the object ids below, not on the delivery id.
- Payloads of `order.*` and `customer.*` are "exactly the same as if requested via the REST API";
  `*.deleted` payloads are only `{"id": ...}`. Dates come in the site's timezone without offset,
  each with a `*_gmt` twin, which is used (as UTC). The legacy v3 payload format (`{"order": ...}`)
  is refused with a message asking for a WP REST API webhook.

Mapping (any other topic gives []):

- order.created, order.updated with status processing, completed or refunded -> order.placed, id
  `woocommerce:order:<id>`, plus customer.updated from the billing details, id `...:customer`.
- order.created, order.updated, any status -> order.refunded for each entry of `refunds`, id
  `woocommerce:refund:<refund id>`; status refunded without entries -> order.refunded of the
  order total, id `woocommerce:order:<id>:refunded`.
- customer.created, customer.updated -> customer.updated, id
  `woocommerce:customer:<id>:<date_modified_gmt>`.

An order is sent on every change (status, notes, ...): its id makes it one order.placed however
many updates carry it, and each refund counts once by its own id. Customer snapshots change, so
their id carries the modification time. order.deleted, order.restored and customer.deleted give []
(a deleted WordPress user is not an erasure request, and its payload is only an id).

No `order.fulfilled`: the `completed` status says little about delivery (WooCommerce completes
virtual and downloadable orders at payment, and many shops mark orders completed late or never),
and a shop that waits surveys for fulfilment should send its own `order.fulfilled` events.

Other choices: a guest order (`customer_id` 0) is attached to its billing email; the order time is
`date_created_gmt`; a refund inside an order has no date of its own, so it takes the order's
`date_modified_gmt`. Line prices are `subtotal / quantity` rounded to the currency's minor unit
(WooCommerce's own `price` is a float that may carry many decimals); names are HTML-unescaped.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import html
import re
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from comeback.platforms import (
    AdapterError,
    amount,
    bounded_id,
    compact,
    country,
    currency,
    customer_ref,
    email,
    gmt_instant,
    header,
    instant,
    obj,
    object_id,
    quantity,
    text,
    unit_price,
)

SOURCE = "woocommerce"
PLACED_STATUSES = frozenset({"processing", "completed", "refunded"})

_ENTITIES = (
    ("&lt;", "<"),
    ("&gt;", ">"),
    ("&quot;", '"'),
    ("&#034;", '"'),
    ("&#x22;", '"'),
    ("&#039;", "'"),
    ("&#39;", "'"),
    ("&#x27;", "'"),
    ("&#038;", "&"),
    ("&#x26;", "&"),
    ("&amp;", "&"),
)


def _specialchars_decode(secret: str) -> str:
    """What WordPress's wp_specialchars_decode($secret, ENT_QUOTES) does to a secret."""
    for entity, char in _ENTITIES:
        secret = secret.replace(entity, char)
    return secret


def verify(secret: str, body: bytes, headers: Mapping[str, str]) -> bool:
    """True when `X-WC-Webhook-Signature` is base64(HMAC-SHA256(secret, body))."""
    sent = header(headers, "X-WC-Webhook-Signature")
    if not secret or not sent:
        return False
    try:
        sent_digest = base64.b64decode(sent.strip(), validate=True)
    except (binascii.Error, ValueError):
        return False
    ok = False
    for key in dict.fromkeys((secret, _specialchars_decode(secret))):
        expected = hmac.new(key.encode(), body, hashlib.sha256).digest()
        ok |= hmac.compare_digest(expected, sent_digest)
    return ok


_PING = re.compile(rb"\s*webhook_id=\d{1,20}\s*")


def is_ping(headers: Mapping[str, str], body: bytes) -> bool:
    """True for the unsigned request WooCommerce sends when a webhook is saved or activated.

    `WC_Webhook::deliver_ping()` posts the form-encoded body `webhook_id=<id>` with no signature
    and no topic, and shows the shop owner an error unless the answer is 2xx; nothing to store.
    """
    return header(headers, "X-WC-Webhook-Topic") is None and _PING.fullmatch(body) is not None


def topic(headers: Mapping[str, str]) -> str:
    named = (header(headers, "X-WC-Webhook-Topic") or "").strip().lower()
    if named:
        return named
    resource = (header(headers, "X-WC-Webhook-Resource") or "").strip().lower()
    event = (header(headers, "X-WC-Webhook-Event") or "").strip().lower()
    return f"{resource}.{event}" if resource and event else ""


def delivery_id(headers: Mapping[str, str], payload: Any = None) -> str | None:
    """`X-WC-Webhook-Delivery-ID` (or the `X-WC-Delivery-ID` the REST docs name)."""
    return text(header(headers, "X-WC-Webhook-Delivery-ID"), 128) or text(
        header(headers, "X-WC-Delivery-ID"), 128
    )


def to_events(headers: Mapping[str, str], payload: Any) -> list[dict[str, Any]]:
    name = topic(headers)
    if name not in {"order.created", "order.updated", "customer.created", "customer.updated"}:
        return []
    if not isinstance(payload, dict):
        raise AdapterError(f"{name}: expected a JSON object")
    resource = name.split(".")[0]
    if set(payload) == {resource} and isinstance(payload[resource], dict):
        raise AdapterError(f"{name}: legacy API payload; set the webhook's API version to WP REST API v3")
    if resource == "order":
        return _order(name, payload)
    return _customer(name, payload)


def _event(
    name: str, event_id: str, kind: str, occurred_at: str, customer: dict[str, str], data: dict[str, Any]
) -> dict[str, Any]:
    return {
        "id": bounded_id(event_id),
        "type": kind,
        "occurred_at": occurred_at,
        "customer": customer,
        "data": data,
        "attributes": {"source": SOURCE, "topic": name},
    }


def _when(document: dict[str, Any], field: str) -> str | None:
    """`<field>_gmt` read as UTC, else `<field>` when it carries its own offset."""
    return gmt_instant(document.get(f"{field}_gmt")) or instant(document.get(field))


def _address(value: Any) -> dict[str, Any] | None:
    if not isinstance(value, dict):
        return None
    address = compact(
        {
            "line1": text(value.get("address_1")),
            "line2": text(value.get("address_2")),
            "city": text(value.get("city")),
            "region": text(value.get("state")),
            "postal_code": text(value.get("postcode")),
            "country": country(value.get("country")),
        }
    )
    return address or None


def _items(order: dict[str, Any], code: str) -> list[dict[str, Any]]:
    items = []
    for line in order.get("line_items") or []:
        if not isinstance(line, dict):
            continue
        count = quantity(line.get("quantity"))
        price = unit_price(amount(line.get("subtotal")) or amount(line.get("total")), count, code)
        if price is None:
            price = amount(line.get("price"))
        product = (
            object_id(line.get("product_id"), "product_id")
            or text(line.get("sku"), 128)
            or object_id(line.get("id"), "line item id")
        )
        if count < 1 or price is None or product is None or Decimal(price) < 0:
            continue
        name = text(line.get("name"))
        items.append(
            compact(
                {
                    "product_id": product,
                    "sku": text(line.get("sku")),
                    "name": html.unescape(name) if name else None,
                    "price": price,
                    "quantity": count,
                    "variation_id": object_id(line.get("variation_id"), "variation_id"),
                    "line_total": amount(line.get("total")),
                }
            )
        )
    return items


def _order(name: str, order: dict[str, Any]) -> list[dict[str, Any]]:
    order_id = object_id(order.get("id"), "order id")
    if order_id is None:
        raise AdapterError(f"{name}: the order has no id")
    status = (text(order.get("status")) or "").lower()
    refunds = [r for r in order.get("refunds") or [] if isinstance(r, dict)]
    placed = status in PLACED_STATUSES
    if not placed and not refunds:
        return []
    billing = obj(order.get("billing"))
    ref = customer_ref(object_id(order.get("customer_id"), "customer_id"), email(billing.get("email")))
    if ref is None:
        raise AdapterError(f"{name}: order {order_id} has no customer_id and no billing email")
    code = currency(order.get("currency"))
    if code is None:
        raise AdapterError(f"{name}: order {order_id} has no known currency")

    events: list[dict[str, Any]] = []
    if placed:
        total = amount(order.get("total"))
        occurred = _when(order, "date_created")
        if total is None or occurred is None:
            raise AdapterError(f"{name}: order {order_id} has no total or date_created_gmt")
        codes = [
            c
            for c in (
                text(line.get("code")) for line in order.get("coupon_lines") or [] if isinstance(line, dict)
            )
            if c
        ]
        data = compact(
            {
                "order_id": order_id,
                "total": total,
                "currency": code,
                "shipping": amount(order.get("shipping_total")),
                "items": _items(order, code),
                "discount_codes": codes[:50],
                "number": text(order.get("number")),
                "status": status,
                "created_via": text(order.get("created_via")),
                "payment_method": text(order.get("payment_method")),
                "paid_at": _when(order, "date_paid"),
            }
        )
        events.append(_event(name, f"woocommerce:order:{order_id}", "order.placed", occurred, ref, data))
        profile = compact(
            {
                "first_name": text(billing.get("first_name")),
                "last_name": text(billing.get("last_name")),
                "address": _address(billing),
            }
        )
        if profile:
            profile = compact({"email": ref.get("email"), **profile, "phone": text(billing.get("phone"))})
            events.append(
                _event(
                    name, f"woocommerce:order:{order_id}:customer", "customer.updated", occurred, ref, profile
                )
            )

    if refunds or status == "refunded":
        events.extend(_refunds(name, order, order_id, status, refunds, ref, code))
    return events


def _refunds(
    name: str,
    order: dict[str, Any],
    order_id: str,
    status: str,
    refunds: list[dict[str, Any]],
    ref: dict[str, str],
    code: str,
) -> list[dict[str, Any]]:
    """One order.refunded per refund entry; a `refunded` order without entries refunds its total."""
    modified = _when(order, "date_modified") or _when(order, "date_created")
    if modified is None:
        raise AdapterError(f"{name}: order {order_id} has no date_modified_gmt to date its refunds")
    events = []
    for refund in refunds:
        refund_id = object_id(refund.get("id"), "refund id")
        value = amount(refund.get("total"))
        if refund_id is None or value is None:
            raise AdapterError(f"{name}: a refund of order {order_id} has no id or total")
        data = compact(
            {
                "order_id": order_id,
                "amount": format(abs(Decimal(value)), "f"),
                "currency": code,
                "reason": text(refund.get("reason")),
                "refund_id": refund_id,
            }
        )
        events.append(_event(name, f"woocommerce:refund:{refund_id}", "order.refunded", modified, ref, data))
    if status == "refunded" and not refunds:
        total = amount(order.get("total"))
        if total is None:
            raise AdapterError(f"{name}: refunded order {order_id} has no total")
        data = {"order_id": order_id, "amount": total, "currency": code}
        events.append(
            _event(name, f"woocommerce:order:{order_id}:refunded", "order.refunded", modified, ref, data)
        )
    return events


def _customer(name: str, customer: dict[str, Any]) -> list[dict[str, Any]]:
    customer_id = object_id(customer.get("id"), "customer id")
    if customer_id is None:
        raise AdapterError(f"{name}: the customer has no id")
    billing = obj(customer.get("billing"))
    ref = customer_ref(customer_id, email(customer.get("email")) or email(billing.get("email")))
    assert ref is not None
    occurred = _when(customer, "date_modified") or _when(customer, "date_created")
    if occurred is None:
        raise AdapterError(f"{name}: customer {customer_id} has no date_modified_gmt")
    data = compact(
        {
            "email": ref.get("email"),
            "first_name": text(customer.get("first_name")) or text(billing.get("first_name")),
            "last_name": text(customer.get("last_name")) or text(billing.get("last_name")),
            "signed_up_at": _when(customer, "date_created"),
            "address": _address(billing),
            "username": text(customer.get("username")),
            "role": text(customer.get("role")),
            "phone": text(billing.get("phone")),
            "is_paying_customer": customer.get("is_paying_customer")
            if isinstance(customer.get("is_paying_customer"), bool)
            else None,
        }
    )
    return [
        _event(
            name, f"woocommerce:customer:{customer_id}:{occurred}", "customer.updated", occurred, ref, data
        )
    ]
