"""Requests for shops that cannot or do not exist are refused before and without costly lookups;
a secret store that cannot answer is a 503 to retry, never a 401."""

import json
from datetime import UTC, datetime

import pytest

from comeback.app import ingest as ingest_module
from comeback.app.ingest import RETRY_AFTER_SECONDS, Ingest
from comeback.aws.shops import SHOP_ID_PATTERN, SecretsUnavailable, ShopConfig, UnknownShops, valid_shop_id
from comeback.domain.clock import FixedClock
from tests.support import DEMO_SECRET, shop_event, signed

NOW = datetime(2026, 11, 24, 1, 15, tzinfo=UTC)


class Secrets:
    def __init__(self, fail: bool = False) -> None:
        self.asked: list[str] = []
        self.fail = fail

    def signing_secrets(self, shop_id):
        self.asked.append(shop_id)
        if self.fail:
            raise SecretsUnavailable("ThrottlingException")
        return [DEMO_SECRET] if shop_id == "demo" else []

    def platform_secret(self, shop_id, platform):
        self.asked.append(shop_id)
        if self.fail:
            raise SecretsUnavailable("AccessDeniedException")
        return "shpss_demo" if shop_id == "demo" else None


class Bus:
    def __init__(self):
        self.published = []

    def publish(self, entries):
        self.published.extend(entries)


@pytest.fixture
def refusals(monkeypatch):
    counted: list[tuple[str, dict[str, str]]] = []
    monkeypatch.setattr(ingest_module, "count", lambda name, value=1, **dim: counted.append((name, dim)))
    return counted


def service(secrets):
    return Ingest(secrets, Bus(), FixedClock(NOW), max_body_bytes=256 * 1024, tolerance_seconds=300)


def request():
    body = json.dumps({"events": [shop_event("order.placed")]}).encode()
    return signed(body, at=int(NOW.timestamp())), body


@pytest.mark.parametrize(
    "shop_id", ["", "Demo", "demo_shop", "-demo", "d" * 64, "../etc", "demo%2F", "ショップ", "demo\n"]
)
def test_an_id_no_shop_can_have_is_400_and_nothing_is_looked_up(refusals, shop_id):
    secrets = Secrets()
    headers, body = request()
    answer = service(secrets).receive(shop_id, headers, body)
    assert answer.status == 400 and "shop id" in answer.body["error"]
    assert secrets.asked == []
    assert refusals == [("ShopRefused", {"reason": "shape"})]
    assert service(secrets).receive_platform(shop_id, "shopify", headers, body).status == 400
    assert secrets.asked == []


@pytest.mark.parametrize("shop_id", ["demo", "a", "shop-1", "0", "d" * 63])
def test_the_shape_ingest_accepts_is_the_one_shops_are_created_with(shop_id):
    assert valid_shop_id(shop_id)
    ShopConfig(shop_id=shop_id, name="x", created_at="2026-01-01T00:00:00Z")  # creation accepts it too
    assert ShopConfig.model_fields["shop_id"].metadata[-1].pattern == SHOP_ID_PATTERN


def test_an_unknown_shop_is_401_counted_as_unknown(refusals):
    headers, body = request()
    answer = service(Secrets()).receive("nobody", headers, body)
    assert (answer.status, answer.body) == (401, {"error": "unauthorized"})
    assert refusals == [("ShopRefused", {"reason": "unknown"})]


def test_a_bad_signature_is_401_counted_as_signature(refusals):
    headers, body = request()
    headers["webhook-signature"] = "v1,AAAA"
    assert service(Secrets()).receive("demo", headers, body).status == 401
    assert refusals == [("ShopRefused", {"reason": "signature"})]


@pytest.mark.parametrize("platform", [None, "shopify"])
def test_a_secret_store_that_cannot_answer_is_503_with_retry_after(refusals, platform):
    headers, body = request()
    ingest = service(Secrets(fail=True))
    if platform:
        answer = ingest.receive_platform("demo", platform, headers, body)
    else:
        answer = ingest.receive("demo", headers, body)
    assert answer.status == 503
    assert answer.headers == {"Retry-After": str(RETRY_AFTER_SECONDS)}
    assert refusals == [("ShopRefused", {"reason": "unavailable"})]


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def test_unknown_shops_are_forgotten_after_their_time():
    clock = Clock()
    unknown = UnknownShops(300, monotonic=clock)
    unknown.add("nobody")
    assert "nobody" in unknown and "other" not in unknown
    clock.now += 299
    assert "nobody" in unknown
    clock.now += 1
    assert "nobody" not in unknown


def test_unknown_shops_keep_at_most_their_size_oldest_forgotten_first():
    unknown = UnknownShops(300, size=3, monotonic=Clock())
    for shop_id in ("a", "b", "c", "d"):
        unknown.add(shop_id)
    assert [s in unknown for s in "abcd"] == [False, True, True, True]
