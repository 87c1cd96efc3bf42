"""`DynamoProductStore` on moto, against the in-memory fake: one contract for both.

The counts of pairs, the catalogue data, the bound on partners (the merge that cuts it), a
product first seen in a basket of several (no partners map yet), concurrent counters of one
product, and the requests an order costs.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email import message_from_string, policy
from typing import Any

import boto3
import pytest
from moto import mock_aws

from comeback.aws import keys
from comeback.aws.product_store import DynamoProductStore
from comeback.domain import products
from comeback.domain.clock import FixedClock
from comeback.domain.events import OrderPlaced, ProductViewed, parse_event
from tests.fakes.product_store import InMemoryProductStore
from tests.support import shop_event

TABLE = "comeback-products"
T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


class Counting:
    """The DynamoDB client, counting requests by operation (what the bench reports)."""

    def __init__(self, client: Any) -> None:
        self._client = client
        self.exceptions = client.exceptions
        self.calls: dict[str, int] = {}

    def __getattr__(self, name: str) -> Any:
        method = getattr(self._client, name)

        def call(**kwargs: Any) -> Any:
            self.calls[name] = self.calls.get(name, 0) + 1
            return method(**kwargs)

        return call


@pytest.fixture
def ddb() -> Iterator[Counting]:
    with mock_aws():
        client: Any = boto3.client("dynamodb", region_name="us-east-1")
        client.create_table(**keys.table_definition(TABLE))
        yield Counting(client)


def order(n: int, basket: list[str]) -> OrderPlaced:
    items = [
        {"product_id": p, "name": f"Product {p}", "category": "tea", "price": "1200",
         "url": f"https://shop.example.com/{p}"}
        for p in basket
    ]  # fmt: skip
    event = parse_event(
        {"id": f"e{n}", "type": "order.placed", "occurred_at": "2026-03-01T09:00:00Z",
         "customer": {"id": "c"},
         "data": {"order_id": f"o{n}", "total": str(1200 * len(basket)), "currency": "JPY", "items": items}}
    )  # fmt: skip
    assert isinstance(event, OrderPlaced)
    return event


def view(product: dict[str, Any]) -> ProductViewed:
    event = parse_event(
        {"id": "v", "type": "product.viewed", "occurred_at": "2026-03-01T09:00:00Z", "customer": {"id": "c"},
         "data": product}
    )  # fmt: skip
    assert isinstance(event, ProductViewed)
    return event


BASKETS = [["a", "b"], ["a", "b", "c"], ["c"], ["b", "a"], ["d", "a", "a"], ["e", "b", "c", "d"]]


def test_the_adapter_counts_and_describes_as_the_fake_does(ddb: Counting) -> None:
    store, fake = DynamoProductStore(ddb, TABLE, FixedClock(T0)), InMemoryProductStore()
    sencha = {"product_id": "a", "name": "Sencha", "price": "980", "currency": "JPY",
              "image_url": "https://cdn.example.com/a.jpg"}  # fmt: skip
    for target in (store, fake):
        target.record_view("s", view(sencha).data)
        for n, basket in enumerate(BASKETS):
            target.record_order("s", order(n, basket).data)
        target.record_view("s", view({"product_id": "z", "name": "Kyusu"}).data)

    ids = ["a", "b", "c", "d", "e", "z", "unknown"]
    assert store.products("s", ids) == fake.products("s", ids)
    a = store.products("s", ["a"])["a"]
    assert a.orders == 4 and dict(a.partners) == {"b": 3, "c": 1, "d": 1}
    assert (a.name, a.price_minor, a.image_url, a.url) == (
        "Product a", 1200, "https://cdn.example.com/a.jpg", "https://shop.example.com/a",
    )  # fmt: skip
    assert store.products("other-shop", ids) == {}


def test_an_order_costs_one_update_per_counted_product_once_the_products_are_known(ddb: Counting) -> None:
    store = DynamoProductStore(ddb, TABLE, FixedClock(T0))
    store.record_order("s", order(0, ["a", "b", "c"]).data)  # first seen together: read and merge
    first = dict(ddb.calls)
    ddb.calls.clear()
    store.record_order("s", order(1, ["a", "b", "c"]).data)
    assert ddb.calls == {"update_item": 3}
    assert first == {"update_item": 6, "get_item": 3}  # a failed conditional update, a read, a write
    ddb.calls.clear()
    store.record_order("s", order(2, ["a"]).data)
    assert ddb.calls == {"update_item": 1}


def test_partners_stay_bounded_and_the_strongest_survive_the_cut(ddb: Counting) -> None:
    store, fake = DynamoProductStore(ddb, TABLE, FixedClock(T0)), InMemoryProductStore()
    for target in (store, fake):
        for n in range(5):
            target.record_order("s", order(n, ["hub", "strong"]).data)
        for n in range(products.MAX_PARTNERS + 30):
            target.record_order("s", order(100 + n, ["hub", f"q{n:03d}"]).data)
    hub = store.products("s", ["hub"])["hub"]
    assert len(hub.partners) <= products.MAX_PARTNERS and hub.partners["strong"] == 5
    assert hub == fake.products("s", ["hub"])["hub"]


class Interleaved(Counting):
    """Another container counts an order of the same product between our read and our write."""

    def __init__(self, client: Any, other: Any) -> None:
        super().__init__(client)
        self.other = other

    def __getattr__(self, name: str) -> Any:
        method = super().__getattr__(name)
        if name != "get_item" or self.other is None:
            return method

        def read_then_lose_the_race(**kwargs: Any) -> Any:
            answer = method(**kwargs)
            other, self.other = self.other, None
            other()
            return answer

        return read_then_lose_the_race


def test_a_count_that_lands_between_the_merges_read_and_write_is_kept(ddb: Counting) -> None:
    plain = DynamoProductStore(ddb, TABLE, FixedClock(T0))
    racing = Interleaved(ddb, lambda: plain.record_order("s", order(1, ["a", "c"]).data))
    # "a" is new: the first order with others merges (read, write on condition pv did not move)
    DynamoProductStore(racing, TABLE, FixedClock(T0)).record_order("s", order(0, ["a", "b"]).data)
    a = plain.products("s", ["a"])["a"]
    assert a.orders == 2 and dict(a.partners) == {"b": 1, "c": 1}


# -- through the real handlers -------------------------------------------------------------------


def shop_basket(n: int, basket: list[str], when: str) -> dict[str, Any]:
    items = [
        {"product_id": p, "name": f"Tea {p}", "category": "tea", "price": "1500",
         "url": f"https://shop.example.com/{p}", "image_url": f"https://cdn.example.com/{p}.jpg"}
        for p in basket
    ]  # fmt: skip
    data = {"order_id": f"so-{n}", "total": str(1500 * len(basket)), "currency": "JPY", "items": items}
    return shop_event(
        "order.placed", id=f"so-{n}", occurred_at=when, customer={"id": f"buyer-{n}"}, data=data
    )


def crosssell_after_the_shops_orders(engine: Any) -> None:
    """Shop orders build the pairs (contacts), the customer's order is followed 14 days later by a
    cross-sell email (sweep reads the products, sender renders their blocks)."""
    from comeback.recipes.base import in_holdout
    from tests.integration.test_contacts import apply_events

    now = engine.clock.now().isoformat()
    customer = next(
        {"id": f"c-{i}", "email": f"c{i}@example.com"}
        for i in range(100)
        if not in_holdout("demo", f"c-{i}", "mine", "crosssell", 10)
    )
    apply_events(engine, *[shop_basket(n, ["sencha", "kyusu", "hojicha"], now) for n in range(3)])
    consent = shop_event(
        "customer.updated", id="u-mine", occurred_at=now, customer=customer,
        data={"first_name": "Hanako", "locale": "en", "accepts_marketing": True},
    )  # fmt: skip
    mine = shop_basket(9, ["sencha", "hojicha"], now)
    mine.update(id="mine", customer=customer)
    mine["data"]["order_id"] = "mine"
    apply_events(engine, consent, mine, mine)  # delivered twice: counted once
    assert engine.runtime.products.products("demo", ["sencha"])["sencha"].partners == {
        "kyusu": 3,
        "hojicha": 4,
    }

    engine.clock.advance(timedelta(days=14))
    report = engine.sweep()
    assert report["campaigns"].get("crosssell") == 1
    engine.deliver("outbox")
    mails = [message_from_string(m.raw_data, policy=policy.default) for m in engine.sent_emails()]
    (mail,) = [m for m in mails if m["Subject"] == "Picked to go with your last order"]
    text = mail.get_body(("plain",)).get_content()
    html = mail.get_body(("html",)).get_content()
    assert "Tea kyusu" in text and "¥1,500" in text and "https://shop.example.com/kyusu" in text
    assert 'src="https://cdn.example.com/kyusu.jpg"' in html
    assert "Tea sencha" not in text and "Tea hojicha" not in text  # bought: never suggested


def test_orders_through_the_handlers_lead_to_one_crosssell_email_of_what_was_not_bought(engine: Any) -> None:
    crosssell_after_the_shops_orders(engine)
