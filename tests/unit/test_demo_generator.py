"""The demo shop generator: deterministic, valid, and shaped like the shop `comeback demo` promises."""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from datetime import date, datetime, timedelta
from itertools import pairwise

import pytest

from comeback.demo.generator import CATALOG, DemoShop, generate
from comeback.domain.events import ACTIVITY_TYPES, parse_event


@pytest.fixture(scope="module")
def shop() -> DemoShop:
    return generate()


@pytest.fixture(scope="module")
def events(shop: DemoShop) -> list[dict]:
    return list(shop.all_events())


def customer_key(event: dict) -> str:
    return event["customer"].get("id") or event["customer"]["email"]


def at(event: dict) -> datetime:
    return datetime.fromisoformat(event["occurred_at"])


def test_same_seed_same_shop_and_another_seed_another_shop() -> None:
    first = generate(seed=3, customers=200, days=120)
    again = generate(seed=3, customers=200, days=120)
    other = generate(seed=4, customers=200, days=120)
    assert first == again
    assert list(first.all_events())
    assert list(first.all_events()) != list(other.all_events())


def test_every_event_parses(events: list[dict]) -> None:
    for event in events:
        parse_event(event)


def test_volume_is_within_what_the_engine_replays_in_time(shop: DemoShop, events: list[dict]) -> None:
    counts = shop.counts()
    assert 5_000 <= sum(counts.values()) <= 9_000
    assert sum(counts.values()) == len(events)
    assert counts["order.placed"] > counts["order.refunded"] > 0
    for kind in ("feedback.submitted", "loyalty.joined", "referral.completed", "customer.deleted"):
        assert counts[kind] > 0, kind


def test_volume_follows_the_number_of_customers(shop: DemoShop) -> None:
    half = sum(generate(customers=1000).counts().values())
    assert 0.4 < half / sum(shop.counts().values()) < 0.6


def test_days_are_sorted_and_ids_unique(shop: DemoShop, events: list[dict]) -> None:
    days = [day for day, _ in shop.events_by_day]
    assert days == sorted(days)
    assert days[0] >= shop.start and days[-1] < shop.start + timedelta(days=shop.days)
    for day, day_events in shop.events_by_day:
        stamps = [event["occurred_at"] for event in day_events]
        assert stamps == sorted(stamps)
        assert all(stamp.startswith(day.isoformat()) and stamp.endswith("+09:00") for stamp in stamps)
    assert len({event["id"] for event in events}) == len(events)


def test_order_numbers_run_in_time_order(events: list[dict]) -> None:
    orders = [event for event in events if event["type"] == "order.placed"]
    assert orders[0]["id"] == "ord-000001"
    assert [o["data"]["order_id"] for o in orders] == sorted(o["data"]["order_id"] for o in orders)
    totals = {o["data"]["order_id"]: int(o["data"]["total"]) for o in orders}
    for refund in (event for event in events if event["type"] == "order.refunded"):
        assert int(refund["data"]["amount"]) <= totals[refund["data"]["order_id"]]


def test_customers_sign_up_before_they_act_under_their_id(shop: DemoShop, events: list[dict]) -> None:
    first_seen: dict[str, dict] = {}
    for event in events:
        first_seen.setdefault(event["customer"].get("id", ""), event)
    first_seen.pop("", None)
    assert len(first_seen) == shop.customers
    assert all("signed_up_at" in event["data"] for event in first_seen.values())


def test_around_orders(events: list[dict]) -> None:
    orders = {e["data"]["order_id"]: e for e in events if e["type"] == "order.placed"}
    feedback = [e for e in events if e["type"] == "feedback.submitted"]
    refunds = [e for e in events if e["type"] == "order.refunded"]
    assert 0.03 < len(feedback) / len(orders) < 0.1
    assert 0.01 < len(refunds) / len(orders) < 0.04
    assert 0.03 < len([e for e in events if e["type"] == "checkout.started"]) / len(orders) < 0.15
    for answer in feedback:
        assert answer["data"]["survey"] == "nps" and 0 <= answer["data"]["score"] <= 10
        waited = at(answer) - at(orders[answer["data"]["order_id"]])
        assert timedelta(days=5) < waited < timedelta(days=11)
    scores = [answer["data"]["score"] for answer in feedback]
    assert statistics.mean(scores) > 7.5  # skewed positive


def test_lapsing_customers_buy_a_few_times_then_go_quiet(shop: DemoShop, events: list[dict]) -> None:
    quiet_from = datetime.combine(shop.start + timedelta(days=shop.days - 120), datetime.min.time())
    orders: Counter[str] = Counter()
    last_activity: dict[str, datetime] = {}
    for event in events:
        if event["type"] == "order.placed":
            orders[customer_key(event)] += 1
        if event["type"] in ACTIVITY_TYPES:
            last_activity[customer_key(event)] = at(event)
    lapsed = [c for c, n in orders.items() if n >= 2 and last_activity[c].replace(tzinfo=None) < quiet_from]
    assert len(lapsed) >= 0.1 * shop.customers


def test_regulars_keep_ordering_through_the_window(shop: DemoShop, events: list[dict]) -> None:
    orders = defaultdict(list)
    for event in events:
        if event["type"] == "order.placed":
            orders[customer_key(event)].append(at(event))
    last_day = shop.start + timedelta(days=shop.days - 1)
    regulars = [
        times
        for times in orders.values()
        if len(times) >= 3
        and statistics.median(b - a for a, b in pairwise(times)) <= timedelta(days=180)
        and (last_day - times[-1].date()).days <= 220
    ]
    assert len(regulars) >= 0.05 * shop.customers


def test_profiles_look_like_the_shops_customers(events: list[dict]) -> None:
    signups = [e for e in events if e["type"] == "customer.updated" and "signed_up_at" in e["data"]]
    emails = [e["data"]["email"] for e in signups]
    assert len(emails) == len(set(emails))
    assert all(email.rsplit("@", 1)[1] in ("example.jp", "example.com") for email in emails)
    english = sum(e["data"]["locale"] == "en" for e in signups) / len(signups)
    assert 0.05 < english < 0.15
    assert 0 < sum(e["data"]["timezone"] == "America/Los_Angeles" for e in signups) < 0.1 * len(signups)
    assert 0.5 < sum("birthday" in e["data"] for e in signups) / len(signups) < 0.7
    assert any(not e["data"]["first_name"].isascii() for e in signups)  # some kanji names
    assert any(e["data"]["first_name"].isascii() for e in signups)  # some romaji names


def test_some_customers_do_not_accept_marketing_and_some_change_their_mind(events: list[dict]) -> None:
    signups = [e for e in events if e["type"] == "customer.updated" and "signed_up_at" in e["data"]]
    consenting = sum(e["data"]["accepts_marketing"] for e in signups) / len(signups)
    assert 0.5 < consenting < 0.7
    changes = [
        e for e in events if e["type"] == "customer.updated" and set(e["data"]) == {"accepts_marketing"}
    ]
    assert changes


def test_some_visitors_are_known_by_email_before_they_sign_up(events: list[dict]) -> None:
    first_email_only: dict[str, datetime] = {}
    for event in events:
        if "id" not in event["customer"]:
            first_email_only.setdefault(event["customer"]["email"], at(event))
    merged = {
        event["customer"]["email"]
        for event in events
        if event["customer"].get("id")
        and event["customer"].get("email") in first_email_only
        and at(event) > first_email_only[event["customer"]["email"]]
    }
    assert len(merged) >= 0.02 * len({customer_key(e) for e in events})


def test_erased_customers_send_nothing_afterwards(events: list[dict]) -> None:
    erased = {e["customer"]["id"]: at(e) for e in events if e["type"] == "customer.deleted"}
    assert erased
    for event in events:
        when = erased.get(event["customer"].get("id", ""))
        assert when is None or at(event) <= when


def test_gift_seasons_are_busier_than_a_typical_month(events: list[dict]) -> None:
    per_month = Counter(e["occurred_at"][:7] for e in events if e["type"] == "order.placed")
    typical = statistics.median(per_month.values())
    assert per_month["2025-12"] > 1.2 * typical  # oseibo
    assert per_month["2026-01"] > typical  # New Year
    assert per_month["2026-07"] > per_month["2026-06"]  # ochugen
    black_friday_week = sum(
        1
        for e in events
        if e["type"] == "order.placed" and date(2025, 11, 24) <= at(e).date() <= date(2025, 11, 30)
    )
    assert black_friday_week > 1.5 * typical / 30 * 7


def test_carts_are_sometimes_abandoned(events: list[dict]) -> None:
    orders = defaultdict(list)
    for event in events:
        if event["type"] == "order.placed":
            orders[customer_key(event)].append(at(event))
    carts = [e for e in events if e["type"] == "cart.updated"]
    abandoned = sum(
        1
        for cart in carts
        if not any(at(cart) <= o <= at(cart) + timedelta(hours=2) for o in orders[customer_key(cart)])
    )
    assert 0.55 < abandoned / len(carts) < 0.8  # about 70%, as shops measure it


def test_catalog_is_a_tea_shop() -> None:
    assert 35 <= len(CATALOG) <= 45
    assert {p.category for p in CATALOG} == {"tea", "teaware", "sweets", "gift"}
    assert all(600 <= p.price <= 12_000 for p in CATALOG)
    assert len({p.id for p in CATALOG}) == len({p.sku for p in CATALOG}) == len(CATALOG)
