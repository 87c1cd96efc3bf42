"""Platform adapters: published sample payloads in, canonical events out (DESIGN.md §4.1)."""

from __future__ import annotations

import base64
import copy
import hashlib
import hmac
import json
import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from comeback.domain.events import parse_event
from comeback.platforms import AdapterError, adapter, segment, shopify, woocommerce

SAMPLES = Path(__file__).resolve().parents[2] / "events" / "platforms"
TRIGGERED = "2025-07-10T16:15:47.000000Z"


def raw(name: str) -> bytes:
    return (SAMPLES / name).read_bytes()


def load(name: str) -> Any:
    return json.loads(raw(name))


def shopify_headers(topic: str, webhook_id: str = "b54557e4-8a5f-4f7d-8f4a-0d3e1c2b9a10") -> dict[str, str]:
    return {
        "X-Shopify-Topic": topic,
        "X-Shopify-Webhook-Id": webhook_id,
        "X-Shopify-Event-Id": "59d6d79c-595f-4e7e-bc6f-72f5c3d0c66f",
        "X-Shopify-Triggered-At": TRIGGERED,
        "X-Shopify-Shop-Domain": "example.myshopify.com",
    }


def woo_headers(topic: str, delivery: str = "36e520ebabc2fa725092ff4a47acedf2") -> dict[str, str]:
    headers = dict(load("woocommerce_webhook_headers_example.json"))
    resource, event = topic.split(".")
    headers.update(
        {
            "x-wc-webhook-topic": topic,
            "x-wc-webhook-resource": resource,
            "x-wc-webhook-event": event,
            "x-wc-webhook-delivery-id": delivery,
        }
    )
    return headers


def parsed(events: list[dict[str, Any]]) -> list[Any]:
    """Every event must pass the canonical model; ids within one delivery must differ."""
    models = [parse_event(e) for e in events]
    ids = [m.id for m in models]
    assert len(ids) == len(set(ids)), ids
    return models


# --- every published sample maps to events that parse ------------------------------------------

SHOPIFY_SAMPLES = [
    ("shopify_orders_create_sample_legacy.json", "orders/create", ["order.placed", "customer.updated"]),
    ("shopify_orders_create_sample_legacy.json", "orders/paid", ["order.placed", "customer.updated"]),
    ("shopify_customers_create_sample.json", "customers/create", ["customer.updated"]),
    ("shopify_customers_create_sample.json", "customers/update", ["customer.updated"]),
    (
        "shopify_customers_email_marketing_consent_update_sample.json",
        "customers_email_marketing_consent/update",
        ["customer.updated"],
    ),
    ("shopify_checkouts_create_sample_EXCERPT.json", "checkouts/create", ["checkout.started"]),
    ("shopify_checkouts_create_sample_EXCERPT.json", "checkouts/update", ["checkout.started"]),
    ("shopify_carts_create_sample.json", "carts/create", []),  # Shopify carts name nobody
    ("shopify_customers_redact.json", "customers/redact", ["customer.deleted"]),
    ("shopify_customers_data_request.json", "customers/data_request", []),
    ("shopify_shop_redact.json", "shop/redact", []),
]


@pytest.mark.parametrize(("name", "topic", "types"), SHOPIFY_SAMPLES)
def test_shopify_samples_map_to_valid_events(name: str, topic: str, types: list[str]) -> None:
    events = parsed(shopify.to_events(shopify_headers(topic), load(name)))
    assert [e.type for e in events] == types
    assert all(e.attributes["source"] == "shopify" and e.attributes["topic"] == topic for e in events)


def test_shopify_order_sample_in_detail() -> None:
    order, profile = parsed(shopify.to_events(shopify_headers("orders/create"), load(SHOPIFY_SAMPLES[0][0])))
    assert order.id == "shopify:order:820982911946154508"
    assert order.customer.id == "115310627314723954"
    assert order.customer.email == "john@test.com"
    assert order.occurred_at.isoformat() == "2019-06-04T17:53:06+00:00"  # created_at carried -04:00
    assert (order.data.currency, order.data.total_minor) == ("USD", 40300)
    assert str(order.data.subtotal) == "393.00"
    assert str(order.data.shipping) == "10.00"
    assert [(i.product_id, i.sku, str(i.price), i.quantity) for i in order.data.items] == [
        ("632910392", "IPOD2008PINK", "199.00", 1)
    ] * 2
    assert order.data.items[0].attributes["variant_id"] == "808950810"
    assert order.data.attributes["test"] is True
    assert order.data.attributes["name"] == "#9999"
    assert profile.id == "shopify:order:820982911946154508:customer"
    assert (profile.data.first_name, profile.data.last_name) == ("John", "Smith")
    assert profile.data.accepts_marketing is False  # customer.accepts_marketing beats the order's box
    assert profile.data.locale == "en"
    assert profile.data.address.country == "CA"


def test_shopify_checkout_customer_and_redact_samples_in_detail() -> None:
    (checkout,) = parsed(shopify.to_events(shopify_headers("checkouts/create"), load(SHOPIFY_SAMPLES[5][0])))
    assert checkout.id == "shopify:checkout:123123123:2021-12-31T19:00:00-05:00"
    assert checkout.customer.id == "603851970716743426"
    assert checkout.customer.email == "example@email.com"
    assert checkout.data.checkout_id == "123123123"
    assert checkout.data.cart_id == "eeafa272cebfd4b22385bc4b645e762c"
    assert (str(checkout.data.total), checkout.data.currency) == ("421.88", "USD")
    assert checkout.data.url.startswith("https://checkout.local/")

    (customer,) = parsed(shopify.to_events(shopify_headers("customers/create"), load(SHOPIFY_SAMPLES[2][0])))
    assert customer.customer.id == "706405506930370084"
    assert customer.data.email == "bob@biller.com"
    assert customer.data.signed_up_at.isoformat() == "2022-01-01T00:00:00+00:00"
    assert customer.data.address.postal_code == "K2P 2L8"

    (consent,) = parsed(
        shopify.to_events(
            shopify_headers("customers_email_marketing_consent/update"), load(SHOPIFY_SAMPLES[4][0])
        )
    )
    assert consent.data.accepts_marketing is False  # "not_subscribed"
    assert consent.occurred_at.isoformat() == "2025-07-10T16:15:47+00:00"  # no consent_updated_at

    (erasure,) = parsed(
        shopify.to_events(shopify_headers("customers/redact"), load("shopify_customers_redact.json"))
    )
    assert erasure.id == "shopify:customer:191167:redact"
    assert (erasure.customer.id, erasure.customer.email) == ("191167", "john@example.com")
    assert erasure.data.attributes["orders_to_redact"] == ["299938", "280263", "220458"]


def test_woocommerce_samples_map_to_valid_events() -> None:
    order, profile = parsed(
        woocommerce.to_events(woo_headers("order.created"), load("woocommerce_order_v3_sample.json"))
    )
    assert order.id == "woocommerce:order:727"
    assert order.customer.id is None  # customer_id 0: a guest, known by the billing email
    assert order.customer.email == "john.doe@example.com"
    assert (
        order.occurred_at.isoformat() == "2017-03-22T19:28:02+00:00"
    )  # date_created_gmt, not the local time
    assert (order.data.total_minor, order.data.currency) == (2935, "USD")
    assert [(i.product_id, str(i.price), i.quantity) for i in order.data.items] == [
        ("93", "3.00", 2),
        ("22", "12.00", 1),
    ]
    assert order.data.items[1].name == "Ship Your Idea – Color: Black, Size: M Test"
    assert profile.id == "woocommerce:order:727:customer"
    assert (profile.data.first_name, profile.data.address.country) == ("John", "US")

    (customer,) = parsed(
        woocommerce.to_events(woo_headers("customer.created"), load("woocommerce_customer_v3_sample.json"))
    )
    assert customer.id == "woocommerce:customer:25:2017-03-21T19:09:30+00:00"
    assert (customer.customer.id, customer.customer.email) == ("25", "john.doe@example.com")
    assert customer.data.signed_up_at.isoformat() == "2017-03-21T19:09:28+00:00"


@pytest.mark.parametrize(
    ("name", "types"),
    [
        ("segment_identify_example.json", ["customer.updated"]),
        ("segment_track_example.json", []),  # "Course Clicked" is no e-commerce event
        ("segment_track_order_completed_CONSTRUCTED.json", ["order.placed"]),
        ("segment_http_api_batch_excerpt.json", ["customer.updated"]),  # + "Song Played", ignored
    ],
)
def test_segment_samples_map_to_valid_events(name: str, types: list[str]) -> None:
    assert [e.type for e in parsed(segment.to_events({}, load(name)))] == types


def test_segment_samples_in_detail() -> None:
    (identify,) = parsed(segment.to_events({}, load("segment_identify_example.json")))
    assert identify.id == "segment:022bb90c-bbac-11e4-8dfc-aa07a5b093db"
    assert (identify.customer.id, identify.customer.email) == ("97980cfea0067", "peter@example.com")
    assert identify.data.address.city == "San Francisco"
    assert identify.data.address.country is None  # "USA" is no ISO alpha-2 code ...
    assert identify.data.address.attributes["country_name"] == "USA"  # ... so it is kept as written
    assert identify.data.attributes["plan"] == "premium"

    (order,) = parsed(segment.to_events({}, load("segment_track_order_completed_CONSTRUCTED.json")))
    properties = load("segment_order_completed_properties.json")["properties"]
    assert order.id == f"segment:order:{properties['order_id']}"
    assert order.customer.id == "AiUGstSDIg"
    assert (order.data.total_minor, order.data.currency) == (2750, "USD")  # total 27.5, not revenue 25
    assert order.data.discount_codes == ["hasbros"]
    assert [(i.product_id, str(i.price), i.quantity) for i in order.data.items] == [
        ("507f1f77bcf86cd799439011", "19", 1),
        ("505bd76785ebb509fc183733", "3", 2),
    ]

    (jake,) = parsed(segment.to_events({}, load("segment_http_api_batch_excerpt.json")))
    assert (jake.customer.id, jake.customer.email) == ("019mr8mf4r", "jake@yahoo.com")


# --- signatures --------------------------------------------------------------------------------


def b64_hmac(secret: str, body: bytes) -> str:
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


SIGNED = [
    (shopify, "X-Shopify-Hmac-Sha256", b64_hmac, "shopify_orders_create_sample_legacy.json"),
    (woocommerce, "X-WC-Webhook-Signature", b64_hmac, "woocommerce_order_v3_sample.json"),
    (
        segment,
        "X-Signature",
        lambda secret, body: hmac.new(secret.encode(), body, hashlib.sha1).hexdigest(),
        "segment_track_order_completed_CONSTRUCTED.json",
    ),
]


@pytest.mark.parametrize(("module", "name", "sign", "sample"), SIGNED)
def test_signatures(module: Any, name: str, sign: Any, sample: str) -> None:
    body = raw(sample)
    signature = sign("s3cret", body)
    assert module.verify("s3cret", body, {name: signature})
    assert module.verify("s3cret", body, {name.lower(): signature})  # HTTP/2 lower-cases names
    assert module.verify("s3cret", body, {name.upper(): signature})
    assert module.verify("s3cret", body, {"Content-Type": "application/json", name: f" {signature} "})
    assert not module.verify("other", body, {name: signature})  # wrong secret
    tampered = body.replace(b"Monopoly", b"Monopolo").replace(b"403.00", b"4.00").replace(b"29.35", b"2.35")
    assert tampered != body
    assert not module.verify("s3cret", tampered, {name: signature})
    assert not module.verify("s3cret", body + b" ", {name: signature})
    assert not module.verify("s3cret", body, {})  # no header
    assert not module.verify("s3cret", body, {name: ""})
    assert not module.verify("s3cret", body, {name: "not base64 nor hex!"})
    assert not module.verify("s3cret", body, {name: "ü" * 8})
    assert not module.verify("", body, {name: sign("", body)})  # no secret configured, never valid
    assert not module.verify("s3cret", body, {"X-Other-Signature": signature})


def test_signatures_match_vectors_computed_with_openssl() -> None:
    """`printf %s BODY | openssl dgst -sha256 -hmac SECRET -binary | base64` (-sha1 hex for Segment)."""
    assert shopify.verify(
        "hush",
        b'{"id":820982911946154508,"total_price":"403.00"}',
        {"x-shopify-hmac-sha256": "gHDQy76+38chKmG/hW2suoASSgJPriCh7sYbzaB7OQI="},
    )
    assert woocommerce.verify(
        "wc-secret", b'{"id":727}', {"X-WC-Webhook-Signature": "XOvG+/mKAKiNfNL5aDmmmrY8ZRtaA96JXvSO3vPAbC8="}
    )
    assert segment.verify(
        "seg-secret", b'{"type":"track"}', {"X-Signature": "f99b40896fa4ccf189e34f8c418ef1464aa0cc7f"}
    )
    assert segment.verify(
        "seg-secret", b'{"type":"track"}', {"x-signature": "F99B40896FA4CCF189E34F8C418EF1464AA0CC7F"}
    )


def test_woocommerce_signs_with_the_html_decoded_secret() -> None:
    """WC_Webhook::generate_signature keys the HMAC with wp_specialchars_decode($secret, ENT_QUOTES)."""
    body = b'{"id":727}'
    signed_with_decoded = "fvvfKrQTDGAWM83fuFQAeFPz+Xaj5zHi22J9mwwzwd8="  # openssl, key "a&b"
    assert woocommerce.verify("a&amp;b", body, {"X-WC-Webhook-Signature": signed_with_decoded})
    assert woocommerce.verify("a&b", body, {"X-WC-Webhook-Signature": signed_with_decoded})
    assert not woocommerce.verify("a&amp;c", body, {"X-WC-Webhook-Signature": signed_with_decoded})


# --- ids: exact, stable across retries, one per object -----------------------------------------


def test_big_shopify_ids_stay_exact() -> None:
    body = raw("shopify_orders_create_sample_legacy.json")
    digits = set(re.findall(rb'"(?:id|customer_id|product_id|variant_id)": (\d{16,})', body))
    assert b"820982911946154508" in digits and b"115310627314723954" in digits
    assert float(820982911946154508) != 820982911946154508  # what a float parser would do
    order, profile = parsed(shopify.to_events(shopify_headers("orders/create"), json.loads(body)))
    assert order.data.order_id == "820982911946154508"
    assert order.customer.id == profile.customer.id == "115310627314723954"
    (refund,) = parsed(
        shopify.to_events(
            shopify_headers("refunds/create"),
            {**load("shopify_refunds_create_sample_EXCERPT.json"), "customer": {"id": 115310627314723954}},
        )
    )
    assert refund.id == "shopify:refund:890088186047892319"
    assert refund.data.order_id == "820982911946154508"


def test_an_id_already_rounded_by_a_float_parser_is_refused() -> None:
    order = load("shopify_orders_create_sample_legacy.json")
    order["id"] = float(order["id"])
    with pytest.raises(AdapterError, match="float"):
        shopify.to_events(shopify_headers("orders/create"), order)


@given(st.integers(min_value=1, max_value=2**63 - 1))
def test_any_int64_shopify_id_round_trips(order_id: int) -> None:
    order = {
        "id": order_id,
        "email": "a@example.com",
        "currency": "JPY",
        "total_price": "4980",
        "created_at": "2026-11-24T10:15:00+09:00",
        "line_items": [],
    }
    body = json.dumps(order).encode()
    (event,) = shopify.to_events(shopify_headers("orders/create"), json.loads(body))
    assert event["data"]["order_id"] == str(order_id)
    assert parse_event(event).data.total_minor == 4980


def ids(events: list[dict[str, Any]]) -> list[str]:
    return [e["id"] for e in events]


def test_retries_and_duplicates_give_the_same_event_ids() -> None:
    order = load("shopify_orders_create_sample_legacy.json")
    first = shopify.to_events(shopify_headers("orders/create", "delivery-1"), order)
    retry = shopify.to_events(shopify_headers("orders/create", "delivery-1"), copy.deepcopy(order))
    duplicate = shopify.to_events(shopify_headers("orders/create", "delivery-2"), copy.deepcopy(order))
    paid = shopify.to_events(shopify_headers("orders/paid", "delivery-3"), copy.deepcopy(order))
    assert ids(first) == ids(retry) == ids(duplicate) == ids(paid)
    assert first == retry

    woo = load("woocommerce_order_v3_sample.json")
    created = woocommerce.to_events(woo_headers("order.created", "d1"), woo)
    completed = woocommerce.to_events(
        woo_headers("order.updated", "d2"),
        {**woo, "status": "completed", "date_modified_gmt": "2017-03-23T10:00:00"},
    )
    assert ids(created) == ids(completed)  # an order seen in several updates counts once

    message = load("segment_identify_example.json")
    assert ids(segment.to_events({}, message)) == ids(segment.to_events({}, copy.deepcopy(message)))
    batch = load("segment_http_api_batch_excerpt.json")  # no messageIds: a digest of each message
    assert ids(segment.to_events({}, batch)) == ids(segment.to_events({}, copy.deepcopy(batch)))


def test_snapshots_that_really_change_get_new_ids() -> None:
    customer = load("shopify_customers_create_sample.json")
    changed = {**customer, "first_name": "Robert", "updated_at": "2022-03-01T09:00:00-05:00"}
    (before,) = shopify.to_events(shopify_headers("customers/update"), customer)
    (after,) = shopify.to_events(shopify_headers("customers/update"), changed)
    assert before["id"] != after["id"]
    assert parse_event(after).data.first_name == "Robert"


def test_delivery_ids() -> None:
    assert shopify.delivery_id({"x-shopify-webhook-id": "w-1", "X-Shopify-Event-Id": "e-1"}, {}) == "w-1"
    assert (
        shopify.delivery_id({"X-Shopify-Topic": "orders/paid", "X-Shopify-Event-Id": "e-1"}, {})
        == "orders/paid:e-1"
    )
    assert shopify.delivery_id({}, {}) is None
    assert woocommerce.delivery_id(woo_headers("order.created"), {}) == "36e520ebabc2fa725092ff4a47acedf2"
    assert woocommerce.delivery_id({"X-WC-Delivery-ID": "42"}, {}) == "42"  # the name the REST docs use
    assert (
        segment.delivery_id({}, load("segment_identify_example.json"))
        == "022bb90c-bbac-11e4-8dfc-aa07a5b093db"
    )
    assert segment.delivery_id({}, load("segment_http_api_batch_excerpt.json")) is None


# --- ignored topics ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "topic", ["products/update", "app/uninstalled", "orders/cancelled", "customers/delete", ""]
)
def test_shopify_ignored_topics(topic: str) -> None:
    assert shopify.to_events(shopify_headers(topic), load("shopify_orders_create_sample_legacy.json")) == []


@pytest.mark.parametrize(
    "topic", ["product.created", "coupon.updated", "order.deleted", "order.restored", "customer.deleted"]
)
def test_woocommerce_ignored_topics(topic: str) -> None:
    assert woocommerce.to_events(woo_headers(topic), {"id": 727}) == []


def test_woocommerce_topic_from_resource_and_event_headers() -> None:
    headers = {"X-WC-Webhook-Resource": "order", "X-WC-Webhook-Event": "updated"}
    assert [e["type"] for e in woocommerce.to_events(headers, load("woocommerce_order_v3_sample.json"))] == [
        "order.placed",
        "customer.updated",
    ]


@pytest.mark.parametrize("status", ["pending", "on-hold", "cancelled", "failed", "checkout-draft"])
def test_woocommerce_unpaid_orders_are_not_placed(status: str) -> None:
    order = {**load("woocommerce_order_v3_sample.json"), "status": status}
    assert woocommerce.to_events(woo_headers("order.updated"), order) == []


# --- refunds -----------------------------------------------------------------------------------


def test_shopify_refunds_from_refunds_create_and_orders_updated_are_one_event() -> None:
    refund = load("shopify_refunds_create_sample_EXCERPT.json")
    with pytest.raises(AdapterError, match="orders/updated"):
        shopify.to_events(shopify_headers("refunds/create"), refund)  # the payload names no customer

    order = load("shopify_orders_create_sample_legacy.json")
    order["refunds"] = [refund]
    (from_order,) = parsed(shopify.to_events(shopify_headers("orders/updated"), order))
    assert from_order.id == "shopify:refund:890088186047892319"
    assert from_order.customer.id == "115310627314723954"
    # the two successful refund transactions (75.00 + 10.00); their currency is null in the
    # sample, so it comes from the refund lines' shop money
    assert (from_order.data.amount_minor, from_order.data.currency) == (8500, "USD")
    assert from_order.data.reason == "Things were damaged"

    (enriched,) = shopify.to_events(
        shopify_headers("refunds/create"), {**refund, "customer": {"id": 115310627314723954}}
    )
    assert enriched["id"] == from_order.id
    assert (
        shopify.to_events(shopify_headers("orders/updated"), load("shopify_orders_create_sample_legacy.json"))
        == []
    )


def test_woocommerce_refunds() -> None:
    order = load("woocommerce_order_v3_sample.json")
    partial = {
        **order,
        "status": "completed",
        "date_modified_gmt": "2017-03-25T08:00:00",
        "refunds": [{"id": 731, "reason": "damaged", "total": "-10.00"}],
    }
    placed, _, refund = parsed(woocommerce.to_events(woo_headers("order.updated"), partial))
    assert placed.id == "woocommerce:order:727"
    assert refund.id == "woocommerce:refund:731"
    assert (refund.data.amount_minor, refund.data.reason) == (1000, "damaged")
    assert refund.occurred_at.isoformat() == "2017-03-25T08:00:00+00:00"

    full = {
        **partial,
        "status": "refunded",
        "refunds": [*partial["refunds"], {"id": 732, "reason": "", "total": "-19.35"}],
    }
    events = woocommerce.to_events(woo_headers("order.updated"), full)
    assert ids(events) == [
        "woocommerce:order:727",
        "woocommerce:order:727:customer",
        "woocommerce:refund:731",  # the same refund as in the earlier update: one event
        "woocommerce:refund:732",
    ]
    parsed(events)

    (bare,) = [
        e
        for e in woocommerce.to_events(woo_headers("order.updated"), {**order, "status": "refunded"})
        if e["type"] == "order.refunded"
    ]
    assert bare["id"] == "woocommerce:order:727:refunded"
    assert parse_event(bare).data.amount_minor == 2935


# --- Segment: a batch of mixed messages --------------------------------------------------------


def track(event: str, properties: dict[str, Any], **envelope: Any) -> dict[str, Any]:
    return {
        "type": "track",
        "event": event,
        "userId": "u-42",
        "properties": properties,
        "timestamp": "2026-11-24T10:15:00+09:00",
        "context": {"traits": {"email": "hanako@example.com"}},
        **envelope,
    }


def test_segment_batch_of_mixed_messages() -> None:
    products = load("segment_order_completed_properties.json")["properties"]["products"]
    batch = {
        "batch": [
            {
                "type": "identify",
                "messageId": "m-identify",
                "userId": "u-42",
                "traits": {
                    "email": "Hanako@Example.com",
                    "first_name": "Hanako",
                    "lastName": "Yamada",
                    "birthday": "1990-05-14T00:00:00.000Z",
                    "createdAt": "2024-01-02T03:04:05Z",
                    "plan": "gold",
                },
                "context": {"locale": "ja-JP", "timezone": "Asia/Tokyo"},
                "timestamp": "2026-11-24T10:00:00+09:00",
            },
            track(
                "Product Viewed",
                {
                    "product_id": "p1",
                    "sku": "TEA-01",
                    "name": "Sencha",
                    "price": 2490,
                    "currency": "jpy",
                    "url": "https://shop.example/p1",
                },
                messageId="m-view",
            ),
            track(
                "Product Added",
                {"cart_id": "c-1", "product_id": "p1", "price": 2490, "quantity": 2, "currency": "JPY"},
                messageId="m-add",
            ),
            track("Cart Viewed", {"cart_id": "c-1", "products": products}, messageId="m-cart"),
            track(
                "Checkout Started",
                {
                    "order_id": "1001",
                    "value": 4980,
                    "currency": "JPY",
                    "products": [{"product_id": "p1", "price": 2490, "quantity": 2}],
                },
                messageId="m-checkout",
            ),
            track(
                "Order Completed",
                {
                    "order_id": "1001",
                    "total": 4980,
                    "currency": "JPY",
                    "coupon": "WELCOME10",
                    "products": [{"product_id": "p1", "price": 2490, "quantity": 2, "category": "tea"}],
                },
                messageId="m-order",
            ),
            track(
                "Order Refunded", {"order_id": "1001", "total": 2490, "currency": "JPY"}, messageId="m-refund"
            ),
            track("Song Played", {"name": "Fallin for You"}, messageId="m-song"),
            {
                "type": "page",
                "userId": "u-42",
                "name": "Home",
                "messageId": "m-page",
                "timestamp": "2026-11-24T10:16:00+09:00",
            },
            {
                "type": "track",
                "event": "Product Viewed",
                "anonymousId": "anon-1",
                "properties": {"product_id": "p2"},
                "messageId": "m-anon",
                "timestamp": "2026-11-24T10:17:00+09:00",
            },
        ],
        "context": {"library": {"name": "analytics-python"}},
    }
    events = parsed(segment.to_events({}, batch))
    assert [(e.type, e.id) for e in events] == [
        ("customer.updated", "segment:m-identify"),
        ("product.viewed", "segment:m-view"),
        ("cart.updated", "segment:m-add"),
        ("cart.updated", "segment:m-cart"),
        ("checkout.started", "segment:m-checkout"),
        ("order.placed", "segment:order:1001"),
        ("order.refunded", "segment:m-refund"),
    ]
    identify, view, added, cart, checkout, order, refund = events
    assert all(e.customer.id == "u-42" and e.customer.email == "hanako@example.com" for e in events)
    assert (identify.data.first_name, identify.data.last_name) == ("Hanako", "Yamada")
    assert identify.data.birthday.isoformat() == "1990-05-14"
    assert identify.data.signed_up_at.isoformat() == "2024-01-02T03:04:05+00:00"
    assert (identify.data.locale, identify.data.timezone) == ("ja-JP", "Asia/Tokyo")
    assert identify.data.attributes["plan"] == "gold"
    assert (view.data.product_id, view.data.currency, view.data.url) == (
        "p1",
        "JPY",
        "https://shop.example/p1",
    )
    assert added.data.attributes["partial"] is True and added.data.items[0].quantity == 2
    assert (cart.data.cart_id, cart.data.currency, str(cart.data.total)) == (
        "c-1",
        "USD",
        "25",
    )  # USD by default
    assert (checkout.data.checkout_id, str(checkout.data.total)) == ("1001", "4980")
    assert (order.data.total_minor, order.data.discount_codes, order.data.categories) == (
        4980,
        ["WELCOME10"],
        {"tea"},
    )
    assert (refund.data.order_id, refund.data.amount_minor) == ("1001", 2490)
    assert view.occurred_at.isoformat() == "2026-11-24T01:15:00+00:00"

    assert [m.get("messageId") for m in segment.messages(batch)][:2] == ["m-identify", "m-view"]
    first, second = segment.messages(batch)[:2]  # the batch context reaches every message
    assert first["context"] == {
        "library": {"name": "analytics-python"},
        "locale": "ja-JP",
        "timezone": "Asia/Tokyo",
    }
    assert second["context"]["traits"] == {"email": "hanako@example.com"}


def test_segment_accepts_an_array_body_and_v1_names() -> None:
    body = [track("Completed Order", {"order_id": 7, "revenue": 12.5, "currency": "EUR"}, messageId="x")]
    (order,) = parsed(segment.to_events({}, body))
    assert (order.id, order.data.total_minor, order.data.currency) == ("segment:order:7", 1250, "EUR")


def test_segment_order_completed_twice_is_one_order() -> None:
    one = track("Order Completed", {"order_id": "1001", "total": 10}, messageId="first")
    two = track("Order Completed", {"order_id": "1001", "total": 10}, messageId="reload")
    assert ids(segment.to_events({}, one)) == ids(segment.to_events({}, two)) == ["segment:order:1001"]


# --- unusable payloads -------------------------------------------------------------------------


def test_unusable_payloads_raise_adapter_error() -> None:
    order = load("shopify_orders_create_sample_legacy.json")
    for broken, match in [
        ({k: v for k, v in order.items() if k != "id"}, "no id"),
        ({k: v for k, v in order.items() if k not in {"customer", "email", "contact_email"}}, "no customer"),
        ({**order, "total_price": None}, "total_price"),
        ({**order, "created_at": "yesterday", "processed_at": None}, "created_at"),
    ]:
        with pytest.raises(AdapterError, match=match):
            shopify.to_events(shopify_headers("orders/create"), broken)
    with pytest.raises(AdapterError):
        shopify.to_events(shopify_headers("orders/create"), ["not", "an", "object"])
    with pytest.raises(AdapterError, match="Triggered-At"):
        shopify.to_events({"X-Shopify-Topic": "customers/redact"}, load("shopify_customers_redact.json"))

    woo = load("woocommerce_order_v3_sample.json")
    with pytest.raises(AdapterError, match="billing email"):
        woocommerce.to_events(
            woo_headers("order.created"), {**woo, "billing": {**woo["billing"], "email": ""}}
        )
    with pytest.raises(AdapterError, match="legacy"):
        woocommerce.to_events(woo_headers("order.created"), {"order": woo})
    with pytest.raises(AdapterError, match="no id"):
        woocommerce.to_events(woo_headers("order.created"), {**woo, "id": None})

    with pytest.raises(AdapterError, match="order_id"):
        segment.to_events({}, track("Order Completed", {"total": 10}))
    anonymous = {**load("segment_identify_example.json"), "userId": None, "traits": {"plan": "free"}}
    with pytest.raises(AdapterError, match="identify"):
        segment.to_events({}, anonymous)
    with pytest.raises(AdapterError, match=r"batch\[1\]"):
        segment.to_events(
            {}, {"batch": [track("Song Played", {}), track("Order Refunded", {"order_id": "1"})]}
        )
    with pytest.raises(AdapterError):
        segment.to_events({}, "just a string")


def test_anonymous_browsing_is_ignored_not_an_error() -> None:
    checkout = {**load("shopify_checkouts_create_sample_EXCERPT.json"), "email": None, "customer": None}
    assert shopify.to_events(shopify_headers("checkouts/update"), checkout) == []
    completed = {
        **load("shopify_checkouts_create_sample_EXCERPT.json"),
        "completed_at": "2022-01-01T00:05:00Z",
    }
    assert shopify.to_events(shopify_headers("checkouts/update"), completed) == []
    anonymous = {
        k: v
        for k, v in track("Product Viewed", {"product_id": "p"}).items()
        if k not in {"userId", "context"}
    }
    assert segment.to_events({}, {**anonymous, "anonymousId": "a-1"}) == []


def test_a_cart_that_names_its_customer_maps_to_cart_updated() -> None:
    cart = {**load("shopify_carts_create_sample.json"), "customer": {"id": 706405506930370084}}
    (event,) = parsed(shopify.to_events(shopify_headers("carts/update"), cart))
    assert event.id == "shopify:cart:exampleCartId:2022-01-01T00:00:00.000Z"
    assert (event.data.cart_id, str(event.data.total), event.data.currency) == (
        "exampleCartId",
        "59.97",
        "USD",
    )


def test_invalid_email_is_dropped_when_an_id_remains() -> None:
    customer = {**load("shopify_customers_create_sample.json"), "email": "not-an-address"}
    (event,) = parsed(shopify.to_events(shopify_headers("customers/update"), customer))
    assert event.customer.id == "706405506930370084" and event.customer.email is None


def test_adapter_lookup() -> None:
    assert adapter("shopify") is shopify and adapter("segment") is segment
    with pytest.raises(KeyError):
        adapter("magento")


def test_overlong_ids_are_shortened_but_stay_stable() -> None:
    checkout = {**load("shopify_checkouts_create_sample_EXCERPT.json"), "token": "t" * 96}
    first = shopify.to_events(shopify_headers("checkouts/update"), checkout)
    again = shopify.to_events(shopify_headers("checkouts/update"), copy.deepcopy(checkout))
    (event,) = parsed(first)
    assert len(event.id) <= 128 and ids(first) == ids(again)


def test_a_refund_whose_transactions_have_not_succeeded_returns_nothing_yet() -> None:
    refund = load("shopify_refunds_create_sample_EXCERPT.json")
    for tx in refund["transactions"]:
        tx["status"] = "pending"
    (event,) = parsed(
        shopify.to_events(shopify_headers("refunds/create"), {**refund, "email": "a@example.com"})
    )
    assert event.data.amount_minor == 0  # not the 89.99 of the refunded line: no money has moved


def test_messages_without_message_id_get_distinct_digest_ids() -> None:
    batch = load("segment_http_api_batch_excerpt.json")
    batch["batch"][1] = track("Product Viewed", {"product_id": "p1"})
    batch["batch"].append(track("Product Viewed", {"product_id": "p2"}))
    events = parsed(segment.to_events({}, batch))
    assert [e.type for e in events] == ["customer.updated", "product.viewed", "product.viewed"]
    assert all(e.id.startswith("segment:h:") for e in events)


# --- WooCommerce's creation ping and Shopify's current customer shape --------------------------


def test_woocommerce_ping_is_recognised_only_as_the_bare_form_body() -> None:
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    assert woocommerce.is_ping(form, b"webhook_id=17")
    assert not woocommerce.is_ping(form, b"webhook_id=17&x=1")
    assert not woocommerce.is_ping(form, b'{"webhook_id": 17}')
    # a real delivery names its topic, so it is never mistaken for a ping
    assert not woocommerce.is_ping({**form, "X-WC-Webhook-Topic": "order.created"}, b"webhook_id=17")


def test_shopify_2025_orders_carry_no_customer_consent_and_the_checkbox_still_counts() -> None:
    # Since API 2025-01 the customer inside an order has neither `accepts_marketing` nor
    # `email_marketing_consent` (nor tags); consent arrives on its own topic.
    order = load("shopify_orders_create_sample_legacy.json")
    for gone in ("accepts_marketing", "email_marketing_consent", "tags", "accepts_marketing_updated_at"):
        order["customer"].pop(gone, None)
    order["buyer_accepts_marketing"] = False
    _, profile = parsed(shopify.to_events(shopify_headers("orders/create"), order))
    assert profile.data.accepts_marketing is None  # unknown, not an opt-out
    order["buyer_accepts_marketing"] = True
    _, profile = parsed(shopify.to_events(shopify_headers("orders/create"), order))
    assert profile.data.accepts_marketing is True


# --- fulfilment ----------------------------------------------------------------------------------


def _shopify_fulfillment(fid: int, created_at: str, **changes: Any) -> dict[str, Any]:
    """A fulfillment as Shopify's REST Fulfillment resource (and the fulfillments/create sample)
    shapes it: ids as integers above 2**53, the order's email, tracking fields."""
    return {
        "id": fid,
        "order_id": 820982911946154508,
        "status": "success",
        "created_at": created_at,
        "updated_at": created_at,
        "service": "manual",
        "tracking_company": "UPS",
        "shipment_status": None,
        "email": "jon@example.com",
        "tracking_number": "1z827wk74630",
        "tracking_numbers": ["1z827wk74630"],
        "name": "#9999.1",
        **changes,
    }


def test_shopify_orders_fulfilled_and_fulfillments_create_map_to_order_fulfilled() -> None:
    order = load("shopify_orders_create_sample_legacy.json")
    order["fulfillment_status"] = "fulfilled"
    order["fulfillments"] = [
        _shopify_fulfillment(255858046, "2019-06-06T10:00:00-04:00"),
        _shopify_fulfillment(255858047, "2019-06-05T09:00:00-04:00"),  # the first shipment
        _shopify_fulfillment(255858048, "2019-06-04T18:00:00-04:00", status="cancelled"),
    ]
    (whole,) = parsed(shopify.to_events(shopify_headers("orders/fulfilled"), order))
    assert (whole.type, whole.id) == ("order.fulfilled", "shopify:order:820982911946154508:fulfilled")
    assert not whole.is_activity
    assert whole.customer.id == "115310627314723954"
    assert whole.data.order_id == "820982911946154508"
    assert whole.occurred_at.isoformat() == "2019-06-05T13:00:00+00:00"  # the earliest successful one
    assert whole.data.status == "shipped"
    assert whole.data.attributes == {"fulfillment_status": "fulfilled", "fulfillments": 2}
    # redelivered under another delivery id: the same event id, so it counts once
    again = shopify.to_events(shopify_headers("orders/fulfilled", "another-delivery"), copy.deepcopy(order))
    assert [e["id"] for e in again] == [whole.id]
    for f in order["fulfillments"]:
        f["shipment_status"] = "delivered"
    assert parsed(shopify.to_events(shopify_headers("orders/fulfilled"), order))[0].data.status == "delivered"

    (one,) = parsed(
        shopify.to_events(
            shopify_headers("fulfillments/create"),
            _shopify_fulfillment(255858047, "2019-06-05T09:00:00-04:00"),
        )
    )
    assert (one.type, one.id) == ("order.fulfilled", "shopify:fulfillment:255858047")
    assert (one.customer.id, one.customer.email) == (None, "jon@example.com")
    assert (one.data.order_id, one.data.status) == ("820982911946154508", "shipped")
    assert one.occurred_at == whole.occurred_at
    assert one.data.attributes["tracking_number"] == "1z827wk74630"


@pytest.mark.parametrize("status", ["pending", "open", "cancelled", "error", "failure"])
def test_shopify_a_fulfillment_not_done_gives_nothing(status: str) -> None:
    fulfillment = _shopify_fulfillment(1, "2019-06-05T09:00:00-04:00", status=status)
    assert shopify.to_events(shopify_headers("fulfillments/create"), fulfillment) == []


def test_shopify_a_fulfillment_without_email_is_refused_with_a_hint() -> None:
    fulfillment = _shopify_fulfillment(1, "2019-06-05T09:00:00-04:00", email=None)
    with pytest.raises(AdapterError, match="orders/fulfilled"):
        shopify.to_events(shopify_headers("fulfillments/create"), fulfillment)
