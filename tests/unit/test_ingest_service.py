"""The ingest service answers exactly as DESIGN.md §4.1 says and publishes nothing it refuses."""

import json
from datetime import UTC, datetime

import pytest

from comeback.bus import PublishError
from comeback.clock import FixedClock
from comeback.ingest import Ingest
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
