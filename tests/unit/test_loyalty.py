"""Loyalty: the points ledger replayed from facts, tiers, milestones and invitations (pure)."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from comeback.domain import loyalty as L
from comeback.domain import playbook
from comeback.domain.clock import isoformat
from comeback.domain.events import ShopEvent, parse_event
from comeback.domain.profile import Profile, apply, empty
from comeback.recipes import engine
from comeback.recipes import loyalty as recipe
from comeback.recipes.base import state_of
from tests.support import order, shop_event

CUSTOMER = {"id": "c-1", "email": "hanako@example.com"}
T0 = datetime(2026, 3, 1, tzinfo=UTC)
BOOK = playbook.load({"consent": "opt_out"})


def at(days: float = 0, hours: float = 0) -> str:
    return isoformat(T0 + timedelta(days=days, hours=hours))


def rules(**changes: Any) -> L.Rules:
    return L.Rules.model_validate({"tiers": [{"name": "bronze", "enter": 0}], **changes})


def facts(*pairs: tuple[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return dict(pairs)


# -- earning: exact on minor units ----------------------------------------------------------------


def test_points_are_exact_on_minor_units_in_jpy_and_usd() -> None:
    shipped = recipe.settings(playbook.default())
    assert shipped.points(4980, "JPY") == 49  # 1 point per 100 yen, rounded down
    assert shipped.points(4999, "USD") == 49  # $49.99: 1 point per dollar
    assert shipped.points(10_000, "EUR") == 0  # a currency the shop did not list earns nothing
    assert rules(points_per_unit="0.01", rounding="nearest").points(4950, "JPY") == 50
    assert rules(points_per_unit="0.01", rounding="up").points(4901, "JPY") == 50
    # a rate with no exact binary form (0.1) is still exact: 3 x 0.1 is 0.3, not 0.30000000000000004
    assert rules(points_per_unit="0.1").points(30, "JPY") == 3
    assert rules(points_per_unit={"JPY": Decimal("0.03")}).points(100, "JPY") == 3


def test_points_stay_pending_for_the_return_window_then_confirm() -> None:
    found = L.replay(facts(L.order_fact("A", at(), 4980, "JPY")), rules(points_per_unit="0.01"), T0)
    assert (found.pending, found.balance, found.lifetime) == (49, 0, 0)
    assert found.next_at == T0 + timedelta(days=14)
    later = L.replay(
        facts(L.order_fact("A", at(), 4980, "JPY")), rules(points_per_unit="0.01"), T0 + timedelta(days=14)
    )
    assert (later.pending, later.balance, later.lifetime) == (0, 49, 49)
    assert [e.kind for e in later.entries] == ["pending", "confirmed"]


def test_a_refunded_orders_points_never_confirm() -> None:
    story = facts(L.order_fact("A", at(), 10_000, "JPY"), L.refund_fact("e9", "A", at(3), 10_000, "JPY"))
    found = L.replay(story, rules(points_per_unit="0.01"), T0 + timedelta(days=60))
    assert (found.pending, found.balance, found.lifetime) == (0, 0, 0)
    assert [e.kind for e in found.entries] == ["pending", "deducted"]


def test_a_partial_refund_takes_back_its_share() -> None:
    story = facts(L.order_fact("A", at(), 10_000, "JPY"), L.refund_fact("e9", "A", at(3), 2_500, "JPY"))
    found = L.replay(story, rules(points_per_unit="0.01"), T0 + timedelta(days=60))
    assert found.balance == 75  # 100 earned, a quarter refunded before confirmation


def test_a_refund_after_confirmation_takes_its_points_from_the_balance() -> None:
    story = facts(
        L.order_fact("A", at(), 10_000, "JPY"),
        L.order_fact("B", at(1), 5_000, "JPY"),
        L.refund_fact("e9", "A", at(30), 10_000, "JPY"),
    )
    found = L.replay(story, rules(points_per_unit="0.01"), T0 + timedelta(days=31))
    assert (found.balance, found.debt, found.lifetime) == (50, 0, 50)
    assert (found.entries[-1].kind, found.entries[-1].points) == ("deducted", 100)


def test_debt_is_recorded_and_repaid_first() -> None:
    # the expiry takes the balance to zero, then a refund of a confirmed order has nothing to take from
    story = facts(
        L.order_fact("A", at(), 10_000, "JPY"),
        L.refund_fact("e9", "A", at(400), 10_000, "JPY"),
        L.order_fact("B", at(401), 3_000, "JPY"),
    )
    expiring = rules(points_per_unit="0.01", expiry={"rule": "inactivity", "months": 6})
    found = L.replay(story, expiring, T0 + timedelta(days=500))
    kinds = [(e.kind, e.points) for e in found.entries]
    assert ("expired", 100) in kinds and ("debt", 100) in kinds
    assert (found.balance, found.debt) == (0, 70)  # B's 30 points repaid 30 of the 100 owed


def test_non_members_earn_nothing_until_they_join_when_members_must_join() -> None:
    story = facts(
        L.order_fact("A", at(), 49_800, "JPY"),
        L.join_fact("j1", at(1)),
        L.order_fact("B", at(2), 10_000, "JPY"),
    )
    found = L.replay(story, rules(points_per_unit="0.01", enrolment="join"), T0 + timedelta(days=30))
    assert found.balance == 100 and found.unearned == {"A": 498}
    assert found.member_since == at(1)


def test_bonuses_count_once_per_cause_and_only_for_members() -> None:
    story = facts(L.bonus_fact("review", "o1", at()), L.bonus_fact("review", "o2", at(1)))
    found = L.replay(story, rules(bonus={"review": 50}), T0 + timedelta(days=2))
    assert found.balance == 100 and found.lifetime == 100


# -- tiers ----------------------------------------------------------------------------------------

TIERED = {
    "points_per_unit": "0.01",
    "pending_days": 0,
    "tiers": [
        {"name": "bronze", "enter": 0},
        {"name": "silver", "enter": 500, "keep": 300},
        {"name": "gold", "enter": 2000, "multiplier": "2"},
    ],
}


def test_a_tier_is_entered_on_reaching_its_threshold_and_its_multiplier_counts_from_then() -> None:
    story = facts(L.order_fact("A", at(), 200_000, "JPY"), L.order_fact("B", at(1), 10_000, "JPY"))
    found = L.replay(story, rules(**TIERED), T0 + timedelta(days=2))
    assert found.tier == "gold"
    assert found.lifetime == 2000 + 200  # B earned at gold's double rate
    assert [(c.tier, c.up) for c in found.changes] == [("gold", True)]


def test_rolling_twelve_months_requalifies_with_the_keep_threshold() -> None:
    twelve = rules(**{**TIERED, "tier_basis": "points_12m"})
    story = facts(L.order_fact("A", at(), 60_000, "JPY"))  # 600 points: silver
    found = L.replay(story, twelve, T0 + timedelta(days=10))
    assert found.tier == "silver" and found.tier_until == isoformat(T0 + timedelta(days=365))
    assert found.would_drop and found.to_keep == 300  # what entered silver does not keep it
    kept = facts(*story.items(), L.order_fact("B", at(300), 35_000, "JPY"))
    assert L.replay(kept, twelve, T0 + timedelta(days=366)).tier == "silver"  # 350 >= keep 300
    dropped = L.replay(story, twelve, T0 + timedelta(days=366))
    assert dropped.tier == "bronze" and [c.up for c in dropped.changes] == [True, False]


def test_calendar_year_status_lasts_through_the_next_year() -> None:
    yearly = rules(**{**TIERED, "tier_basis": "spend_year", "tiers": [
        {"name": "bronze", "enter": 0}, {"name": "silver", "enter": 50_000}]})  # fmt: skip
    story = facts(L.order_fact("A", at(), 60_000, "JPY"))
    found = L.replay(story, yearly, T0 + timedelta(days=1))
    assert found.tier == "silver" and found.tier_until == isoformat(datetime(2028, 1, 1, tzinfo=UTC))
    assert L.replay(story, yearly, datetime(2027, 12, 31, tzinfo=UTC)).tier == "silver"
    assert L.replay(story, yearly, datetime(2028, 1, 2, tzinfo=UTC)).tier == "bronze"


def test_a_lifetime_tier_drops_only_when_a_refund_takes_it_below_keep() -> None:
    story = facts(L.order_fact("A", at(), 60_000, "JPY"), L.order_fact("B", at(1), 10_000, "JPY"))
    tiered = rules(**TIERED)
    assert L.replay(story, tiered, T0 + timedelta(days=2)).tier == "silver"  # 700
    story.update([L.refund_fact("r1", "B", at(5), 10_000, "JPY")])
    assert L.replay(story, tiered, T0 + timedelta(days=6)).tier == "silver"  # 600 >= keep 300
    story.update([L.refund_fact("r2", "A", at(6), 40_000, "JPY")])
    assert L.replay(story, tiered, T0 + timedelta(days=7)).tier == "bronze"  # 200 < 300


def test_tiers_can_change_after_launch_by_replaying_the_same_facts() -> None:
    story = facts(L.order_fact("A", at(), 120_000, "JPY"))
    before = L.replay(story, rules(**TIERED), T0 + timedelta(days=1))
    lower = [
        {"name": "bronze", "enter": 0},
        {"name": "silver", "enter": 200},
        {"name": "gold", "enter": 1000},
    ]
    after = L.replay(story, rules(**{**TIERED, "tiers": lower}), T0 + timedelta(days=1))
    assert (before.tier, after.tier) == ("silver", "gold") and before.balance == after.balance == 1200


# -- expiry ---------------------------------------------------------------------------------------


def test_points_expire_after_months_without_earning() -> None:
    story = facts(L.order_fact("A", at(), 10_000, "JPY"))
    rule = rules(points_per_unit="0.01", pending_days=0, expiry={"rule": "inactivity", "months": 12})
    found = L.replay(story, rule, T0 + timedelta(days=30))
    assert found.expiring == (100, T0 + timedelta(days=365))
    story.update([L.order_fact("B", at(200), 5_000, "JPY")])  # earning again moves the expiry
    assert L.replay(story, rule, T0 + timedelta(days=366)).balance == 150
    assert L.replay(story, rule, T0 + timedelta(days=566)).balance == 0


def test_points_expire_per_batch_oldest_first() -> None:
    story = facts(L.order_fact("A", at(), 10_000, "JPY"), L.order_fact("B", at(200), 5_000, "JPY"))
    rule = rules(points_per_unit="0.01", pending_days=0, expiry={"rule": "batch", "months": 12})
    assert L.replay(story, rule, T0 + timedelta(days=366)).balance == 50
    assert L.replay(story, rule, T0 + timedelta(days=566)).balance == 0


# -- the recipe: facts, milestones, invites, through the engine --------------------------------


def events_for(stream: list[dict[str, Any]]) -> list[ShopEvent]:
    return [parse_event(e) for e in stream]  # type: ignore[misc]


def play(
    events: list[ShopEvent], book: playbook.Playbook = BOOK, contact: str = "c-1"
) -> tuple[Profile, list[Any]]:
    """Apply events as the contacts function would (a repeated id changes nothing), collecting asks."""
    profile: Profile | None = None
    seen: set[str] = set()
    asks: list[Any] = []
    now = T0 - timedelta(days=3650)
    for event in events:
        if event.id in seen:
            continue
        seen.add(event.id)
        now = max(now, event.occurred_at + timedelta(minutes=5))  # each arrives soon after it happened
        before = profile
        after = apply(profile or empty("s", contact, contact if contact == "c-1" else None), event)
        outcome = engine.on_event(before, after, event, book, now)
        swept = engine.plan_due(outcome.profile, book, now)  # the sweep sends what the order queued
        profile = swept.profile
        asks += [*outcome.asks, *swept.asks]
    assert profile is not None
    return profile, asks


def orders(count: int, start: float = 0) -> list[dict[str, Any]]:
    return [order(f"o{i}", at(start + i / 24), CUSTOMER, total="10000") for i in range(1, count + 1)]


def keys_of(asks: list[Any]) -> list[str]:
    return sorted(a.message.key for a in asks)


def test_the_fifth_order_is_rewarded_once_whether_4_and_5_arrive_in_order_out_of_order_or_twice() -> None:
    stream = orders(5)
    for arrival in (stream, [*stream[:3], stream[4], stream[3]], [*stream, stream[4], stream[3]]):
        profile, asks = play(events_for(arrival))
        milestones = [a for a in asks if a.message.campaign == "milestone"]
        assert keys_of(milestones) == ["milestone#1#orders.1", "milestone#1#orders.5"]
        assert [a.offer.value_minor for a in milestones if a.offer] == [500]
        assert state_of(profile, "loyalty")["milestones"] == [1, 5]


def test_a_refund_of_the_fifth_then_a_sixth_order_is_no_second_fifth() -> None:
    refund = shop_event("order.refunded", id="r5", occurred_at=at(1), customer=CUSTOMER,
                        data={"order_id": "o5", "amount": "10000", "currency": "JPY"})  # fmt: skip
    sixth = order("o6", at(2), CUSTOMER, total="10000")
    _, asks = play(events_for([*orders(5), refund, sixth]))
    assert keys_of([a for a in asks if a.message.campaign == "milestone"]) == [
        "milestone#1#orders.1", "milestone#1#orders.5"]  # fmt: skip


def test_an_old_order_arriving_in_a_backfill_sends_no_thank_you() -> None:
    old = order("o1", isoformat(T0 - timedelta(days=300)), CUSTOMER)
    event = parse_event(old)
    after = apply(empty("s", "c-1", "c-1"), event)
    outcome = engine.on_event(None, after, event, BOOK, T0)  # type: ignore[arg-type]
    assert outcome.asks == [] and state_of(outcome.profile, "loyalty")["milestones"] == [1]
    assert "queued" not in state_of(outcome.profile, "loyalty")
    later = engine.plan_due(outcome.profile, BOOK, T0).asks  # (win-back's step 4 is due: 300 days)
    assert [a.message.campaign for a in later] == ["winback"]


def test_a_non_members_order_gets_an_invitation_with_what_it_would_have_earned() -> None:
    book = playbook.load({"consent": "opt_out", "loyalty": {"enrolment": "join"}})
    profile, asks = play(events_for([order("o1", at(), CUSTOMER, total="49800")]), book)
    invites = [a for a in asks if a.message.campaign == "invite"]
    assert [a.message.data["points"] for a in invites] == [498]
    assert recipe.standing(profile, book, T0)["points_pending"] == 0
    joined = shop_event("loyalty.joined", id="j1", occurred_at=at(1), customer=CUSTOMER, data={})
    profile, asks = play(events_for([order("o1", at(), CUSTOMER, total="49800"), joined,
                                     order("o2", at(2), CUSTOMER, total="10000")]), book)  # fmt: skip
    assert recipe.standing(profile, book, T0 + timedelta(days=2, hours=1))["points_pending"] == 100
    assert len([a for a in asks if a.message.campaign == "invite"]) == 1  # once, not per order


def test_referrals_reward_once_per_person_never_oneself_and_at_most_the_weekly_cap() -> None:
    book = playbook.load(
        {"consent": "opt_out", "loyalty": {"bonus": {"referral": 100}, "referrals_per_week": 2}}
    )
    # (the cap is the ledger's: replayed in time order, whichever referrals arrive first)

    def referral(event_id: str, **data: Any) -> dict[str, Any]:
        return shop_event("referral.completed", id=event_id, occurred_at=at(), customer=CUSTOMER, data=data)

    stream = [
        referral("f1", referred_customer_id="friend-1"),
        referral("f2", referred_customer_id="friend-1"),  # the same friend again
        referral("f3", referred_email="hanako@example.com"),  # oneself
        referral("f4", referred_customer_id="c-1"),  # oneself by id
        referral("f5", referred_customer_id="friend-2"),
        referral("f6", referred_customer_id="friend-3"),  # over the cap of two a week
    ]
    profile, _ = play(events_for(stream), book)
    assert recipe.standing(profile, book, T0 + timedelta(days=1))["points_balance"] == 200


def test_a_tier_upgrade_is_announced_once_and_the_view_shows_the_way_to_the_next() -> None:
    book = playbook.load({"consent": "opt_out", "loyalty": {"pending_days": 0}})
    profile, asks = play(events_for([order("o1", at(), CUSTOMER, total="60000")]), book)
    tiers = [a.message for a in asks if a.message.campaign == "tier"]
    assert [(m.data["tier"], m.data["previous_tier"]) for m in tiers] == [("silver", "bronze")]
    view = recipe.standing(profile, book, T0 + timedelta(hours=1))
    # 500 of the 600 points became the shipped reward (store credit); the tier counts all 600
    assert (view["tier"], view["points_balance"], view["points_to_next_tier"]) == ("silver", 100, 1400)


def test_pending_points_confirm_when_the_sweep_comes_due() -> None:
    profile, _ = play(events_for([order("o1", at(), CUSTOMER, total="60000")]))
    assert profile.dues["loyalty"] == at(14)
    outcome = engine.plan_due(profile, BOOK, T0 + timedelta(days=14, hours=1))
    tiers = [a.message for a in outcome.asks if a.message.campaign == "tier"]
    assert [m.data["tier"] for m in tiers] == ["silver"]
    assert "loyalty" not in outcome.profile.dues  # nothing pending any more
    assert [a.message.key for a in outcome.asks if a.message.campaign == "reward"] == ["reward#1#points.1"]
    assert recipe.standing(outcome.profile, BOOK, T0 + timedelta(days=15))["points_balance"] == 100


# -- the property: any permutation and duplication, the same ledger ---------------------------


def _stream(draw: Any) -> list[dict[str, Any]]:
    count = draw(st.integers(1, 7))
    stream: list[dict[str, Any]] = []
    for i in range(1, count + 1):
        total = draw(st.sampled_from(["980", "4980", "12000", "60000"]))
        stream.append(order(f"o{i}", at(i / 4), CUSTOMER, total=total))
        if draw(st.booleans()):
            amount = draw(st.sampled_from(["500", total]))
            stream.append(shop_event("order.refunded", id=f"r{i}", occurred_at=at(i / 4 + 0.1),
                                     customer=CUSTOMER, data={"order_id": f"o{i}", "amount": amount,
                                                              "currency": "JPY"}))  # fmt: skip
    if draw(st.booleans()):
        stream.append(shop_event("loyalty.joined", id="j", occurred_at=at(0.5), customer=CUSTOMER, data={}))
    for n in range(draw(st.integers(0, 3))):
        stream.append(shop_event("referral.completed", id=f"f{n}", occurred_at=at(0.3), customer=CUSTOMER,
                                 data={"referred_customer_id": f"friend-{n % 2}"}))  # fmt: skip
    return stream


PROPERTY_BOOK = playbook.load({
    "consent": "opt_out",
    "loyalty": {"enrolment": "join", "bonus": {"join": 25, "referral": 100}, "pending_days": 1,
                "tiers": [{"name": "bronze", "enter": 0}, {"name": "silver", "enter": 300, "multiplier": 2}],
                # spending is a decision taken when the sweep runs, not a fact of the stream: the
                # property below is about what the stream earns (redemptions have their own)
                "redeem": None},
})  # fmt: skip


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_any_permutation_and_duplication_of_the_events_gives_the_same_ledger(data: st.DataObject) -> None:
    stream = _stream(data.draw)
    shuffled = list(stream)
    random.Random(data.draw(st.integers(0, 10**6), label="seed")).shuffle(shuffled)
    shuffled += data.draw(st.lists(st.sampled_from(stream), max_size=4), label="duplicates")
    later = T0 + timedelta(days=30)
    results = []
    for arrival in (stream, shuffled):
        profile, asks = play(events_for(arrival), PROPERTY_BOOK)
        found = recipe.ledger(profile, PROPERTY_BOOK, later)
        rewards = sorted((a.message.key, a.offer) for a in asks if a.offer is not None)
        results.append((found.balance, found.pending, found.lifetime, found.debt, found.tier,
                        found.entries, rewards))  # fmt: skip
    assert results[0] == results[1]


@pytest.mark.parametrize("count", [1, 5])
def test_facts_beyond_the_bound_fold_into_one_carry_worth_what_they_earned(count: int) -> None:
    story = facts(*(L.order_fact(f"o{i}", at(i), 10_000, "JPY") for i in range(40)))
    rule = rules(points_per_unit="0.01")
    now = T0 + timedelta(days=800)
    folded = L.fold(story, rule, now, 40 - count)
    assert len(folded) < 40 and "c:carry" in folded
    assert L.replay(folded, rule, now).balance == L.replay(story, rule, now).balance == 4000


# -- spending points, spend milestones, birthdays, both sides of a referral, post-purchase -------

SPENDING = {"consent": "opt_out", "loyalty": {"pending_days": 0, "milestones": [],
            "redeem": {"points": 500, "offer": {"type": "store_credit", "value_minor": 500}}}}  # fmt: skip


def test_points_the_balance_holds_turn_into_the_reward_once_per_redemption() -> None:
    book = playbook.load(SPENDING)
    profile, asks = play(events_for([order("o1", at(), CUSTOMER, total="120000")]), book)  # 1,200 points
    assert profile.dues["loyalty"] <= at(hours=1)  # 700 left: due again at once
    swept = engine.plan_due(profile, book, T0 + timedelta(hours=1))
    profile, asks = swept.profile, [*asks, *swept.asks]
    rewards = [a for a in asks if a.message.campaign == "reward"]
    assert keys_of(rewards) == [
        "reward#1#points.1",
        "reward#1#points.2",
    ]  # one a sweep, as the balance allows
    assert {(a.offer.type.value, a.offer.value_minor) for a in rewards if a.offer} == {("store_credit", 500)}
    view = recipe.standing(profile, book, T0 + timedelta(days=1))
    assert (view["points_balance"], view["lifetime_points"]) == (200, 1200)  # tiers count what was earned
    assert [e["kind"] for e in view["loyalty"]["entries"]].count("redeemed") == 2
    again = engine.plan_due(profile, book, T0 + timedelta(days=1))
    assert [a for a in again.asks if a.message.campaign == "reward"] == []  # 200 left: nothing more


def test_a_sweep_retried_after_its_write_was_lost_asks_for_the_same_reward() -> None:
    book = playbook.load(SPENDING)
    profile, _ = play(events_for([order("o1", at(), CUSTOMER, total="50000")]), book)
    # the state as it was before the sweep that redeemed (its write lost): no redemption fact
    state = state_of(profile, "loyalty")
    before = {c: f for c, f in state["facts"].items() if f["t"] != "x"}
    entry = {**profile.recipes["loyalty"], "v": {**state, "facts": before}}
    lost = profile.model_copy(update={"recipes": {**profile.recipes, "loyalty": entry}})
    first = engine.plan_due(lost, book, T0 + timedelta(hours=2)).asks
    second = engine.plan_due(lost, book, T0 + timedelta(hours=3)).asks
    assert keys_of([a for a in first if a.message.campaign == "reward"]) == ["reward#1#points.1"]
    assert keys_of([a for a in second if a.message.campaign == "reward"]) == ["reward#1#points.1"]


def test_a_refund_dated_before_a_redemption_that_arrives_after_it_leaves_debt_not_a_negative_balance() -> (
    None
):
    story = facts(L.order_fact("A", at(), 50_000, "JPY"), L.redemption_fact(1, at(1), 500),
                  L.refund_fact("e9", "A", at(0.5), 50_000, "JPY"))  # fmt: skip
    found = L.replay(story, rules(points_per_unit="0.01", pending_days=0), T0 + timedelta(days=2))
    assert (found.balance, found.debt, found.redeemed) == (0, 500, 500)
    assert [e.kind for e in found.entries] == ["pending", "confirmed", "deducted", "redeemed", "debt"]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_redemptions_spend_what_was_earned_once_each_whatever_the_arrival_order(data: st.DataObject) -> None:
    book = playbook.load({**SPENDING, "loyalty": {**SPENDING["loyalty"], "redeem": {
        "points": 100, "offer": {"type": "amount_off", "value_minor": 100}}}})  # fmt: skip
    stream = _stream(data.draw)
    shuffled = list(stream)
    random.Random(data.draw(st.integers(0, 10**6), label="seed")).shuffle(shuffled)
    shuffled += data.draw(st.lists(st.sampled_from(stream), max_size=3), label="duplicates")
    profile, asks = play(events_for(shuffled), book)
    found = recipe.ledger(profile, book, T0 + timedelta(days=30))
    keys = [a.message.key for a in asks if a.message.campaign == "reward" and a.message.step == 1]
    assert len(keys) == len(set(keys)) == found.redeemed // 100  # each redemption asked for once
    assert found.balance >= 0 and found.debt >= 0
    assert found.balance + found.redeemed - found.debt <= found.lifetime


def test_a_spend_milestone_is_rewarded_once_when_the_net_spend_reaches_it() -> None:
    book = playbook.load({"consent": "opt_out", "loyalty": {"milestones": [
        {"spend_minor": 20000, "offer": {"type": "percent_off", "percent": 10}}]}})  # fmt: skip
    refund = shop_event("order.refunded", id="r2", occurred_at=at(1), customer=CUSTOMER,
                        data={"order_id": "o2", "amount": "10000", "currency": "JPY"})  # fmt: skip
    stream = [*orders(2), refund, order("o3", at(2), CUSTOMER, total="10000")]
    _, asks = play(events_for(stream), book)
    milestones = [a for a in asks if a.message.campaign == "milestone"]
    assert keys_of(milestones) == ["milestone#1#spend.20000"]  # reached by the 2nd; the 3rd is no second
    assert milestones[0].message.data["spend_minor"] == 20000 and milestones[0].offer is not None


def test_birthday_points_come_once_a_year_on_the_day_in_the_contacts_timezone() -> None:
    book = playbook.load({"consent": "opt_out", "loyalty": {"pending_days": 0, "redeem": None,
                          "milestones": [], "bonus": {"birthday": 100}}})  # fmt: skip
    born = shop_event("customer.updated", id="u1", occurred_at=at(), customer=CUSTOMER,
                      data={"birthday": "2000-02-29", "timezone": "Asia/Tokyo"})  # fmt: skip
    profile, _ = play(events_for([order("o1", at(), CUSTOMER, total="10000"), born]), book)
    # 29 February in 2027 is 28 February, at the birthday email's 09:00 in Tokyo (00:00 UTC)
    assert profile.dues["loyalty"] == isoformat(datetime(2027, 2, 28, tzinfo=UTC))
    day = datetime(2027, 2, 28, 0, 30, tzinfo=UTC)
    swept = engine.plan_due(profile, book, day).profile
    assert recipe.standing(swept, book, day)["points_balance"] == 200
    again = engine.plan_due(swept, book, day + timedelta(hours=2)).profile
    assert recipe.standing(again, book, day + timedelta(hours=3))["points_balance"] == 200
    assert again.dues["loyalty"] == isoformat(datetime(2028, 2, 29, tzinfo=UTC))


def test_a_referral_rewards_the_friend_once_and_never_a_self_referral() -> None:
    from comeback.domain.events import referral_counterpart

    book = playbook.load({"consent": "opt_out", "loyalty": {"bonus": {"referral": 100, "referred": 50},
                          "referral_offer": {"type": "amount_off", "value_minor": 1000}}})  # fmt: skip
    sent = parse_event(shop_event("referral.completed", id="f1", occurred_at=at(), customer=CUSTOMER,
                                  data={"referred_email": "friend@example.com"}))  # fmt: skip
    friend_side = referral_counterpart(sent)
    assert friend_side is not None and friend_side.id == "f1~referred"
    assert friend_side.customer.email == "friend@example.com" and friend_side.data.referrer is not None
    assert friend_side.data.referrer.id == "c-1"
    oneself = parse_event(shop_event("referral.completed", id="f2", occurred_at=at(), customer=CUSTOMER,
                                     data={"referred_email": "Hanako@example.com"}))  # fmt: skip
    assert referral_counterpart(oneself) is None
    # the friend's own contact: the bonus once, whoever refers them again, and the welcome reward
    friend = {"email": "friend@example.com"}
    again = parse_event(shop_event("referral.completed", id="f9", occurred_at=at(1), customer=CUSTOMER,
                                   data={"referred_email": "friend@example.com"}))  # fmt: skip
    second = referral_counterpart(again)
    assert second is not None
    profile, asks = play([friend_side, second], book, contact="friend")
    assert recipe.standing(profile, book, T0 + timedelta(days=2))["points_balance"] == 50
    assert keys_of([a for a in asks if a.message.campaign == "reward"]) == ["reward#4#referred"]
    assert friend  # the friend is named by email only


def test_a_referral_of_the_referrers_own_address_earns_nothing() -> None:
    book = playbook.load({"consent": "opt_out", "loyalty": {"bonus": {"referral": 100}}})
    home = {"line1": "1-2-3 Jingumae", "postal_code": "150-0001", "country": "JP"}
    me = shop_event("customer.updated", id="u1", occurred_at=at(), customer=CUSTOMER, data={"address": home})
    same = {"line1": "1-2-3  jingumae", "postal_code": "150-0001", "country": "jp"}
    elsewhere = {**same, "line1": "4-5-6 Jingumae"}
    for address, points in ((same, 0), (elsewhere, 100)):
        data = {"referred_email": "other@example.com", "referred_address": address}
        referral = shop_event("referral.completed", id="f1", occurred_at=at(1), customer=CUSTOMER, data=data)
        profile, _ = play(events_for([me, referral]), book)
        assert recipe.standing(profile, book, T0 + timedelta(days=2))["points_balance"] == points


@pytest.mark.parametrize("milestones", [True, False])
def test_a_post_purchase_reward_follows_the_first_order_once(milestones: bool) -> None:
    offer = {"type": "amount_off", "value_minor": 500, "valid_days": 14}
    section: dict[str, Any] = {"post_purchase": {"offer": offer}, "redeem": None}
    if not milestones:
        section["milestones"] = []
    book = playbook.load({"consent": "opt_out", "loyalty": section})
    _, asks = play(events_for(orders(2)), book)
    with_offer = [a for a in asks if a.offer is not None]
    if milestones:  # it rides on the first order's thank-you: one email, not two
        assert keys_of(with_offer) == ["milestone#1#orders.1"]
        assert with_offer[0].message.data["post_purchase"] is True
    else:
        assert keys_of(with_offer) == ["reward#2#order.o1"]
    assert with_offer[0].offer is not None and with_offer[0].offer.value_minor == 500
