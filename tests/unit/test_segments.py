"""RFM segments: quintile cut points of a shop's buyers, a profile's scores, the segment grid,
and win-back qualifying by segment."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from comeback.domain import playbook, segments
from comeback.domain.clock import isoformat
from comeback.domain.messages import MessageRequest
from comeback.domain.profile import empty, lww
from comeback.domain.segments import SEGMENTS, Buyer, Segmentation
from comeback.recipes.base import Ask
from comeback.recipes.winback import RECIPE

NOW = datetime(2026, 6, 1, tzinfo=UTC)


def buyer(orders: int, spent: int, days_ago: int) -> Buyer:
    return Buyer(orders, spent, NOW - timedelta(days=days_ago))


def profile(orders: int, spent: int, days_ago: int, contact_id: str = "c-1"):
    p = empty("s", contact_id, contact_id)
    p.email = lww(f"{contact_id}@example.com", "2025-01-01T00:00:00.000000Z", "u")
    p.consent = lww(True, "2025-01-01T00:00:00.000000Z", "u")
    p.orders_count, p.spent = orders, {"JPY": spent}
    p.last_order_at = p.last_activity_at = isoformat(NOW - timedelta(days=days_ago))
    return p


def test_cut_points_are_the_values_at_each_fifth_of_the_shops_buyers():
    buyers = [buyer(orders=n, spent=n * 1000, days_ago=10 * n) for n in range(1, 11)]
    found = segments.segmentation(buyers, NOW)
    assert found is not None and found.buyers == 10
    assert found.orders == [2, 4, 6, 8] and found.spent_minor == [2000, 4000, 6000, 8000]
    assert found.recency_days == [20, 40, 60, 80]
    assert segments.segmentation([], NOW) is None  # nobody to rank: nothing is stored


def test_scores_rank_a_profile_against_its_shop_best_fifth_scoring_five():
    cuts = segments.segmentation([buyer(n, n * 1000, 10 * n) for n in range(1, 11)], NOW)
    assert cuts is not None
    best = segments.scores(profile(orders=10, spent=10_000, days_ago=5), cuts, NOW)
    worst = segments.scores(profile(orders=1, spent=500, days_ago=200), cuts, NOW)
    assert (best.recency, best.frequency, best.monetary, best.segment) == (5, 5, 5, "champions")  # type: ignore[union-attr]
    assert (worst.recency, worst.frequency, worst.monetary, worst.segment) == (1, 1, 1, "lost")  # type: ignore[union-attr]
    lapsed_regular = segments.scores(profile(orders=9, spent=9000, days_ago=200), cuts, NOW)
    assert lapsed_regular is not None and lapsed_regular.segment == "cant_lose"
    assert segments.scores(profile(orders=0, spent=0, days_ago=1), cuts, NOW) is None  # not a buyer


def test_ties_share_the_lower_score():
    # most buyers of a shop ordered once: one order is no better than the shop's usual
    cuts = segments.segmentation([buyer(1, 3000, 30)] * 8 + [buyer(3, 9000, 30), buyer(6, 20_000, 30)], NOW)
    assert cuts is not None and cuts.orders == [1, 1, 1, 1]
    once = segments.scores(profile(1, 3000, 30), cuts, NOW)
    twice = segments.scores(profile(2, 6000, 30), cuts, NOW)
    assert once is not None and twice is not None
    assert (once.frequency, twice.frequency) == (1, 5)


def test_every_cell_of_the_grid_has_a_segment_and_every_segment_a_cell():
    names = {segments.Scores(r, f, 3).segment for r in range(1, 6) for f in range(1, 6)}
    assert names == set(SEGMENTS)


orders = st.integers(min_value=1, max_value=50)
spent = st.integers(min_value=0, max_value=10**7)
days_ago = st.integers(min_value=0, max_value=2000)
shop = st.lists(st.tuples(orders, spent, days_ago), min_size=1, max_size=60)


@given(shop, orders, spent, days_ago, st.integers(min_value=0, max_value=10), st.integers(0, 10**5))
def test_more_orders_more_spend_or_a_more_recent_order_never_lowers_a_score(buyers, n, s, d, more, extra):
    cuts = segments.segmentation([buyer(*b) for b in buyers], NOW)
    assert cuts is not None
    base = segments.scores(profile(n, s, d), cuts, NOW)
    better = segments.scores(profile(n + more, s + extra, max(0, d - more)), cuts, NOW)
    assert base is not None and better is not None
    assert better.frequency >= base.frequency and better.monetary >= base.monetary
    assert better.recency >= base.recency
    assert all(1 <= x <= 5 for x in (base.recency, base.frequency, base.monetary))


@given(shop)
def test_the_cut_points_do_not_depend_on_the_order_buyers_are_read(buyers):
    forward = segments.segmentation([buyer(*b) for b in buyers], NOW)
    backward = segments.segmentation([buyer(*b) for b in reversed(buyers)], NOW)
    assert forward == backward


# -- win-back by segment ---------------------------------------------------------------------------
SHOP = segments.segmentation([buyer(n, n * 1000, 10 * n) for n in range(1, 11)], NOW)
BY_SEGMENT = playbook.load({"winback": {"holdout_percent": 0, "segments": ["cant_lose", "at_risk"]}})


def test_win_back_takes_only_the_segments_its_playbook_names_judged_as_the_lapse_enters():
    tuned = BY_SEGMENT.with_segmentation(SHOP)
    regular = profile(orders=9, spent=9000, days_ago=0, contact_id="regular")
    once = profile(orders=1, spent=9000, days_ago=0, contact_id="once")
    at_step_one = NOW + timedelta(days=90, hours=1)
    taken = RECIPE.plan(regular, tuned, at_step_one)
    assert len(taken.asks) == 1 and taken.state is not None and taken.state["segment"] == "cant_lose"
    left = RECIPE.plan(once, tuned, at_step_one)
    assert left.asks == () and left.skipped == ("not_in_segment",)
    assert left.state is not None and left.state["exit"] == "not_qualified"
    assert left.state["segment"] == "lost"


def test_without_a_segmentation_yet_the_minimums_decide_alone():
    once = profile(orders=1, spent=9000, days_ago=0, contact_id="once")
    decided = RECIPE.plan(once, BY_SEGMENT, NOW + timedelta(days=90, hours=1))
    assert len(decided.asks) == 1 and "segment" not in (decided.state or {})


def test_a_playbook_may_not_write_its_own_segmentation():
    import pytest

    with pytest.raises(ValueError, match="segmentation"):
        playbook.load({"segmentation": {"computed_at": "x"}})
    with pytest.raises(ValueError, match="segments"):
        playbook.load({"winback": {"segments": ["whales"]}})
    assert Segmentation.model_validate_json(SHOP.model_dump_json()) == SHOP  # type: ignore[union-attr]


# -- every recipe's audience -------------------------------------------------------------------------
def _ask(contact_id: str) -> Ask:

    request = MessageRequest(
        shop_id="s", contact_id=contact_id, campaign="cart", step=1, period="p", requested_at=NOW
    )
    return Ask(request)


def test_any_recipes_segments_drop_its_messages_to_contacts_outside_them():
    from comeback.recipes import registry
    from comeback.recipes.base import Decision
    from comeback.recipes.engine import audience

    cart = registry.get("cart")
    assert cart is not None and not cart.judges_segments
    tuned = playbook.load({"cart": {"segments": ["champions", "cant_lose"]}}).with_segmentation(SHOP)
    regular = profile(orders=9, spent=9000, days_ago=0, contact_id="regular")  # cant_lose at day 90
    once = profile(orders=1, spent=1000, days_ago=0, contact_id="once")
    later = NOW + timedelta(days=90)
    state = {"step": 1}
    kept = audience(cart, Decision(state=state, asks=(_ask("regular"),)), regular, tuned, later)
    assert len(kept.asks) == 1
    dropped = audience(cart, Decision(state=state, asks=(_ask("once"),)), once, tuned, later)
    assert dropped.asks == () and dropped.skipped == ("not_in_segment",) and dropped.state == state
    # no segmentation yet, or no segments named: nobody is judged
    untuned = playbook.load({"cart": {"segments": ["champions"]}})
    assert len(audience(cart, Decision(asks=(_ask("once"),)), once, untuned, later).asks) == 1
    anyone = playbook.load({}).with_segmentation(SHOP)
    assert len(audience(cart, Decision(asks=(_ask("once"),)), once, anyone, later).asks) == 1
    # win-back judges its segments itself, once per lapse: the engine leaves its step 2 alone
    assert RECIPE.judges_segments
    winback = audience(
        RECIPE, Decision(asks=(_ask("once"),)), once, BY_SEGMENT.with_segmentation(SHOP), later
    )
    assert len(winback.asks) == 1


def test_an_unknown_segment_in_any_recipes_section_is_refused():
    import pytest

    with pytest.raises(ValueError, match="segments"):
        playbook.load({"birthday": {"segments": ["whales"]}})
