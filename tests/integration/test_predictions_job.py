"""The daily job fits each shop's BG/NBD and Gamma-Gamma on moto: the buyers index carries the first
order, the `PREDICTIONS` item is stored beside the cut points, the shop directory lays it on the
playbook, and the contact view scores a contact the contacts function wrote from its events."""

from __future__ import annotations

from datetime import timedelta

import numpy as np

from bench import buyer_sim
from comeback.aws import keys
from comeback.aws.segment_store import DynamoSegmentStore
from comeback.aws.shops import ShopDirectory
from comeback.domain import playbook
from comeback.domain.clock import isoformat
from comeback.domain.profile import empty
from comeback.domain.views import contact_view
from tests.integration.test_contacts import apply_events
from tests.integration.test_segments import run_segments
from tests.support import order, shop_event

CUSTOMERS = 700


def seed_buyers(engine) -> int:
    """Profiles written as the contacts function writes them (on the buyers index), their orders
    simulated by BG/NBD over two years; the number of repeat customers."""
    rng = np.random.default_rng(3)
    now = engine.clock.now()
    ages = rng.uniform(0, 730, CUSTOMERS)
    x, t_x = buyer_sim.histories(rng, ages, r=0.25, alpha=30.0, a=0.8, b=2.5)
    store, ddb, book = engine.runtime.contacts, engine.ddb, playbook.default()
    items = []
    for i in range(CUSTOMERS):
        first = now - timedelta(days=float(ages[i]))
        profile = empty("demo", f"sim-{i}", f"sim-{i}").model_copy(
            update={
                "orders_count": int(x[i]) + 1,
                "first_order_at": isoformat(first),
                "last_order_at": isoformat(first + timedelta(days=float(t_x[i]))),
                "spent": {"JPY": 3500 * (int(x[i]) + 1)},
            }
        )
        items.append({"PutRequest": {"Item": store.profile_item(profile, 1, book)}})
    for start in range(0, len(items), 25):
        ddb.batch_write_item(RequestItems={engine.settings.table_name: items[start : start + 25]})
    return int(np.sum(x > 0))


def test_the_daily_job_fits_the_shops_model_and_the_contact_view_scores_from_it(engine):
    repeaters = seed_buyers(engine)
    start = engine.clock.now()
    who = {"id": "taro", "email": "taro@example.com"}
    orders = [
        order(f"o-taro-{n}", isoformat(start - timedelta(days=60 - 20 * n)), who, total="3000")
        for n in range(3)
    ]
    named = shop_event("customer.updated", id="u-taro", occurred_at=isoformat(start), customer=who, data={})
    apply_events(engine, named, *orders)
    _, answers = run_segments(engine)
    assert all(a["batchItemFailures"] == [] for a in answers)
    store = DynamoSegmentStore(engine.ddb, engine.settings.table_name, engine.settings.due_shards)
    model = store.get_predictions("demo")
    assert model is not None and model.customers == CUSTOMERS + 1
    assert model.repeat_customers == repeaters + 1 and model.qualifies and model.confidence == "low"
    assert abs(model.r - 0.25) / 0.25 < 0.4 and model.mean_order_value is not None
    item = engine.ddb.get_item(
        TableName=engine.settings.table_name,
        Key={keys.PK: {"S": keys.shop("demo")}, keys.SK: {"S": keys.PREDICTIONS}},
    )
    assert "Item" in item
    book = ShopDirectory(engine.settings).playbook("demo")
    assert book.predictions == model and book.segmentation is not None
    taro = engine.runtime.contacts.find("demo", "taro")
    view = contact_view(taro, book, engine.clock.now())
    assert 0.5 < view["p_alive"] < 1 and view["p_alive_basis"] == "bg_nbd"
    assert view["expected_orders_90d"] > 0 and view["predicted_clv_365d"] > 0
    assert view["expected_next_order_at"] > isoformat(engine.clock.now())
    assert view["prediction_confidence"] == "low"


def test_a_shop_with_a_few_buyers_keeps_no_model_and_its_contacts_show_null_predictions(engine):
    who = {"id": "hanako", "email": "hanako@example.com"}
    apply_events(engine, order("o-h-1", isoformat(engine.clock.now()), who, total="3000"))
    run_segments(engine)
    book = ShopDirectory(engine.settings).playbook("demo")
    assert book.segmentation is not None and book.predictions is None
    view = contact_view(engine.runtime.contacts.find("demo", "hanako"), book, engine.clock.now())
    assert [view[k] for k in ("p_alive", "expected_orders_90d", "predicted_clv_365d")] == [None] * 3
    assert view["expected_next_order_at"] is None and view["prediction_confidence"] is None
