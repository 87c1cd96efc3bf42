"""The profile is the same whatever order a customer's events arrive in (and merging is a join)."""

from functools import reduce

from hypothesis import given, settings
from hypothesis import strategies as st

from comeback.domain.events import parse_event
from comeback.domain.profile import Profile, apply, delta, empty, merge
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
            }
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
