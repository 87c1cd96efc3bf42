"""Shopify webhooks -> canonical events.

What the docs say (checked against shopify.dev):

- Signature: `X-Shopify-Hmac-Sha256` is the base64 HMAC-SHA256 of the raw request body, keyed with
  the app's client secret; header names are case-insensitive ("HTTP/2 often lowercases them").
  https://shopify.dev/docs/apps/build/webhooks/delivery-structure and the headers table of
  https://shopify.dev/docs/api/webhooks (2026-07), where the topic sample payloads also come from.
- Delivery ids: `X-Shopify-Webhook-Id` is "a unique composite key for each delivery that you use to
  identify and deduplicate individual deliveries"; `X-Shopify-Event-Id` (newer versions) is "shared
  across all deliveries from the same merchant action" (one per topic and subscription), and
  https://shopify.dev/docs/apps/build/webhooks/ignore-duplicates recommends it to spot duplicates.
  `delivery_id` is therefore the Webhook-Id, or "<topic>:<Event-Id>" when only that is sent (so
  two topics fired by one merchant action never collapse into one delivery).
- Payloads are the REST resources; ids are JSON integers above 2**53 and are kept as exact strings.

Mapping (topic from `X-Shopify-Topic`; any other topic gives []):

- orders/create, orders/paid -> order.placed, id `shopify:order:<order id>`; plus customer.updated,
  id `shopify:order:<order id>:customer`, when the order carries names, consent or an address.
- orders/updated -> order.refunded for each entry of `refunds`, id `shopify:refund:<refund id>`.
- refunds/create -> order.refunded, id `shopify:refund:<refund id>` (see below).
- orders/fulfilled -> order.fulfilled, id `shopify:order:<order id>:fulfilled`.
- fulfillments/create -> order.fulfilled, id `shopify:fulfillment:<fulfillment id>` (see below).
- customers/create, customers/update -> customer.updated, id `shopify:customer:<id>:<updated_at>`.
- customers_email_marketing_consent/update -> customer.updated (accepts_marketing),
  id `shopify:customer:<id>:consent:<consent_updated_at or X-Shopify-Event-Id>`.
- checkouts/create, checkouts/update -> checkout.started, id `shopify:checkout:<token>:<updated_at>`.
- carts/create, carts/update -> cart.updated, id `shopify:cart:<token>:<updated_at>`.
- customers/redact -> customer.deleted, id `shopify:customer:<id>:redact`.

Why these ids: orders/create and orders/paid (and any retry or duplicate) describe the same order,
so they share one id and the order counts once; a refund has its own id, shared by refunds/create
and the `refunds` list of orders/updated. Customers, checkouts and carts are snapshots that really
change, so their ids carry `updated_at`: a retry repeats the id, a real change does not.

Choices worth knowing:

- Money is the shop currency (`currency`, `total_price`, `price`): `subtotal_price` and the shop
  money of `total_shipping_price_set` go along; `presentment_currency` is kept in attributes.
- The order time is `processed_at` (imported orders keep their real date), else `created_at`.
- A line item without `product_id` (custom items; the 2026 samples have some) is identified by its
  variant id, else its SKU, else its line id.
- Consent: `email_marketing_consent.state` (subscribed -> True; not_subscribed, unsubscribed,
  redacted, invalid -> False; pending -> unknown), else the legacy `accepts_marketing`, else an
  order's `buyer_accepts_marketing` when it is true (an unticked box is not an opt-out).
- refunds/create carries no customer (only `order_id`), so it raises `AdapterError` unless the
  caller attached `customer` or `email` to the payload; orders/updated carries the same refunds
  with the order's customer and is the topic to subscribe for refunds.
- Carts carry no customer at all and checkouts none until the buyer gives an email: such anonymous
  snapshots give [] (not an error). A checkout with `completed_at` became an order and gives [].
- customers/redact (the GDPR erasure request) has no timestamp; `X-Shopify-Triggered-At` is used.
  customers/data_request and shop/redact are not shop events: `privacy_request` turns them into a
  `comeback.privacy.PrivacyRequest` (the contacts function exports the customer, or erases every
  contact of the shop); to_events gives [] for them. customers/delete is not used ([]).
- Fulfilment: orders/fulfilled (the whole order shipped) is dated by its earliest successful
  fulfillment's `created_at` (else `updated_at`, else `X-Shopify-Triggered-At`), so it agrees with
  the fulfillments/create of the first shipment; `status` is `delivered` when every successful
  fulfillment's `shipment_status` is `delivered`, else `shipped`. fulfillments/create maps only a
  fulfillment whose `status` is `success` (or absent): pending, open, cancelled, error and failure
  give []. It names no customer id, only the fulfillment's `email`; without one it raises
  `AdapterError` (subscribe to orders/fulfilled instead, which carries the order's customer).
- Test orders (`test: true`) are mapped like any other; the flag is kept in attributes.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import Callable, Mapping
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from comeback.platforms import (
    AdapterError,
    add,
    amount,
    bounded_id,
    compact,
    country,
    currency,
    customer_ref,
    email,
    header,
    instant,
    locale,
    obj,
    object_id,
    quantity,
    tag_list,
    text,
    url,
)

if TYPE_CHECKING:
    from comeback.app.privacy import PrivacyRequest

SOURCE = "shopify"


def verify(secret: str, body: bytes, headers: Mapping[str, str]) -> bool:
    """True when `X-Shopify-Hmac-Sha256` is base64(HMAC-SHA256(secret, body))."""
    sent = header(headers, "X-Shopify-Hmac-Sha256")
    if not secret or not sent:
        return False
    try:
        sent_digest = base64.b64decode(sent.strip(), validate=True)
    except (binascii.Error, ValueError):
        return False
    expected = hmac.new(secret.encode(), body, hashlib.sha256).digest()
    return hmac.compare_digest(expected, sent_digest)


def topic(headers: Mapping[str, str]) -> str:
    return (header(headers, "X-Shopify-Topic") or "").strip().lower()


def delivery_id(headers: Mapping[str, str], payload: Any = None) -> str | None:
    """`X-Shopify-Webhook-Id`, else `<topic>:<X-Shopify-Event-Id>`, else None."""
    webhook_id = text(header(headers, "X-Shopify-Webhook-Id"), 128)
    if webhook_id:
        return webhook_id
    event_id = text(header(headers, "X-Shopify-Event-Id"), 96)
    return f"{topic(headers)}:{event_id}" if event_id else None


def to_events(headers: Mapping[str, str], payload: Any) -> list[dict[str, Any]]:
    name = topic(headers)
    handler = _HANDLERS.get(name)
    if handler is None:
        return []
    if not isinstance(payload, dict):
        raise AdapterError(f"{name}: expected a JSON object")
    return handler(_Delivery(name, headers), payload)


class _Delivery:
    def __init__(self, name: str, headers: Mapping[str, str]) -> None:
        self.topic = name
        self.headers = headers

    @property
    def triggered_at(self) -> str | None:
        return instant(header(self.headers, "X-Shopify-Triggered-At"))

    def event(
        self, event_id: str, kind: str, occurred_at: str, customer: dict[str, str], data: dict[str, Any]
    ) -> dict[str, Any]:
        return {
            "id": bounded_id(event_id),
            "type": kind,
            "occurred_at": occurred_at,
            "customer": customer,
            "data": data,
            "attributes": {"source": SOURCE, "topic": self.topic},
        }


# --- orders ----------------------------------------------------------------------------------


def _shop_money(value: Any) -> str | None:
    if isinstance(value, dict) and isinstance(value.get("shop_money"), dict):
        return amount(value["shop_money"].get("amount"))
    return None


def _shop_currency(value: Any) -> str | None:
    if isinstance(value, dict) and isinstance(value.get("shop_money"), dict):
        return currency(value["shop_money"].get("currency_code"))
    return None


def _line_items(lines: Any) -> list[dict[str, Any]]:
    items = []
    for line in lines if isinstance(lines, list) else []:
        if not isinstance(line, dict):
            continue
        count = quantity(line.get("quantity"))
        price = amount(line.get("price"))
        product = (
            object_id(line.get("product_id"), "product_id")
            or object_id(line.get("variant_id"), "variant_id")
            or text(line.get("sku"), 128)
            or object_id(line.get("id"), "line item id")
        )
        if count < 1 or price is None or product is None:
            continue
        items.append(
            compact(
                {
                    "product_id": product,
                    "sku": text(line.get("sku")),
                    "name": text(line.get("title")) or text(line.get("name")),
                    "category": text(line.get("product_type")),
                    "price": price,
                    "quantity": count,
                    "variant_id": object_id(line.get("variant_id"), "variant_id"),
                    "vendor": text(line.get("vendor")),
                }
            )
        )
    return items


def _consent(customer: dict[str, Any], order: dict[str, Any] | None = None) -> bool | None:
    consent = customer.get("email_marketing_consent")
    if isinstance(consent, dict) and consent.get("state"):
        state = str(consent["state"]).lower()
        if state == "subscribed":
            return True
        if state in {"not_subscribed", "unsubscribed", "redacted", "invalid"}:
            return False
        return None
    if isinstance(customer.get("accepts_marketing"), bool):
        return bool(customer["accepts_marketing"])
    if order is not None and order.get("buyer_accepts_marketing") is True:
        return True
    return None


def _address(value: Any) -> dict[str, Any] | None:
    if not isinstance(value, dict):
        return None
    address = compact(
        {
            "line1": text(value.get("address1")),
            "line2": text(value.get("address2")),
            "city": text(value.get("city")),
            "region": text(value.get("province_code")) or text(value.get("province")),
            "postal_code": text(value.get("zip")),
            "country": country(value.get("country_code")),
        }
    )
    return address or None


def _customer_data(customer: dict[str, Any], order: dict[str, Any] | None = None) -> dict[str, Any]:
    """The profile fields a Shopify customer object (alone or inside an order) carries."""
    return compact(
        {
            "first_name": text(customer.get("first_name")),
            "last_name": text(customer.get("last_name")),
            "accepts_marketing": _consent(customer, order),
            "locale": locale(customer.get("locale")) or locale((order or {}).get("customer_locale")),
            "tags": tag_list(customer.get("tags")),
            "signed_up_at": instant(customer.get("created_at")),
            "address": _address(customer.get("default_address")),
        }
    )


def _order_identity(order: dict[str, Any]) -> tuple[dict[str, Any], dict[str, str] | None]:
    customer = obj(order.get("customer"))
    ref = customer_ref(
        object_id(customer.get("id"), "customer id"),
        email(customer.get("email")) or email(order.get("email")) or email(order.get("contact_email")),
    )
    return customer, ref


def _orders_placed(delivery: _Delivery, order: dict[str, Any]) -> list[dict[str, Any]]:
    order_id = object_id(order.get("id"), "order id")
    if order_id is None:
        raise AdapterError(f"{delivery.topic}: the order has no id")
    customer, ref = _order_identity(order)
    if ref is None:
        raise AdapterError(f"{delivery.topic}: order {order_id} has no customer id or email")
    code = currency(order.get("currency"))
    total = amount(order.get("total_price")) or amount(order.get("current_total_price"))
    if code is None or total is None:
        raise AdapterError(f"{delivery.topic}: order {order_id} has no total_price or currency")
    occurred = instant(order.get("processed_at")) or instant(order.get("created_at"))
    if occurred is None:
        raise AdapterError(f"{delivery.topic}: order {order_id} has no created_at")
    codes = [
        c
        for c in (text(d.get("code")) for d in order.get("discount_codes") or [] if isinstance(d, dict))
        if c
    ]
    data = compact(
        {
            "order_id": order_id,
            "total": total,
            "currency": code,
            "subtotal": amount(order.get("subtotal_price")),
            "shipping": _shop_money(order.get("total_shipping_price_set")),
            "items": _line_items(order.get("line_items")),
            "discount_codes": codes[:50],
            # attributes: kept as they are, the model files them under data.attributes
            "name": text(order.get("name")),
            "order_number": object_id(order.get("order_number"), "order_number"),
            "financial_status": text(order.get("financial_status")),
            "presentment_currency": currency(order.get("presentment_currency")),
            "source_name": text(order.get("source_name")),
            "test": order.get("test") if isinstance(order.get("test"), bool) else None,
            "cancelled_at": instant(order.get("cancelled_at")),
        }
    )
    events = [delivery.event(f"shopify:order:{order_id}", "order.placed", occurred, ref, data)]
    profile = _customer_data(customer, order)
    if profile:
        profile = compact({"email": ref.get("email"), **profile})
        events.append(
            delivery.event(f"shopify:order:{order_id}:customer", "customer.updated", occurred, ref, profile)
        )
    return events


def _refund_amount(refund: dict[str, Any], fallback_currency: str | None) -> tuple[str | None, str | None]:
    """Money actually returned: successful refund transactions; without any, the refunded lines."""
    total: str | None = None
    code: str | None = None
    transactions = [
        tx
        for tx in refund.get("transactions") or []
        if isinstance(tx, dict) and str(tx.get("kind", "refund")).lower() == "refund"
    ]
    for tx in transactions:
        if str(tx.get("status", "success")).lower() == "success":
            total = add(total, amount(tx.get("amount")))
            code = code or currency(tx.get("currency"))
    if transactions and total is None:
        total = "0"  # refund transactions, none of them (yet) successful: nothing returned
    for line in refund.get("refund_line_items") or []:
        if isinstance(line, dict):
            code = code or _shop_currency(line.get("subtotal_set"))
    if total is None:
        for line in refund.get("refund_line_items") or []:
            if isinstance(line, dict):
                total = add(
                    total, _shop_money(line.get("subtotal_set")), _shop_money(line.get("total_tax_set"))
                )
    code = code or _shop_currency(refund.get("total_duties_set")) or fallback_currency
    return total, code


def _refund_event(
    delivery: _Delivery,
    refund: dict[str, Any],
    ref: dict[str, str],
    order_id: str | None,
    order_currency: str | None,
) -> dict[str, Any]:
    refund_id = object_id(refund.get("id"), "refund id")
    order_id = object_id(refund.get("order_id"), "order id") or order_id
    if refund_id is None or order_id is None:
        raise AdapterError(f"{delivery.topic}: a refund needs its id and order_id")
    total, code = _refund_amount(refund, order_currency)
    if code is None:
        raise AdapterError(f"{delivery.topic}: refund {refund_id} has no currency")
    occurred = (
        instant(refund.get("processed_at")) or instant(refund.get("created_at")) or delivery.triggered_at
    )
    if occurred is None:
        raise AdapterError(f"{delivery.topic}: refund {refund_id} has no created_at")
    data = compact(
        {
            "order_id": order_id,
            "amount": total or "0",
            "currency": code,
            "reason": text(refund.get("note")),
            "refund_id": refund_id,
            "restock": refund.get("restock") if isinstance(refund.get("restock"), bool) else None,
        }
    )
    return delivery.event(f"shopify:refund:{refund_id}", "order.refunded", occurred, ref, data)


def _orders_updated(delivery: _Delivery, order: dict[str, Any]) -> list[dict[str, Any]]:
    refunds = [r for r in order.get("refunds") or [] if isinstance(r, dict)]
    if not refunds:
        return []
    order_id = object_id(order.get("id"), "order id")
    _, ref = _order_identity(order)
    if ref is None:
        raise AdapterError(f"{delivery.topic}: order {order_id} has no customer id or email")
    return [_refund_event(delivery, r, ref, order_id, currency(order.get("currency"))) for r in refunds]


def _refunds_create(delivery: _Delivery, refund: dict[str, Any]) -> list[dict[str, Any]]:
    customer = obj(refund.get("customer"))
    ref = customer_ref(
        object_id(customer.get("id"), "customer id"),
        email(customer.get("email")) or email(refund.get("email")),
    )
    if ref is None:
        raise AdapterError(
            "refunds/create carries no customer (only order_id): subscribe to orders/updated, whose "
            "refunds come with the order's customer, or attach `customer` before mapping"
        )
    return [_refund_event(delivery, refund, ref, None, None)]


# --- fulfilment -----------------------------------------------------------------------------

_DONE = {"success"}


def _successful(value: Any) -> list[dict[str, Any]]:
    listed = value if isinstance(value, list) else []
    return [f for f in listed if isinstance(f, dict) and str(f.get("status") or "success").lower() in _DONE]


def _orders_fulfilled(delivery: _Delivery, order: dict[str, Any]) -> list[dict[str, Any]]:
    order_id = object_id(order.get("id"), "order id")
    if order_id is None:
        raise AdapterError(f"{delivery.topic}: the order has no id")
    _, ref = _order_identity(order)
    if ref is None:
        raise AdapterError(f"{delivery.topic}: order {order_id} has no customer id or email")
    done = _successful(order.get("fulfillments"))
    times = sorted(t for t in (instant(f.get("created_at")) for f in done) if t)
    occurred = (times[0] if times else None) or instant(order.get("updated_at")) or delivery.triggered_at
    if occurred is None:
        raise AdapterError(f"{delivery.topic}: order {order_id} has no fulfillment created_at or updated_at")
    delivered = bool(done) and all(str(f.get("shipment_status") or "").lower() == "delivered" for f in done)
    data = compact(
        {
            "order_id": order_id,
            "status": "delivered" if delivered else "shipped",
            "fulfillment_status": text(order.get("fulfillment_status")),
            "fulfillments": len(done) or None,
        }
    )
    return [delivery.event(f"shopify:order:{order_id}:fulfilled", "order.fulfilled", occurred, ref, data)]


def _fulfillments_create(delivery: _Delivery, fulfillment: dict[str, Any]) -> list[dict[str, Any]]:
    if not _successful([fulfillment]):
        return []  # not (yet) shipped, or cancelled
    fulfillment_id = object_id(fulfillment.get("id"), "fulfillment id")
    order_id = object_id(fulfillment.get("order_id"), "order id")
    if fulfillment_id is None or order_id is None:
        raise AdapterError(f"{delivery.topic}: a fulfillment needs its id and order_id")
    ref = customer_ref(None, email(fulfillment.get("email")))
    if ref is None:
        raise AdapterError(
            f"{delivery.topic}: fulfillment {fulfillment_id} carries no email: subscribe to "
            "orders/fulfilled, which comes with the order's customer"
        )
    created = instant(fulfillment.get("created_at")) or instant(fulfillment.get("updated_at"))
    occurred = created or delivery.triggered_at
    if occurred is None:
        raise AdapterError(f"{delivery.topic}: fulfillment {fulfillment_id} has no created_at")
    delivered = str(fulfillment.get("shipment_status") or "").lower() == "delivered"
    data = compact(
        {
            "order_id": order_id,
            "status": "delivered" if delivered else "shipped",
            "fulfillment_id": fulfillment_id,
            "tracking_company": text(fulfillment.get("tracking_company")),
            "tracking_number": text(fulfillment.get("tracking_number")),
        }
    )
    return [delivery.event(f"shopify:fulfillment:{fulfillment_id}", "order.fulfilled", occurred, ref, data)]


# --- customers -------------------------------------------------------------------------------


def _customers(delivery: _Delivery, customer: dict[str, Any]) -> list[dict[str, Any]]:
    customer_id = object_id(customer.get("id"), "customer id")
    if customer_id is None:
        raise AdapterError(f"{delivery.topic}: the customer has no id")
    ref = customer_ref(customer_id, email(customer.get("email")))
    assert ref is not None
    updated = (
        instant(customer.get("updated_at")) or instant(customer.get("created_at")) or delivery.triggered_at
    )
    if updated is None:
        raise AdapterError(f"{delivery.topic}: customer {customer_id} has no updated_at")
    stamp = text(customer.get("updated_at"), 40) or text(customer.get("created_at"), 40) or updated
    data = compact(
        {
            "email": ref.get("email"),
            **_customer_data(customer),
            "phone": text(customer.get("phone")),
            "state": text(customer.get("state")),
            "verified_email": customer.get("verified_email")
            if isinstance(customer.get("verified_email"), bool)
            else None,
        }
    )
    return [delivery.event(f"shopify:customer:{customer_id}:{stamp}", "customer.updated", updated, ref, data)]


def _email_consent(delivery: _Delivery, payload: dict[str, Any]) -> list[dict[str, Any]]:
    customer_id = object_id(payload.get("customer_id"), "customer_id")
    ref = customer_ref(customer_id, email(payload.get("email_address")))
    if ref is None:
        raise AdapterError(f"{delivery.topic}: no customer_id or email_address")
    consent = payload.get("email_marketing_consent")
    accepts = _consent({"email_marketing_consent": consent}) if isinstance(consent, dict) else None
    when = consent.get("consent_updated_at") if isinstance(consent, dict) else None
    occurred = instant(when) or delivery.triggered_at
    stamp = (
        text(when, 40)
        or text(header(delivery.headers, "X-Shopify-Event-Id"), 64)
        or text(header(delivery.headers, "X-Shopify-Webhook-Id"), 64)
    )
    if occurred is None or stamp is None:
        raise AdapterError(f"{delivery.topic}: no consent_updated_at and no X-Shopify-Triggered-At")
    data = compact(
        {
            "email": ref.get("email"),
            "accepts_marketing": accepts,
            "consent_state": text(consent.get("state")) if isinstance(consent, dict) else None,
            "opt_in_level": text(consent.get("opt_in_level")) if isinstance(consent, dict) else None,
        }
    )
    who = customer_id or ref["email"]
    return [
        delivery.event(f"shopify:customer:{who}:consent:{stamp}", "customer.updated", occurred, ref, data)
    ]


def _customers_redact(delivery: _Delivery, payload: dict[str, Any]) -> list[dict[str, Any]]:
    customer = obj(payload.get("customer"))
    customer_id = object_id(customer.get("id"), "customer id")
    ref = customer_ref(customer_id, email(customer.get("email")))
    if ref is None:
        raise AdapterError("customers/redact: no customer id or email")
    occurred = delivery.triggered_at
    if occurred is None:
        raise AdapterError("customers/redact: no X-Shopify-Triggered-At header to date the request")
    orders = [o for o in (object_id(v, "order id") for v in payload.get("orders_to_redact") or []) if o]
    data = compact({"reason": "shopify customers/redact", "orders_to_redact": orders})
    who = customer_id or ref["email"]
    return [delivery.event(f"shopify:customer:{who}:redact", "customer.deleted", occurred, ref, data)]


# --- checkouts and carts ---------------------------------------------------------------------


def _line_total(items: list[dict[str, Any]]) -> str | None:
    return add(*(format(Decimal(i["price"]) * i["quantity"], "f") for i in items))


def _checkouts(delivery: _Delivery, checkout: dict[str, Any]) -> list[dict[str, Any]]:
    if checkout.get("completed_at"):
        return []
    customer = obj(checkout.get("customer"))
    ref = customer_ref(
        object_id(customer.get("id"), "customer id"),
        email(checkout.get("email")) or email(customer.get("email")),
    )
    if ref is None:
        return []  # anonymous so far: Shopify sends checkouts/update once the buyer gives an email
    token = text(checkout.get("token"), 96) or object_id(checkout.get("id"), "checkout id")
    if token is None:
        raise AdapterError(f"{delivery.topic}: the checkout has no token or id")
    code = currency(checkout.get("currency")) or currency(checkout.get("presentment_currency"))
    occurred = instant(checkout.get("updated_at")) or instant(checkout.get("created_at"))
    if code is None or occurred is None:
        raise AdapterError(f"{delivery.topic}: checkout {token} has no currency or updated_at")
    items = _line_items(checkout.get("line_items"))
    data = compact(
        {
            "checkout_id": object_id(checkout.get("id"), "checkout id") or token,
            "cart_id": text(checkout.get("cart_token"), 128),
            "total": amount(checkout.get("total_price")) or _line_total(items),
            "currency": code,
            "items": items,
            "url": url(checkout.get("abandoned_checkout_url")),
            "token": token,
            "started_at": instant(checkout.get("created_at")),
            "buyer_accepts_marketing": checkout.get("buyer_accepts_marketing")
            if isinstance(checkout.get("buyer_accepts_marketing"), bool)
            else None,
        }
    )
    stamp = text(checkout.get("updated_at"), 40) or occurred
    return [delivery.event(f"shopify:checkout:{token}:{stamp}", "checkout.started", occurred, ref, data)]


def _carts(delivery: _Delivery, cart: dict[str, Any]) -> list[dict[str, Any]]:
    customer = obj(cart.get("customer"))
    ref = customer_ref(
        object_id(customer.get("id"), "customer id"), email(cart.get("email")) or email(customer.get("email"))
    )
    if ref is None:
        return []  # Shopify's cart payloads name nobody; the checkout that follows does
    token = text(cart.get("token"), 96) or text(cart.get("id"), 96)
    occurred = instant(cart.get("updated_at")) or instant(cart.get("created_at"))
    if token is None or occurred is None:
        raise AdapterError(f"{delivery.topic}: the cart has no token or updated_at")
    lines = [line for line in cart.get("line_items") or [] if isinstance(line, dict)]
    code = currency(cart.get("currency")) or next(
        (c for c in (_shop_currency(line.get("price_set")) for line in lines) if c), None
    )
    if code is None:
        raise AdapterError(f"{delivery.topic}: cart {token} has no currency")
    items = _line_items(lines)
    data = compact({"cart_id": token, "total": _line_total(items), "currency": code, "items": items})
    stamp = text(cart.get("updated_at"), 40) or occurred
    return [delivery.event(f"shopify:cart:{token}:{stamp}", "cart.updated", occurred, ref, data)]


_HANDLERS: dict[str, Callable[[_Delivery, dict[str, Any]], list[dict[str, Any]]]] = {
    "orders/create": _orders_placed,
    "orders/paid": _orders_placed,
    "orders/updated": _orders_updated,
    "refunds/create": _refunds_create,
    "orders/fulfilled": _orders_fulfilled,
    "fulfillments/create": _fulfillments_create,
    "customers/create": _customers,
    "customers/update": _customers,
    "customers_email_marketing_consent/update": _email_consent,
    "checkouts/create": _checkouts,
    "checkouts/update": _checkouts,
    "carts/create": _carts,
    "carts/update": _carts,
    "customers/redact": _customers_redact,
}

TOPICS = tuple(_HANDLERS)


# --- privacy requests that are not shop events -----------------------------------------------

PRIVACY_TOPICS = ("customers/data_request", "shop/redact")


def privacy_request(
    shop_id: str, headers: Mapping[str, str], payload: Any, received_at: datetime
) -> PrivacyRequest | None:
    """customers/data_request or shop/redact as a privacy request; None for any other topic.

    The request id must stay the same across Shopify's redeliveries: the data request's own id for
    an export, the delivery id (`X-Shopify-Webhook-Id`) for a shop erasure (a shop that reinstalls
    and uninstalls again gets a new one).
    """
    from comeback.app.privacy import PrivacyRequest
    from comeback.domain.clock import isoformat, parse_iso
    from comeback.domain.events import CustomerRef

    name = topic(headers)
    if name not in PRIVACY_TOPICS:
        return None
    if not isinstance(payload, dict):
        raise AdapterError(f"{name}: expected a JSON object")
    delivery = _Delivery(name, headers)
    triggered = delivery.triggered_at
    requested = parse_iso(triggered) if triggered else received_at
    shop = object_id(payload.get("shop_id"), "shop_id") or text(payload.get("shop_domain"), 256) or "?"
    if name == "shop/redact":
        webhook = delivery_id(headers) or f"{shop}:{isoformat(requested)}"
        return PrivacyRequest(
            kind="shop_redact",
            shop_id=shop_id,
            request_id=f"shopify:shop/redact:{webhook}",
            requested_at=requested,
        )
    customer = obj(payload.get("customer"))
    ref = customer_ref(object_id(customer.get("id"), "customer id"), email(customer.get("email")))
    if ref is None:
        raise AdapterError("customers/data_request: no customer id or email")
    request = object_id(obj(payload.get("data_request")).get("id"), "data_request id")
    handle = request or delivery_id(headers) or isoformat(requested)
    orders = [o for o in (object_id(v, "order id") for v in payload.get("orders_requested") or []) if o]
    return PrivacyRequest(
        kind="customer_export",
        shop_id=shop_id,
        request_id=f"shopify:customers/data_request:{handle}",
        requested_at=requested,
        customer=CustomerRef.model_validate(ref),
        orders=orders,
    )
