"""A shop's insight records on moto: events through the contacts function, read back through the
buyers index by `DynamoInsightStore`, equal to the records of the distinct events folded in Python."""

import copy
from functools import reduce

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from comeback.aws import keys
from comeback.aws.insight_store import DynamoInsightStore
from comeback.domain.events import parse_event
from comeback.domain.insight.cohorts import cohort_report
from comeback.domain.insight.measures import retention_report
from comeback.domain.insight.records import record_of
from comeback.domain.profile import apply, empty
from tests.integration.test_contacts import apply_events
from tests.support import order, shop_event


def store(engine):
    return DynamoInsightStore(engine.ddb, engine.settings.table_name, engine.settings.due_shards)


def placed(cid, n, at, total, **data):
    return order(f"{cid}-o{n}", at, {"id": cid}, total=str(total), **data)


SHOP = [
    placed("aoi", 1, "2026-01-10T00:00:00Z", 1000, discount_codes=["welcome10"], source_name="web"),
    placed("aoi", 2, "2026-02-10T00:00:00Z", 2000, discount_codes=["SPRING"], source_name="pos"),
    placed("ren", 1, "2026-01-20T00:00:00Z", 3000, source_name="pos"),
    placed("sora", 1, "2026-02-05T00:00:00Z", 500, discount_codes=["SPRING"]),
    placed("sora", 2, "2026-03-05T00:00:00Z", 1500),
    shop_event("order.refunded", id="sora-r1", occurred_at="2026-03-06T00:00:00Z", customer={"id": "sora"},
               data={"order_id": "sora-o2", "amount": "500", "currency": "JPY"}),
    shop_event("product.viewed", id="mio-v1", occurred_at="2026-01-02T00:00:00Z", customer={"id": "mio"}),
]  # fmt: skip


def expected(events):
    by_customer = {}
    for e in {e["id"]: e for e in events}.values():
        by_customer.setdefault(e["customer"]["id"], []).append(parse_event(e))
    folded = (reduce(apply, evs, empty("demo", cid, cid)) for cid, evs in by_customer.items())
    return sorted((r for p in folded if (r := record_of(p)) is not None), key=lambda r: r.contact_id)


def read(engine):
    return sorted(store(engine).customers("demo"), key=lambda r: r.contact_id)


def test_a_shops_buyers_come_back_with_their_month_history_and_first_order(engine):
    # the later orders first, then everything again: arrival order and redelivery change nothing
    apply_events(engine, *reversed(SHOP))
    apply_events(engine, *SHOP)
    found = read(engine)
    assert found == expected(SHOP)
    aoi, ren, sora = found  # mio only looked: not a buyer
    assert (aoi.first_code, aoi.first_channel, aoi.order_months) == (
        "WELCOME10",
        "web",
        {"2026-01": 1, "2026-02": 1},
    )
    assert (ren.first_code, ren.first_channel, ren.origin_known) == (None, "pos", True)
    assert sora.spent_months == {"2026-02|JPY": 500, "2026-03|JPY": 1000} and sora.spent == {"JPY": 1500}
    # what the reports make of it
    months = {p.period: p for p in retention_report(found).periods}
    assert (months["2026-02"].retention_rate, months["2026-03"].revenue_minor) == (0.5, 1000)
    codes = {c.group: c.customers for c in cohort_report(found, by="code").cohorts}
    assert codes == {"(no code)": 1, "SPRING": 1, "WELCOME10": 1}


def test_the_records_are_read_from_the_index_alone(engine):
    apply_events(engine, *SHOP)
    reader = store(engine)
    calls = []
    original = engine.ddb.get_paginator

    def watched(name):
        calls.append(name)
        return original(name)

    reader._ddb = type("Watched", (), {"get_paginator": staticmethod(watched)})()
    assert len(list(reader.customers("demo"))) == 3
    assert set(calls) == {"query"} and reader.items_read == 4  # three buyers and the visitor
    index = next(
        i for i in keys.table_definition("t")["GlobalSecondaryIndexes"] if i["IndexName"] == keys.BUYER_INDEX
    )
    assert {"first_order_at", "order_months", "spent_months", "first_order"} <= set(
        index["Projection"]["NonKeyAttributes"]
    )


def test_erased_and_merged_contacts_are_left_out(engine):
    apply_events(engine, *SHOP)
    gone = shop_event(
        "customer.deleted", id="ren-del", occurred_at="2026-04-01T00:00:00Z", customer={"id": "ren"}
    )
    apply_events(engine, gone)
    assert [r.contact_id for r in read(engine)] == ["aoi", "sora"]


@st.composite
def deliveries(draw):
    orders = [
        placed("kai", n, f"2026-0{1 + n}-1{n}T00:00:00Z", 1000 * (n + 1),
               discount_codes=[c] if (c := draw(st.sampled_from([None, "A", "B"]))) else [],
               **({"source_name": s} if (s := draw(st.sampled_from([None, "web", "pos"]))) else {}))
        for n in range(4)
    ]  # fmt: skip
    return draw(st.lists(st.sampled_from(orders), min_size=1, max_size=7))


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(deliveries())
def test_any_order_and_duplication_gives_the_record_of_the_distinct_orders(engine, delivered):
    for item in engine.table_items():  # a fresh start for the customer and the shop's id markers
        if item["pk"]["S"].startswith(("SHOP#demo#C#kai", "SHOP#demo#E#")):
            engine.ddb.delete_item(
                TableName=engine.settings.table_name, Key={"pk": item["pk"], "sk": item["sk"]}
            )
    apply_events(engine, *[copy.deepcopy(e) for e in delivered])
    assert read(engine) == expected(delivered)
