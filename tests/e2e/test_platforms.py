"""Issue 7 §1: Shopify, WooCommerce and Segment webhooks over HTTP, against `comeback local serve`.

Payloads follow the platforms' documentation: Shopify's orders/create for API 2025-01 and later (the
customer carries no `accepts_marketing`, no `email_marketing_consent`, no tags) and its legacy test
order; WooCommerce's REST v3 order as its webhooks send it, with the `X-WC-Webhook-*` headers and
the creation ping (`webhook_id=N`, form-encoded, unsigned); Segment's identify and e-commerce
"Order Completed" as its Webhooks destination posts them, signed in `X-Signature`.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import hmac
import json
from collections.abc import Iterator
from typing import Any

import pytest

from comeback.local.launch import local_serve
from tests.e2e.conftest import Client, free_port
from tests.support import EVENTS

pytestmark = pytest.mark.e2e

ACME = "acme"
BRAVO = "bravo"
SECRETS = {
    (ACME, "shopify"): "shpss_acme_app_secret",
    (ACME, "woocommerce"): "wc acme: secret with spaces & colons",
    (ACME, "segment"): "segment-acme-shared",
    (BRAVO, "shopify"): "shpss_bravo_app_secret",
    (BRAVO, "woocommerce"): "wc-bravo",
    (BRAVO, "segment"): "segment-bravo-shared",
}
ROUTES = {"shopify": "webhooks/shopify", "woocommerce": "webhooks/woocommerce", "segment": "segment"}
KEPT = (
    "orders_count",
    "total_spent_minor",
    "currency",
    "email",
    "first_name",
    "last_order_at",
    "events_count",
)


@pytest.fixture(scope="module")
def local() -> Iterator[Client]:
    flags = ["--shop", f"{ACME}:whsec_YWNtZS1zZWNyZXQ=", "--shop", f"{BRAVO}:whsec_YnJhdm8tc2VjcmV0"]
    for (shop, platform), secret in SECRETS.items():
        flags += ["--platform-secret", f"{shop}:{platform}:{secret}"]
    with local_serve("--port", str(free_port()), "--start", "2026-01-05T12:00:00+09:00", *flags) as base:
        yield Client(base)


def deliver(local: Client, shop: str, platform: str, body: bytes, headers: dict[str, str]) -> tuple[int, Any]:
    status, answer = local.call("POST", f"/v1/shops/{shop}/{ROUTES[platform]}", body, headers)
    local.post("/_local/drain")
    return status, answer


def contact(local: Client, shop: str, customer: str) -> dict[str, Any] | None:
    status, view = local.call("GET", f"/_local/contacts/{shop}/{customer}")
    assert status in (200, 404), (status, view)
    return view if status == 200 else None


def kept(view: dict[str, Any] | None) -> dict[str, Any]:
    assert view is not None
    return {k: view[k] for k in KEPT}


# --- Shopify -----------------------------------------------------------------------------------


def shopify_headers(body: bytes, topic: str, secret: str, webhook_id: str) -> dict[str, str]:
    digest = hmac.new(secret.encode(), body, hashlib.sha256).digest()
    return {
        "Content-Type": "application/json",
        "X-Shopify-Topic": topic,
        "X-Shopify-Hmac-Sha256": base64.b64encode(digest).decode(),
        "X-Shopify-Shop-Domain": "acme-tea.myshopify.com",
        "X-Shopify-API-Version": "2025-10",
        "X-Shopify-Webhook-Id": webhook_id,
        "X-Shopify-Event-Id": f"event-{webhook_id}",
        "X-Shopify-Triggered-At": "2026-01-04T01:30:00.000000Z",
    }


def shopify_order_2025() -> dict[str, Any]:
    """An orders/create payload as API 2025-01+ sends it (ids above 2**53, as Shopify's are)."""
    return {
        "id": 5940139491234567890,
        "admin_graphql_api_id": "gid://shopify/Order/5940139491234567890",
        "name": "#1001",
        "order_number": 1001,
        "email": "hanako@example.com",
        "contact_email": "hanako@example.com",
        "created_at": "2026-01-04T10:30:00+09:00",
        "processed_at": "2026-01-04T10:30:00+09:00",
        "updated_at": "2026-01-04T10:30:01+09:00",
        "currency": "JPY",
        "presentment_currency": "JPY",
        "total_price": "4980",
        "subtotal_price": "4980",
        "financial_status": "paid",
        "buyer_accepts_marketing": True,
        "customer_locale": "ja",
        "source_name": "web",
        "test": False,
        "discount_codes": [{"code": "WELCOME10", "amount": "0", "type": "percentage"}],
        "total_shipping_price_set": {
            "shop_money": {"amount": "0", "currency_code": "JPY"},
            "presentment_money": {"amount": "0", "currency_code": "JPY"},
        },
        "line_items": [
            {
                "id": 13981567631234567890,
                "product_id": 7513594839234567890,
                "variant_id": 42134134534234567,
                "sku": "TEA-01",
                "title": "Sencha",
                "vendor": "Acme Tea",
                "product_type": "tea",
                "price": "2490",
                "quantity": 2,
            }
        ],
        "customer": {
            "id": 6147919642668123456,
            "email": "hanako@example.com",
            "created_at": "2025-12-01T09:00:00+09:00",
            "updated_at": "2026-01-04T10:30:01+09:00",
            "first_name": "Hanako",
            "last_name": "Yamada",
            "state": "enabled",
            "verified_email": True,
            "currency": "JPY",
            "phone": None,
            "default_address": {
                "address1": "1-2-3 Jingumae",
                "city": "Shibuya",
                "province_code": "JP-13",
                "zip": "150-0001",
                "country_code": "JP",
                "default": True,
            },
            "admin_graphql_api_id": "gid://shopify/Customer/6147919642668123456",
        },
    }


def shopify(
    local: Client,
    payload: Any,
    topic: str = "orders/create",
    shop: str = ACME,
    secret: str | None = None,
    webhook_id: str = "b54557e4-0001",
) -> tuple[int, Any]:
    body = json.dumps(payload, ensure_ascii=False).encode()
    headers = shopify_headers(body, topic, secret or SECRETS[(shop, "shopify")], webhook_id)
    return deliver(local, shop, "shopify", body, headers)


def test_shopify_current_order_creates_the_contact_and_a_redelivery_changes_nothing(local: Client) -> None:
    order = shopify_order_2025()
    status, answer = shopify(local, order)
    assert (status, answer) == (202, {"accepted": 2, "rejected": []})
    view = contact(local, ACME, "6147919642668123456")
    assert view is not None
    assert (view["orders_count"], view["total_spent_minor"], view["currency"]) == (1, 4980, "JPY")
    assert (view["email"], view["first_name"]) == ("hanako@example.com", "Hanako")
    assert view["accepts_marketing"] is True  # the order's checkbox; the customer has no consent field
    before = kept(view)

    assert shopify(local, order)[0] == 202  # the same delivery again (Shopify retries)
    # orders/paid for the same order, a new delivery id: still the same order
    assert shopify(local, order, topic="orders/paid", webhook_id="b54557e4-0002")[0] == 202
    assert kept(contact(local, ACME, "6147919642668123456")) == before


def test_shopify_legacy_order_sample_is_accepted(local: Client) -> None:
    legacy = json.loads((EVENTS / "platforms" / "shopify_orders_create_sample_legacy.json").read_bytes())
    status, answer = shopify(local, legacy, webhook_id="legacy-1")
    assert status == 202 and answer["rejected"] == []
    view = contact(local, ACME, str(legacy["customer"]["id"]))
    assert view is not None
    assert (view["orders_count"], view["total_spent_minor"], view["currency"]) == (1, 40300, "USD")


def test_shopify_wrong_signature_and_another_shops_secret_get_401(local: Client) -> None:
    order = shopify_order_2025()
    order["id"], order["customer"]["id"] = 111, 222
    assert shopify(local, order, secret="not-the-secret")[0] == 401
    # shop B's route, signed with shop A's secret
    assert shopify(local, order, shop=BRAVO, secret=SECRETS[(ACME, "shopify")])[0] == 401
    assert contact(local, ACME, "222") is None and contact(local, BRAVO, "222") is None


def test_shopify_topics_we_do_not_use_answer_200(local: Client) -> None:
    status, _ = shopify(local, {"id": 632910392, "title": "Sencha"}, topic="products/update")
    assert status == 200
    status, _ = shopify(local, {"id": 1, "name": "Chanoma", "domain": "chanoma.example"}, topic="shop/update")
    assert status == 200


# --- WooCommerce -------------------------------------------------------------------------------


def woo_order(status: str, modified: str) -> dict[str, Any]:
    """The REST v3 order sample (what order.* webhooks carry), as a guest order of a new shopper."""
    order: dict[str, Any] = copy.deepcopy(
        json.loads((EVENTS / "platforms" / "woocommerce_order_v3_sample.json").read_bytes())
    )
    order.update(
        {
            "id": 4242,
            "number": "4242",
            "status": status,
            "currency": "JPY",
            "total": "3200",
            "shipping_total": "0",
            "customer_id": 0,
            "date_created": "2026-01-04T09:00:00",
            "date_created_gmt": "2026-01-04T00:00:00",
            "date_modified": modified,
            "date_modified_gmt": modified,
            "date_paid_gmt": None if status == "pending" else modified,
            "refunds": [],
        }
    )
    order["billing"] = {**order["billing"], "email": "taro@example.com", "first_name": "Taro"}
    order["line_items"] = [
        {"id": 1, "name": "Genmaicha", "product_id": 93, "quantity": 2, "subtotal": "3200", "total": "3200",
         "price": 1600, "sku": "TEA-02", "variation_id": 0},
    ]  # fmt: skip
    return order


def woo_headers(body: bytes, topic: str, secret: str, delivery: str) -> dict[str, str]:
    resource, event = topic.split(".")
    digest = hmac.new(secret.encode(), body, hashlib.sha256).digest()
    return {
        "Content-Type": "application/json",
        "User-Agent": "WooCommerce/9.4.2 Hookshot (WordPress/6.7.1)",
        "X-WC-Webhook-Source": "https://acme-tea.example/",
        "X-WC-Webhook-Topic": topic,
        "X-WC-Webhook-Resource": resource,
        "X-WC-Webhook-Event": event,
        "X-WC-Webhook-ID": "3",
        "X-WC-Webhook-Delivery-ID": delivery,
        "X-WC-Webhook-Signature": base64.b64encode(digest).decode(),
    }


def woo(
    local: Client,
    payload: Any,
    topic: str,
    delivery: str,
    shop: str = ACME,
    secret: str | None = None,
) -> tuple[int, Any]:
    body = json.dumps(payload).encode()
    headers = woo_headers(body, topic, secret or SECRETS[(shop, "woocommerce")], delivery)
    return deliver(local, shop, "woocommerce", body, headers)


def test_woocommerce_creation_ping_answers_200(local: Client) -> None:
    headers = {
        "Content-Type": "application/x-www-form-urlencoded",
        "User-Agent": "WooCommerce/9.4.2 Hookshot (WordPress/6.7.1)",
    }
    for shop in (ACME, "no-such-shop"):
        status, _ = local.call("POST", f"/v1/shops/{shop}/webhooks/woocommerce", b"webhook_id=3", headers)
        assert status == 200


def test_woocommerce_order_counts_once_when_it_is_first_paid(local: Client) -> None:
    status, _ = woo(local, woo_order("pending", "2026-01-04T00:00:05"), "order.created", "d-1")
    assert status == 200  # not paid yet: nothing for us
    assert contact(local, ACME, "taro@example.com") is None

    status, answer = woo(local, woo_order("processing", "2026-01-04T00:01:00"), "order.updated", "d-2")
    assert (status, answer["accepted"]) == (202, 2)
    view = contact(local, ACME, "taro@example.com")
    assert view is not None
    assert (view["orders_count"], view["total_spent_minor"], view["first_name"]) == (1, 3200, "Taro")
    before = kept(view)

    assert woo(local, woo_order("completed", "2026-01-04T05:00:00"), "order.updated", "d-3")[0] == 202
    # WooCommerce gives every delivery a new id; the order id is what makes them one order
    assert woo(local, woo_order("completed", "2026-01-04T05:00:00"), "order.updated", "d-4")[0] == 202
    assert kept(contact(local, ACME, "taro@example.com")) == before


def test_woocommerce_wrong_signature_and_another_shops_secret_get_401(local: Client) -> None:
    order = woo_order("processing", "2026-01-04T00:01:00")
    order["id"], order["billing"]["email"] = 5151, "nobody@example.com"
    assert woo(local, order, "order.created", "d-9", secret="wrong")[0] == 401
    assert (
        woo(local, order, "order.created", "d-9", shop=BRAVO, secret=SECRETS[(ACME, "woocommerce")])[0] == 401
    )
    assert contact(local, ACME, "nobody@example.com") is None
    assert contact(local, BRAVO, "nobody@example.com") is None


def test_woocommerce_topics_we_do_not_use_answer_200(local: Client) -> None:
    assert woo(local, {"id": 93, "name": "Genmaicha"}, "product.updated", "d-p")[0] == 200
    assert woo(local, {"id": 4242}, "order.deleted", "d-x")[0] == 200


# --- Segment -----------------------------------------------------------------------------------


def segment(local: Client, message: Any, shop: str = ACME, secret: str | None = None) -> tuple[int, Any]:
    body = json.dumps(message).encode()
    signature = hmac.new((secret or SECRETS[(shop, "segment")]).encode(), body, hashlib.sha1).hexdigest()
    headers = {"Content-Type": "application/json", "User-Agent": "Segment.io/1.0", "X-Signature": signature}
    return deliver(local, shop, "segment", body, headers)


IDENTIFY = {
    "type": "identify",
    "messageId": "ajs-next-1736000000000-identify",
    "userId": "seg-user-7",
    "anonymousId": "507f191e810c19729de860ea",
    "traits": {"email": "Ken@Example.com", "firstName": "Ken", "lastName": "Sato", "plan": "premium"},
    "context": {"locale": "ja-JP", "timezone": "Asia/Tokyo", "library": {"name": "analytics.js"}},
    "timestamp": "2026-01-03T08:00:00.000Z",
    "sentAt": "2026-01-03T08:00:00.120Z",
    "receivedAt": "2026-01-03T08:00:00.500Z",
    "version": 2,
}
ORDER_COMPLETED = {
    "type": "track",
    "event": "Order Completed",
    "messageId": "ajs-next-1736000000000-order",
    "userId": "seg-user-7",
    "properties": {
        "checkout_id": "fksdjfsdjfisjf9sdfjsd9f",
        "order_id": "50314b8e9bcf000000000000",
        "total": 27.5,
        "revenue": 25.0,
        "shipping": 3,
        "tax": 2,
        "discount": 2.5,
        "coupon": "hasbros",
        "currency": "USD",
        "products": [
            {
                "product_id": "507f1f77bcf86cd799439011",
                "sku": "45790-32",
                "name": "Monopoly: 3rd Edition",
                "price": 19,
                "quantity": 1,
                "category": "Games",
            },
        ],
    },
    "context": {"traits": {"email": "ken@example.com"}},
    "timestamp": "2026-01-04T08:00:00.000Z",
}


def test_segment_identify_and_order_update_the_contact_and_a_redelivery_changes_nothing(
    local: Client,
) -> None:
    assert segment(local, IDENTIFY)[0] == 202
    view = contact(local, ACME, "seg-user-7")
    assert view is not None
    assert (view["email"], view["first_name"], view["orders_count"]) == ("ken@example.com", "Ken", 0)

    assert segment(local, ORDER_COMPLETED)[0] == 202
    view = contact(local, ACME, "seg-user-7")
    assert view is not None
    assert (view["orders_count"], view["total_spent_minor"], view["currency"]) == (1, 2750, "USD")
    before = kept(view)

    assert segment(local, ORDER_COMPLETED)[0] == 202  # Segment retries with the same message
    # a reloaded thank-you page fires it again with a new messageId: still one order
    assert segment(local, {**ORDER_COMPLETED, "messageId": "ajs-next-reload"})[0] == 202
    assert segment(local, {"batch": [IDENTIFY, ORDER_COMPLETED]})[0] == 202
    assert kept(contact(local, ACME, "seg-user-7")) == before


def test_segment_wrong_signature_and_another_shops_secret_get_401(local: Client) -> None:
    message = {**IDENTIFY, "userId": "seg-user-99", "messageId": "m-99"}
    assert segment(local, message, secret="wrong")[0] == 401
    assert segment(local, message, shop=BRAVO, secret=SECRETS[(ACME, "segment")])[0] == 401
    assert contact(local, ACME, "seg-user-99") is None and contact(local, BRAVO, "seg-user-99") is None


def test_segment_calls_we_do_not_use_answer_200(local: Client) -> None:
    page = {"type": "page", "userId": "seg-user-7", "name": "Home", "timestamp": "2026-01-04T08:00:00Z"}
    assert segment(local, page)[0] == 200
