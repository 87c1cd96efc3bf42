"""The ingest service answers exactly as DESIGN.md §4.1 says and publishes nothing it refuses."""

import base64
import hashlib
import hmac
import json
from datetime import UTC, datetime

import pytest

from comeback.app.ingest import Ingest
from comeback.aws.bus import PublishError
from comeback.domain.clock import FixedClock
from tests.support import DEMO_SECRET, shop_event, signed

NOW = datetime(2026, 11, 24, 1, 15, tzinfo=UTC)


class Secrets:
    def signing_secrets(self, shop_id):
        return [DEMO_SECRET] if shop_id == "demo" else []


class Bus:
    def __init__(self, fail=False):
        self.published, self.fail = [], fail

    def publish(self, entries):
        if self.fail:
            raise PublishError(len(entries), {"ThrottlingException"})
        self.published.extend(entries)


def ingest(bus=None, max_body=256 * 1024):
    return Ingest(Secrets(), bus or Bus(), FixedClock(NOW), max_body_bytes=max_body, tolerance_seconds=300)


def request(events=None, raw=None):
    body = raw if raw is not None else json.dumps({"events": events}).encode()
    return body, signed(body, at=int(NOW.timestamp()))


def test_valid_events_are_published_with_shop_and_event():
    bus = Bus()
    body, headers = request([shop_event("order.placed"), shop_event("product.viewed")])
    answer = ingest(bus).receive("demo", headers, body)
    assert (answer.status, answer.body) == (202, {"accepted": 2, "rejected": []})
    assert [e.detail_type for e in bus.published] == ["order.placed", "product.viewed"]
    assert bus.published[0].detail["shop_id"] == "demo"
    assert bus.published[0].detail["event"]["id"] == "ord-1001"


def test_invalid_events_are_listed_by_index_and_the_rest_accepted():
    bus = Bus()
    body, headers = request(
        [shop_event("order.placed"), {"id": "bad"}, shop_event("site.visited", customer={})]
    )
    answer = ingest(bus).receive("demo", headers, body)
    assert answer.status == 202
    assert [r["index"] for r in answer.body["rejected"]] == [1, 2]
    assert len(bus.published) == 1


def test_all_invalid_is_422_and_nothing_is_published():
    bus = Bus()
    body, headers = request([{"id": "bad"}])
    answer = ingest(bus).receive("demo", headers, body)
    assert answer.status == 422 and answer.body["accepted"] == 0 and bus.published == []


@pytest.mark.parametrize(
    ("raw", "status"),
    [
        (b"not json", 400),
        (b'{"events": []}', 400),
        (b'{"events": {}}', 400),
        (b"[1,2]", 400),
        (json.dumps({"events": [shop_event("order.placed")] * 101}).encode(), 400),
    ],
)
def test_bodies_that_are_not_a_batch_are_400(raw, status):
    bus = Bus()
    body, headers = request(raw=raw)
    assert ingest(bus).receive("demo", headers, body).status == status
    assert bus.published == []


def test_oversized_bodies_are_413_before_anything_else():
    bus = Bus()
    body, headers = request([shop_event("order.placed")])
    assert ingest(bus, max_body=len(body) - 1).receive("demo", headers, body).status == 413
    assert bus.published == []


@pytest.mark.parametrize("case", ["unknown_shop", "bad_signature", "stale", "no_headers"])
def test_every_authentication_failure_is_the_same_401(case):
    bus = Bus()
    body, headers = request([shop_event("order.placed")])
    shop = "demo"
    if case == "unknown_shop":
        shop = "other"
    elif case == "bad_signature":
        headers["webhook-signature"] = "v1,AAAA"
    elif case == "stale":
        headers = signed(body, at=int(NOW.timestamp()) - 301)
    else:
        headers = {}
    answer = ingest(bus).receive(shop, headers, body)
    assert (answer.status, answer.body) == (401, {"error": "unauthorized"})
    assert bus.published == []


def test_a_bus_that_keeps_refusing_means_503():
    body, headers = request([shop_event("order.placed")])
    assert ingest(Bus(fail=True)).receive("demo", headers, body).status == 503


# --- platform webhooks (Shopify, WooCommerce, Segment) ---------------------------------------

PLATFORM_SECRETS = {
    ("demo", "shopify"): "shpss_demo",
    ("demo", "woocommerce"): "wc-demo",
    ("demo", "segment"): "seg-demo",
}


class PlatformSecrets(Secrets):
    def platform_secret(self, shop_id, platform):
        return PLATFORM_SECRETS.get((shop_id, platform))


def platform_ingest(bus, max_body=256 * 1024):
    return Ingest(PlatformSecrets(), bus, FixedClock(NOW), max_body_bytes=max_body, tolerance_seconds=300)


def shopify_order(**changes):
    order = {
        "id": 5940139491234,
        "email": "hanako@example.com",
        "created_at": "2026-11-23T10:30:00+09:00",
        "currency": "JPY",
        "total_price": "4980",
        "line_items": [{"product_id": 7001, "title": "Sencha", "price": "2490", "quantity": 2}],
        "customer": {"id": 6147919642668, "email": "hanako@example.com", "first_name": "Hanako"},
    }
    order.update(changes)
    return order


def shopify_delivery(payload, topic="orders/create", secret="shpss_demo", body=None):
    body = body if body is not None else json.dumps(payload).encode()
    digest = hmac.new(secret.encode(), body, hashlib.sha256).digest()
    return body, {
        "X-Shopify-Topic": topic,
        "X-Shopify-Hmac-Sha256": base64.b64encode(digest).decode(),
        "X-Shopify-Webhook-Id": "b54557e4-8a5f-4f7d-8f4a-0d3e1c2b9a10",
        "X-Shopify-Triggered-At": "2026-11-24T01:00:00Z",
    }


def segment_delivery(payload, secret="seg-demo"):
    body = json.dumps(payload).encode()
    return body, {"X-Signature": hmac.new(secret.encode(), body, hashlib.sha1).hexdigest()}


def test_a_signed_shopify_order_is_published_as_order_and_profile():
    bus = Bus()
    body, headers = shopify_delivery(shopify_order())
    answer = platform_ingest(bus).receive_platform("demo", "shopify", headers, body)
    assert (answer.status, answer.body) == (202, {"accepted": 2, "rejected": []})
    assert [e.detail_type for e in bus.published] == ["order.placed", "customer.updated"]
    assert bus.published[0].detail["event"]["id"] == "shopify:order:5940139491234"
    assert bus.published[0].detail["shop_id"] == "demo"


@pytest.mark.parametrize("case", ["wrong_secret", "no_header", "tampered", "no_secret_set", "unknown_shop"])
def test_every_platform_authentication_failure_is_the_same_401(case):
    bus = Bus()
    body, headers = shopify_delivery(
        shopify_order(), secret="someone-else" if case == "wrong_secret" else "shpss_demo"
    )
    shop, platform = "demo", "shopify"
    if case == "no_header":
        del headers["X-Shopify-Hmac-Sha256"]
    elif case == "tampered":
        body = body.replace(b"4980", b"9999")
    elif case == "no_secret_set":
        shop = "other"
        PLATFORM_SECRETS.pop(("other", "shopify"), None)
    elif case == "unknown_shop":
        shop = "nobody"
    answer = platform_ingest(bus).receive_platform(shop, platform, headers, body)
    assert (answer.status, answer.body) == (401, {"error": "unauthorized"})
    assert bus.published == []


def test_one_platforms_secret_does_not_sign_for_another_platform():
    bus = Bus()
    body = json.dumps({"type": "identify", "userId": "c-1", "timestamp": "2026-11-23T00:00:00Z"}).encode()
    shopify_style = shopify_delivery(None, body=body, secret="seg-demo")[1]
    segment_style = {"X-Signature": hmac.new(b"shpss_demo", body, hashlib.sha1).hexdigest()}
    assert platform_ingest(bus).receive_platform("demo", "segment", shopify_style, body).status == 401
    assert platform_ingest(bus).receive_platform("demo", "segment", segment_style, body).status == 401
    assert bus.published == []


def test_topics_we_do_not_use_answer_200_and_publish_nothing():
    bus = Bus()
    body, headers = shopify_delivery({"id": 1, "title": "Sencha"}, topic="products/update")
    answer = platform_ingest(bus).receive_platform("demo", "shopify", headers, body)
    assert answer.status == 200 and bus.published == []


def test_the_woocommerce_ping_answers_200_unsigned_for_any_shop_and_publishes_nothing():
    bus = Bus()
    headers = {"Content-Type": "application/x-www-form-urlencoded", "User-Agent": "WooCommerce/9.0 Hookshot"}
    for shop in ("demo", "nobody"):
        answer = platform_ingest(bus).receive_platform(shop, "woocommerce", headers, b"webhook_id=12")
        assert answer.status == 200
    assert bus.published == []
    # the same body on another platform's route is just an unsigned request
    assert platform_ingest(bus).receive_platform("demo", "shopify", headers, b"webhook_id=12").status == 401


def test_a_signed_platform_body_that_is_not_json_is_400():
    bus = Bus()
    body, headers = shopify_delivery(None, body=b"<xml/>")
    assert platform_ingest(bus).receive_platform("demo", "shopify", headers, body).status == 400
    assert bus.published == []


def test_an_oversized_platform_body_is_413_before_the_signature_is_checked():
    bus = Bus()
    body, headers = shopify_delivery(shopify_order())
    headers["X-Shopify-Hmac-Sha256"] = "AAAA"
    answer = platform_ingest(bus, max_body=len(body) - 1).receive_platform("demo", "shopify", headers, body)
    assert answer.status == 413 and bus.published == []


def test_a_delivery_with_nothing_usable_is_422_with_the_reason():
    bus = Bus()
    anonymous = shopify_order(email=None, customer=None)  # a POS sale nobody is named for
    body, headers = shopify_delivery(anonymous)
    answer = platform_ingest(bus).receive_platform("demo", "shopify", headers, body)
    assert answer.status == 422 and answer.body["accepted"] == 0
    assert "no customer id or email" in answer.body["rejected"][0]["error"]
    assert bus.published == []


def test_a_segment_batch_rejects_bad_messages_by_their_position_and_keeps_the_rest():
    bus = Bus()
    batch = {
        "batch": [
            {"type": "identify", "userId": "c-1", "traits": {"email": "a@example.com"},
             "timestamp": "2026-11-23T00:00:00Z", "messageId": "m-1"},
            {"type": "identify", "anonymousId": "anon", "timestamp": "2026-11-23T00:00:00Z"},
            {"type": "page", "userId": "c-1", "timestamp": "2026-11-23T00:00:00Z"},
            {"type": "track", "event": "Order Completed", "userId": "c-1", "messageId": "m-4",
             "timestamp": "2026-11-23T00:00:00Z", "properties": {"order_id": "o-9", "total": "12.50"}},
            {"type": "track", "event": "Order Refunded", "userId": "c-1", "messageId": "m-5",
             "timestamp": "not a time", "properties": {"order_id": "o-9", "total": "12.50"}},
            {"type": "track", "event": "Order Completed", "userId": "c-1", "messageId": "m-6",
             "timestamp": "2026-11-23T00:00:00Z", "properties": {"order_id": "o-10", "total": "-5"}},
        ]
    }  # fmt: skip
    body, headers = segment_delivery(batch)
    answer = platform_ingest(bus).receive_platform("demo", "segment", headers, body)
    assert answer.status == 202 and answer.body["accepted"] == 2
    # 1 and 4 cannot be mapped, 5 maps to an event the model refuses: all named by message
    assert [r["index"] for r in answer.body["rejected"]] == [1, 4, 5]
    assert [e.detail["event"]["id"] for e in bus.published] == ["segment:m-1", "segment:order:o-9"]


def test_a_platform_delivery_the_bus_keeps_refusing_is_503_so_the_platform_retries():
    body, headers = shopify_delivery(shopify_order())
    assert platform_ingest(Bus(fail=True)).receive_platform("demo", "shopify", headers, body).status == 503
