"""Cart abandonment on the in-memory engine: reminders 1 and 24 hours after the last cart change,
restarted by a later change, ended by an order or an emptied cart (at send time too), a reward on
the last reminder only, and each (cart change, step) asked once whatever is redelivered or reordered."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from comeback.domain import playbook
from comeback.domain.clock import isoformat
from comeback.domain.events import ShopEvent, parse_event
from comeback.domain.profile import Profile, apply, empty
from comeback.recipes import engine
from comeback.recipes.base import KEEP, Ask
from comeback.recipes.cart import RECIPE as CART
from tests.support import order, shop_event

CUSTOMER = {"id": "c-1", "email": "hanako@example.com"}
T0 = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)  # 10:00 in Tokyo
# win-back and loyalty stay out of the way: what is asked here is the cart recipe's
BOOK = playbook.load({"consent": "opt_out", "loyalty": {"enabled": False}, "browse": {"enabled": False}})


def at(hours: float = 0) -> datetime:
    return T0 + timedelta(hours=hours)


def line(product: str = "p7", **extra: Any) -> dict[str, Any]:
    return {
        "product_id": product,
        "name": f"Tea {product}",
        "category": "tea",
        "price": "1200",
        "quantity": 2,
        "image_url": f"https://cdn.example.com/{product}.jpg",
        "url": f"https://shop.example.com/products/{product}",
        **extra,
    }


def cart(event_id: str, hours: float, *items: dict[str, Any], kind: str = "cart.updated") -> dict[str, Any]:
    total = str(sum(int(i["price"]) * i["quantity"] for i in items))
    data = {
        "cart_id": "k1",
        "currency": "JPY",
        "url": "https://shop.example.com/cart/k1",
        "total": total,
        "items": list(items),
    }
    return shop_event(kind, id=event_id, occurred_at=isoformat(at(hours)), customer=CUSTOMER, data=data)


def bought(event_id: str, hours: float) -> dict[str, Any]:
    return order(event_id, isoformat(at(hours)), CUSTOMER)


Story = list[tuple[float, dict[str, Any] | None]]  # (arrival hour, event) or (hour, None): a sweep


def play(story: Story, book: playbook.Playbook = BOOK) -> tuple[Profile, list[Ask]]:
    """Apply events as the contacts function would (a repeated id changes nothing) and run the
    sweep when asked, at the hour given; collect every ask."""
    profile: Profile = empty("s", "c-1", "c-1")
    seen: set[str] = set()
    asks: list[Ask] = []
    for hour, raw in story:
        now = at(hour)
        if raw is None:
            due = engine.due_at(profile)
            if due is not None and due <= isoformat(now):
                outcome = engine.plan_due(profile, book, now)
                profile, asks = outcome.profile, [*asks, *outcome.asks]
            continue
        if raw["id"] in seen:
            continue
        seen.add(raw["id"])
        event: ShopEvent = parse_event(raw)  # type: ignore[assignment]
        outcome = engine.on_event(profile, apply(profile, event), event, book, now)
        profile, asks = outcome.profile, [*asks, *outcome.asks]
    return profile, asks


def hourly(until: float, start: float = 0) -> Story:
    return [(float(h), None) for h in range(int(start), int(until) + 1)]


def ordered(story: Story) -> Story:
    return sorted(story, key=lambda item: (item[0], item[1] is None))


def cart_asks(asks: list[Ask]) -> list[Ask]:
    return [a for a in asks if a.message.campaign == "cart"]


def test_reminders_come_1_and_24_hours_after_the_change_with_the_carts_lines_and_its_link() -> None:
    _, asks = play(ordered([(0, cart("k1-1", 0, line("p7"), line("p9", quantity=1))), *hourly(30)]))
    reminders = cart_asks(asks)
    assert [(a.message.step, a.message.requested_at) for a in reminders] == [(1, at(1)), (2, at(24))]
    first = reminders[0].message
    assert first.key == f"cart#1#{isoformat(at(0))}" and first.basis == isoformat(at(0))
    assert first.data["cart_url"] == "https://shop.example.com/cart/k1"
    assert first.data["items"][0] == {
        "product_id": "p7", "name": "Tea p7", "quantity": 2, "price": 1200, "currency": "JPY",
        "image_url": "https://cdn.example.com/p7.jpg", "url": "https://shop.example.com/products/p7",
    }  # fmt: skip
    assert (first.data["total"], first.data["items_count"]) == (3600, 3)
    assert [a.offer for a in reminders] == [None, None]  # the shipped playbook gives no reward
    assert first.not_after == at(24) and reminders[1].message.not_after == at(48)


def test_checkout_started_counts_as_a_cart_change() -> None:
    _, asks = play(ordered([(0, cart("chk-1", 0, line(), kind="checkout.started")), *hourly(2)]))
    assert [a.message.step for a in cart_asks(asks)] == [1]


def test_a_later_change_restarts_the_timing_from_its_own_time() -> None:
    story = [(0, cart("k1-1", 0, line("p7"))), (0.5, cart("k1-2", 0.5, line("p7"), line("p9"))), *hourly(30)]
    profile, asks = play(ordered(story))
    reminders = cart_asks(asks)
    assert [(a.message.step, a.message.requested_at) for a in reminders] == [(1, at(2)), (2, at(25))]
    assert {a.message.basis for a in reminders} == {isoformat(at(0.5))}
    assert [i["product_id"] for i in reminders[0].message.data["items"]] == ["p7", "p9"]
    assert "cart" not in profile.dues  # both steps taken: nothing pending


def test_an_order_after_the_change_ends_the_reminders() -> None:
    _, asks = play(ordered([(0, cart("k1-1", 0, line())), (0.5, bought("o1", 0.5)), *hourly(30)]))
    assert cart_asks(asks) == []


def test_an_order_between_the_two_reminders_stops_the_second_and_a_queued_one_at_send_time() -> None:
    profile, asks = play(ordered([(0, cart("k1-1", 0, line())), (3, bought("o1", 3)), *hourly(30)]))
    (first,) = cart_asks(asks)
    assert first.message.step == 1
    assert CART.still_wanted(profile, first.message, BOOK, at(3)) == "ordered"


def test_an_emptied_cart_ends_them_and_a_queued_reminder_is_dropped_at_send_time() -> None:
    profile, asks = play(ordered([(0, cart("k1-1", 0, line())), (0.5, cart("k1-2", 0.5)), *hourly(30)]))
    assert cart_asks(asks) == [] and "cart" not in profile.dues
    queued, asked = play([(0, cart("k1-1", 0, line())), (1, None)])
    (reminder,) = cart_asks(asked)
    emptied, _ = play([(0, cart("k1-1", 0, line())), (1, None), (1.2, cart("k1-2", 1.1))])
    assert CART.still_wanted(queued, reminder.message, BOOK, at(1)) is None
    assert CART.still_wanted(emptied, reminder.message, BOOK, at(1.2)) == "cart_changed"


def test_a_reward_rides_on_the_last_reminder_only() -> None:
    offer = {"type": "percent_off", "percent": 5, "valid_days": 3}
    steps = [{"after_hours": 1}, {"after_hours": 24, "offer": offer}]
    book = playbook.load({"consent": "opt_out", "loyalty": {"enabled": False}, "cart": {"steps": steps}})
    _, asks = play(ordered([(0, cart("k1-1", 0, line())), *hourly(30)]), book)
    assert [(a.message.step, a.offer.percent if a.offer else None) for a in cart_asks(asks)] == [
        (1, None),
        (2, 5),
    ]
    assert [a.message.data["last_step"] for a in cart_asks(asks)] == [False, True]
    with pytest.raises(ValueError, match="only the last cart reminder"):
        playbook.load({"cart": {"steps": [{"after_hours": 1, "offer": offer}, {"after_hours": 24}]}})
    with pytest.raises(ValueError, match="growing"):
        playbook.load({"cart": {"steps": [{"after_hours": 24}, {"after_hours": 1}]}})


def test_a_late_sweep_takes_only_the_latest_step_and_a_cart_of_last_week_none() -> None:
    _, asks = play([(0, cart("k1-1", 0, line())), (30, None)])
    assert [a.message.step for a in cart_asks(asks)] == [2]
    profile, asks = play([(0, cart("k1-1", 0, line())), (24 * 7, None)])  # a backfilled cart
    assert cart_asks(asks) == [] and "cart" not in profile.dues


def test_nobody_without_consent_is_asked_but_the_steps_move_on() -> None:
    book = playbook.load({"loyalty": {"enabled": False}, "browse": {"enabled": False}})  # explicit consent
    profile, asks = play(ordered([(0, cart("k1-1", 0, line())), *hourly(30)]), book)
    assert cart_asks(asks) == [] and "cart" not in profile.dues


def test_the_fast_path_sets_the_due_time_from_the_event_alone() -> None:
    change = parse_event(cart("k1-1", 0, line()))
    assert CART.fast(change, BOOK).due == at(1)  # type: ignore[arg-type, union-attr]
    assert CART.fast(parse_event(cart("k1-2", 0)), BOOK).due is None  # type: ignore[arg-type, union-attr]
    assert CART.fast(parse_event(bought("o1", 0)), BOOK).due is None  # type: ignore[arg-type, union-attr]
    view = parse_event(shop_event("product.viewed", id="v1", occurred_at=isoformat(at(0)), customer=CUSTOMER))
    assert CART.fast(view, BOOK).due is KEEP  # type: ignore[arg-type, union-attr]
    plan = engine.fast_plan(change, BOOK)  # type: ignore[arg-type]
    assert (
        plan is not None
        and plan.dues["cart"] == at(1)
        and plan.requires == {k: v for k, v in plan.requires.items() if k != "cart"}
    )
    # and it is what the recipe says of the profile after the event
    profile = apply(empty("s", "c-1", "c-1"), change)
    assert CART.next_due(profile, BOOK) == at(1)


# -- a property: redelivered and reordered, each (cart change, step) is asked once -------------------

CHANGES = st.lists(
    st.tuples(st.integers(0, 72 * 4), st.booleans()),  # (quarter-hours after T0, has items)
    min_size=1,
    max_size=6,
    unique_by=lambda c: c[0],
)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    changes=CHANGES,
    order_at=st.one_of(st.none(), st.integers(0, 72 * 4)),
    delays=st.lists(st.integers(0, 12), min_size=8, max_size=8),
    duplicates=st.lists(st.integers(0, 7), max_size=4),
    data=st.data(),
)
def test_each_cart_change_and_step_is_asked_once_under_redelivery_and_reordering(
    changes: list[tuple[int, bool]], order_at: int | None, delays: list[int], duplicates: list[int], data: Any
) -> None:
    events = [cart(f"k-{q}", q / 4, *([line()] if full else [])) for q, full in changes]
    if order_at is not None:
        events.append(bought("o1", order_at / 4))
    # each event arrives up to 3 hours late, some twice (a redelivery, later still)
    arrivals: Story = []
    for i, raw in enumerate(events):
        happened = (parse_event(raw).occurred_at - T0).total_seconds() / 3600
        arrivals.append((happened + delays[i % len(delays)] / 4, raw))
    for d in duplicates:
        hour, raw = arrivals[d % len(arrivals)]
        arrivals.append((hour + data.draw(st.integers(1, 8), label="redelivery") / 4, raw))
    profile, asks = play(ordered([*arrivals, *hourly(24 * 5)]))
    reminders = cart_asks(asks)
    keys = [a.message.key for a in reminders]
    assert len(keys) == len(set(keys)), keys  # once per (cart change, step)
    full = {isoformat(at(q / 4)) for q, has in changes if has}
    order_arrived = min((h for h, raw in arrivals if raw and raw["id"] == "o1"), default=None)
    for ask in reminders:
        m = ask.message
        assert m.basis in full and m.step in (1, 2)  # only a cart with something in it is reminded of
        if order_at is not None and order_arrived is not None and m.requested_at >= at(order_arrived):
            assert m.basis is not None and m.basis > isoformat(at(order_at / 4))  # the order ended it
    # whatever the order of arrival, the cart is the newest change
    newest = max(changes)[0]
    assert profile.last_cart is not None and profile.last_cart["at"] == isoformat(at(newest / 4))
