"""Browse abandonment and product interest on the in-memory engine: a reminder 24 hours after the
second view of a product without an order, the product shown, an offer on a second step only, an
order ending it; per-day view counters that add up in any order; interest tags and their decay."""

from __future__ import annotations

import random
from datetime import timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from comeback.domain import interest, playbook
from comeback.domain.clock import isoformat
from comeback.domain.events import parse_event
from comeback.domain.profile import MAX_BROWSED, Profile, apply, empty, growth_limits
from comeback.domain.views import tags
from comeback.recipes import engine
from comeback.recipes.base import KEEP, Ask
from comeback.recipes.browse import RECIPE as BROWSE
from tests.support import shop_event
from tests.unit.test_cart import CUSTOMER, Story, at, bought, cart, hourly, line, ordered, play

BOOK = playbook.load({"consent": "opt_out", "loyalty": {"enabled": False}})


def view(event_id: str, hours: float, product: str = "p7", category: str = "tea") -> dict[str, Any]:
    data = {"product_id": product, "name": f"Tea {product}", "category": category, "price": "6800",
            "currency": "JPY", "url": f"https://shop.example.com/products/{product}",
            "image_url": f"https://cdn.example.com/{product}.jpg"}  # fmt: skip
    return shop_event(
        "product.viewed", id=event_id, occurred_at=isoformat(at(hours)), customer=CUSTOMER, data=data
    )


def browse_asks(asks: list[Ask]) -> list[Ask]:
    return [a for a in asks if a.message.campaign == "browse"]


def test_a_reminder_comes_24_hours_after_the_second_view_showing_the_product() -> None:
    _, asks = play(ordered([(0, view("v1", 0)), (2, view("v2", 2)), *hourly(40)]), BOOK)
    (reminder,) = browse_asks(asks)
    m = reminder.message
    assert (m.step, m.requested_at, m.basis, reminder.offer) == (1, at(26), isoformat(at(2)), None)
    assert m.data["products"] == [{
        "product_id": "p7", "name": "Tea p7", "url": "https://shop.example.com/products/p7",
        "image_url": "https://cdn.example.com/p7.jpg", "price": 6800, "currency": "JPY",
    }]  # fmt: skip
    assert m.data["views"] == 2


def test_one_view_is_a_look_not_an_interest_nothing_is_sent_or_reported() -> None:
    profile, asks = play(ordered([(0, view("v1", 0)), *hourly(30)]), BOOK)
    assert browse_asks(asks) == [] and "browse" not in profile.dues
    outcome = engine.plan_due(apply(empty("s", "c-1", "c-1"), parse_event(view("v1", 0))), BOOK, at(24))  # type: ignore[arg-type]
    assert ("browse", "not_enough_views") not in outcome.skipped and outcome.skipped == []


def test_views_of_two_products_remind_of_the_one_viewed_twice_when_it_was_viewed_last() -> None:
    story = [(0, view("v1", 0, "p7")), (1, view("v2", 1, "p9")), (2, view("v3", 2, "p7")), *hourly(30)]
    _, asks = play(ordered(story), BOOK)
    assert [a.message.data["products"][0]["product_id"] for a in browse_asks(asks)] == ["p7"]
    story = [(0, view("v1", 0, "p7")), (1, view("v2", 1, "p7")), (2, view("v3", 2, "p9")), *hourly(30)]
    _, asks = play(ordered(story), BOOK)
    assert browse_asks(asks) == []  # the last look was at another product, once (a documented limit)


def test_an_order_after_the_views_ends_it_and_a_queued_reminder_at_send_time() -> None:
    _, asks = play(ordered([(0, view("v1", 0)), (1, view("v2", 1)), (5, bought("o1", 5)), *hourly(30)]), BOOK)
    assert browse_asks(asks) == []
    profile, asks = play(ordered([(0, view("v1", 0)), (1, view("v2", 1)), *hourly(26)]), BOOK)
    (reminder,) = browse_asks(asks)
    assert BROWSE.still_wanted(profile, reminder.message, BOOK, at(26)) is None
    ordered_after, _ = play(
        [(0, view("v1", 0)), (1, view("v2", 1)), (25, None), (25.5, bought("o1", 25.5))], BOOK
    )
    assert BROWSE.still_wanted(ordered_after, reminder.message, BOOK, at(26)) == "ordered"
    again, _ = play([(0, view("v1", 0)), (1, view("v2", 1)), (25, None), (25.5, view("v3", 25.5))], BOOK)
    assert BROWSE.still_wanted(again, reminder.message, BOOK, at(26)) == "browsed_again"


def test_an_offer_rides_on_the_second_step_only() -> None:
    offer = {"type": "amount_off", "value_minor": 300, "valid_days": 7}
    steps = [{"after_hours": 24}, {"after_hours": 72, "offer": offer}]
    book = playbook.load({"consent": "opt_out", "loyalty": {"enabled": False}, "browse": {"steps": steps}})
    _, asks = play(ordered([(0, view("v1", 0)), (1, view("v2", 1)), *hourly(80)]), book)
    assert [(a.message.step, a.offer.value_minor if a.offer else None) for a in browse_asks(asks)] == [
        (1, None), (2, 300)]  # fmt: skip
    with pytest.raises(ValueError, match="first browse reminder carries no offer"):
        playbook.load({"browse": {"steps": [{"after_hours": 24, "offer": offer}]}})


def test_a_product_is_not_reminded_of_twice_within_30_days_nor_while_it_waits_in_the_cart() -> None:
    story = [
        (0, view("v1", 0)),
        (1, view("v2", 1)),
        (24 * 3, view("v3", 24 * 3)),
        (24 * 3 + 1, view("v4", 24 * 3 + 1)),
    ]
    _, asks = play(ordered([*story, *hourly(24 * 5)]), BOOK)
    assert len(browse_asks(asks)) == 1
    in_cart = [(0, view("v1", 0)), (1, view("v2", 1)), (1.5, cart("k1", 1.5, line("p7"))), *hourly(30)]
    _, asks = play(ordered(in_cart), BOOK)
    assert browse_asks(asks) == [] and [a.message.campaign for a in asks] == ["cart", "cart"]


def test_the_fast_path_moves_the_due_time_to_the_view_plus_24_hours() -> None:
    first = parse_event(view("v1", 0))
    assert BROWSE.fast(first, BOOK).due == at(24)  # type: ignore[arg-type, union-attr]
    assert BROWSE.fast(parse_event(bought("o1", 0)), BOOK).due is None  # type: ignore[arg-type, union-attr]
    assert BROWSE.fast(parse_event(cart("k1", 0, line())), BOOK).due is KEEP  # type: ignore[arg-type, union-attr]
    assert BROWSE.next_due(apply(empty("s", "c-1", "c-1"), first), BOOK) == at(24)  # type: ignore[arg-type]
    plan = engine.fast_plan(first, BOOK)  # type: ignore[arg-type]
    assert plan is not None and "browse" not in plan.requires


# -- the counters: per day, per product and category, in any order -------------------------------------


def counters(events: list[dict[str, Any]]) -> dict[str, int]:
    profile: Profile = empty("s", "c-1", "c-1")
    seen: set[str] = set()
    for raw in events:
        if raw["id"] not in seen:
            seen.add(raw["id"])
            profile = apply(profile, parse_event(raw))  # type: ignore[arg-type]
    return profile.browsed


@settings(max_examples=60, deadline=None)
@given(
    views=st.lists(
        st.tuples(st.integers(0, 24 * 20), st.sampled_from(["p1", "p2", "p3"])), min_size=1, max_size=12
    ),
    seed=st.integers(0, 1000),
)
def test_view_counters_are_the_same_whatever_the_order_and_duplicates(
    views: list[tuple[int, str]], seed: int
) -> None:
    events = [view(f"v{i}", hour, product) for i, (hour, product) in enumerate(views)]
    shuffled = [*events, *events[: len(events) // 2]]
    random.Random(seed).shuffle(shuffled)
    assert counters(events) == counters(shuffled)
    assert sum(n for k, n in counters(events).items() if "|p|" in k) == len(views)


def test_the_counters_stay_bounded_and_the_fast_path_leaves_the_cut_to_the_slow_one() -> None:
    events = [view(f"v{i}", i * 24, f"p{i}") for i in range(MAX_BROWSED)]  # 2 counters a view
    kept = counters(events)
    assert len(kept) <= MAX_BROWSED
    newest_day = isoformat(at((MAX_BROWSED - 1) * 24))[:10]
    assert f"{newest_day}|p|p{MAX_BROWSED - 1}" in kept  # the newest are kept
    change = apply(empty("s", "c-1"), parse_event(view("v", 0)))  # type: ignore[arg-type]
    assert growth_limits(change)["browsed"] == MAX_BROWSED - 2


# -- interest: windows, decay, tags ---------------------------------------------------------------------


def test_three_views_of_a_category_in_30_days_tag_the_contact_and_old_views_decay_and_age_out() -> None:
    now = at(24 * 40)
    recent = [view("v1", 24 * 35, "p1"), view("v2", 24 * 38, "p2"), view("v3", 24 * 39, "p3")]
    old = [view(f"o{i}", i, "p4", category="teaware") for i in range(5)]  # 40 days ago
    profile: Profile = empty("s", "c-1", "c-1")
    for raw in [*old, *recent]:
        profile = apply(profile, parse_event(raw))  # type: ignore[arg-type]
    rules = BOOK.section("browse").interest
    assert interest.interest_tags(profile, rules, now) == ["interest:tea"]
    assert "interest:tea" in tags(profile, BOOK, now) and "interest:teaware" not in tags(profile, BOOK, now)
    assert interest.counts(profile, "c", now, 30) == {"tea": 3}
    scores = interest.scores(profile, "c", now, half_life_days=14)
    assert scores["tea"] > scores["teaware"]
    assert scores["teaware"] == pytest.approx(5 * 0.5 ** (40 / 14), abs=0.01)
    assert (
        interest.views_of(profile, "p", "p4", now, 30) == 0
        and interest.views_of(profile, "p", "p4", now, 41) == 5
    )
    off = playbook.load({"browse": {"interest": {"enabled": False}}})
    assert not any(t.startswith("interest:") for t in tags(profile, off, now))


def test_browse_timing_property_each_view_basis_and_step_asked_once() -> None:
    rng = random.Random(7)
    for _ in range(30):
        hours = sorted(rng.sample(range(0, 72), rng.randint(1, 6)))
        events = [view(f"v{h}", h, rng.choice(["p1", "p2"])) for h in hours]
        arrivals: Story = [(h + rng.randint(0, 3), e) for h, e in zip(hours, events, strict=True)]
        arrivals += [(h + 5, e) for h, e in arrivals[: rng.randint(0, len(arrivals))]]  # redelivered
        _, asks = play(ordered([*arrivals, *hourly(24 * 5)]), BOOK)
        keys = [a.message.key for a in browse_asks(asks)]
        assert len(keys) == len(set(keys))
        for ask in browse_asks(asks):
            assert ask.message.requested_at - timedelta(hours=24) >= at(0)
