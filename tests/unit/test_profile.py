"""The profile is the same whatever order a customer's events arrive in (and merging is a join)."""

from functools import reduce

from hypothesis import given, settings
from hypothesis import strategies as st

from comeback.domain.events import parse_event
from comeback.domain.profile import MAX_MONTHS, Profile, apply, delta, empty, merge
from tests.support import shop_event

CUSTOMER = {"id": "c-1", "email": "hanako@example.com"}


def _timestamp(day: int, second: int) -> str:
    return f"2026-{1 + day // 28:02d}-{1 + day % 28:02d}T10:00:{second:02d}+09:00"


@st.composite
def shop_events(draw):  # a customer's story: orders, refunds, views, carts, profile updates
    count = draw(st.integers(min_value=1, max_value=12))
    events = []
    for index in range(count):
        kind = draw(
            st.sampled_from(
                ["order.placed", "order.refunded", "product.viewed", "customer.updated", "cart.updated"]
            )
        )
        at = _timestamp(draw(st.integers(0, 300)), draw(st.integers(0, 59)))
        event_id = f"e{index}"
        if kind == "order.placed":
            total = draw(st.integers(100, 50_000))
            data = {
                "order_id": event_id,
                "total": str(total),
                "currency": "JPY",
                "items": [
                    {
                        "product_id": draw(st.sampled_from(["p1", "p2", "p3"])),
                        "category": draw(st.sampled_from(["tea", "sweets"])),
                        "price": str(total),
                        "quantity": 1,
                    }
                ],
                "discount_codes": draw(st.sampled_from([[], ["welcome10"], ["SPRING", "X"]])),
            }
            channel = draw(st.sampled_from([None, ("source_name", "web"), ("channel", "POS")]))
            if channel:
                data[channel[0]] = channel[1]
        elif kind == "order.refunded":
            data = {"order_id": "x", "amount": str(draw(st.integers(1, 5000))), "currency": "JPY"}
        elif kind == "product.viewed":
            data = {
                "product_id": draw(st.sampled_from(["p1", "p2"])),
                "category": draw(st.sampled_from(["tea", "teaware"])),
            }
        elif kind == "customer.updated":
            data = {
                "first_name": draw(st.sampled_from(["Hanako", "Hana", None])),
                "accepts_marketing": draw(st.sampled_from([True, False, None])),
                "locale": draw(st.sampled_from(["ja", "en"])),
            }
            data = {k: v for k, v in data.items() if v is not None}
        else:
            data = {"cart_id": "c", "currency": "JPY", "items": []}
        events.append(
            parse_event({"id": event_id, "type": kind, "occurred_at": at, "customer": CUSTOMER, "data": data})
        )
    return events


def fold(events) -> Profile:
    return reduce(apply, events, empty("s", "c-1", "c-1"))


@settings(max_examples=150, deadline=None)
@given(shop_events(), st.randoms(use_true_random=False))
def test_any_order_of_the_same_events_gives_the_same_profile(events, random):
    shuffled = list(events)
    random.shuffle(shuffled)
    assert fold(shuffled) == fold(events)


@settings(max_examples=100, deadline=None)
@given(shop_events(), st.integers(0, 11))
def test_merging_two_halves_equals_applying_everything(events, cut):
    cut = min(cut, len(events))
    left, right = fold(events[:cut]), fold(events[cut:])
    assert merge(left, right) == fold(events) == merge(right, left)


@settings(max_examples=100, deadline=None)
@given(shop_events())
def test_aggregates_follow_the_events(events):
    profile = fold(events)
    orders = [e for e in events if e.type == "order.placed"]
    refunds = [e for e in events if e.type == "order.refunded"]
    assert profile.orders_count == len(orders)
    expected = sum(e.data.total_minor for e in orders) - sum(e.data.amount_minor for e in refunds)
    # a refund of more than we saw spent (an order from before the shop connected) stops at zero
    assert profile.total_spent_minor == max(0, expected)
    if orders:
        assert profile.first_order_at == min(delta(e, "s", "c-1").first_order_at for e in orders)
        assert profile.last_order_at == max(delta(e, "s", "c-1").last_order_at for e in orders)
    assert profile.last_seen_at == max(delta(e, "s", "c-1").last_seen_at for e in events)


@settings(max_examples=100, deadline=None)
@given(shop_events())
def test_the_month_maps_add_up_to_the_lifetime_totals(events):
    profile = fold(events)
    assert sum(profile.order_months.values()) == profile.orders_count
    assert sum(profile.spent_months.values()) == sum(profile.spent.values())
    for key, orders in profile.order_months.items():
        assert orders == sum(1 for e in events if e.type == "order.placed" and _month(e) == key)


@settings(max_examples=100, deadline=None)
@given(shop_events(), st.randoms(use_true_random=False))
def test_the_first_order_is_the_earliest_whatever_the_arrival_order(events, random):
    orders = [e for e in events if e.type == "order.placed"]
    shuffled = list(events)
    random.shuffle(shuffled)
    profile = fold(shuffled)
    if not orders:
        assert profile.first_order is None
        return
    earliest = min(orders, key=lambda e: (delta(e, "s", "c-1").first_seen_at, e.id))
    assert profile.first_order == delta(earliest, "s", "c-1").first_order
    assert profile.first_order["at"] == profile.first_order_at
    # the earliest order's code (upper-cased, the first one named) and channel, or None
    codes = earliest.data.discount_codes
    assert profile.first_order["v"]["code"] == (codes[0].upper() if codes else None)


@settings(max_examples=100, deadline=None)
@given(shop_events(), st.integers(0, 11))
def test_a_profile_merged_with_itself_keeps_its_first_order(events, cut):
    # the first-wins rule is idempotent (a join), like the other first and last times
    profile = fold(events[:cut] or events)
    assert merge(profile, profile).first_order == profile.first_order


def _month(event) -> str:
    return delta(event, "s", "c-1").first_seen_at[:7]


def test_a_refund_subtracts_in_its_own_month_and_the_oldest_months_go_first():
    orders = [
        parse_event(
            shop_event(
                "order.placed", id=f"o{m}", occurred_at=f"{2020 + m // 12}-{1 + m % 12:02d}-05T00:00:00Z"
            )
        )
        for m in range(MAX_MONTHS + 2)
    ]
    refund = parse_event(
        shop_event("order.refunded", id="r1", occurred_at="2025-02-09T00:00:00Z",
                   data={"order_id": "o1", "amount": "980", "currency": "JPY"})
    )  # fmt: skip
    profile = fold([*orders, refund])
    assert len(profile.order_months) == len(profile.spent_months) == MAX_MONTHS
    assert "2020-01" not in profile.order_months and "2020-02" not in profile.order_months
    assert profile.order_months["2025-02"] == 1  # the newest month kept whole
    assert profile.spent_months["2025-02|JPY"] == 4980 - 980
    assert profile.orders_count == MAX_MONTHS + 2  # the lifetime totals keep counting them


def test_an_orders_origin_is_its_first_code_and_its_channel():
    placed = parse_event(
        shop_event("order.placed", id="o1", data={"order_id": "o1", "total": "100", "currency": "JPY",
                   "discount_codes": ["welcome10", "FREESHIP"], "source_name": " Web "})
    )  # fmt: skip
    assert fold([placed]).first_order["v"] == {"code": "WELCOME10", "channel": "web"}
    bare = parse_event(
        shop_event("order.placed", id="o2", data={"order_id": "o2", "total": "100", "currency": "JPY"})
    )
    assert fold([bare]).first_order["v"] == {"code": None, "channel": None}


def test_the_latest_customer_update_wins_field_by_field():
    older = parse_event(
        shop_event(
            "customer.updated",
            id="u1",
            occurred_at="2026-01-01T00:00:00Z",
            data={"first_name": "Hana", "locale": "en"},
        )
    )
    newer = parse_event(
        shop_event(
            "customer.updated", id="u2", occurred_at="2026-02-01T00:00:00Z", data={"first_name": "Hanako"}
        )
    )
    for profile in (fold([older, newer]), fold([newer, older])):
        assert profile.field("first_name") == "Hanako"
        assert profile.field("locale") == "en"  # the newer update did not mention it


def test_average_and_interests():
    events = [
        parse_event(shop_event("order.placed", id=f"o{i}", occurred_at=f"2026-0{i}-01T00:00:00Z"))
        for i in (1, 2)
    ]
    profile = fold(events)
    assert profile.average_order_value_minor == 4980
    assert profile.interests == {"tea": 4}
    assert profile.products == {"p1"}
