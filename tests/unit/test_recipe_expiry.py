"""Rewards a contact holds: reminded once before they expire, expired at their time, redeemed by an order."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from comeback.domain import playbook
from comeback.domain.clock import isoformat
from comeback.domain.events import parse_event
from comeback.domain.profile import Profile, apply, empty, lww
from comeback.domain.rewards import Offer, Reward, RewardRequest, RewardState, RewardType
from comeback.recipes import engine
from comeback.recipes.base import Decision, FastEffect, LedgerOp
from comeback.recipes.expiry import MAX_OPEN, RECIPE, open_rewards
from tests.support import order

PLAYBOOK = playbook.default()
ISSUED = datetime(2026, 3, 1, 3, 0, tzinfo=UTC)
CODE = "CB-7KQ4-M2XP"
CUSTOMER = {"id": "c-1", "email": "hanako@example.com"}


def reward(code: str = CODE, step: int = 2, issued: datetime = ISSUED, valid_days: int = 30) -> Reward:
    offer = Offer(type=RewardType.AMOUNT_OFF, value_minor=500, valid_days=valid_days)
    request = RewardRequest(
        shop_id="s",
        contact_id="c-1",
        recipe="winback",
        step=step,
        period="2026-01-10",
        offer=offer,
        currency="JPY",
        issued_at=issued,
    )
    return Reward.issue(request, code)


def customer(consent: bool = True) -> Profile:
    profile = empty("s", "c-1", "c-1")
    profile.email = lww("hanako@example.com", "2025-01-01T00:00:00.000000Z", "u1")
    profile.consent = lww(consent, "2025-01-01T00:00:00.000000Z", "u1")
    return profile


def decided(profile: Profile, decision: Decision, now: datetime) -> Profile:
    assert decision.state is not None
    return engine.with_state(profile, RECIPE, decision.state, now)


def holding(*rewards: Reward, book: playbook.Playbook = PLAYBOOK, consent: bool = True) -> Profile:
    profile = customer(consent)
    for item in rewards:
        profile = decided(profile, RECIPE.on_reward(profile, item, book), item.issued_at)
    return profile


def an_order(codes: list[str], at: datetime = ISSUED + timedelta(days=3)):  # type: ignore[no-untyped-def]
    return parse_event(order("o-9", isoformat(at), CUSTOMER, discount_codes=codes))


def test_an_issued_reward_is_tracked_with_its_reminder_remind_days_before_it_expires():
    item = reward()
    held = open_rewards(holding(item))
    assert set(held) == {item.key}
    entry = held[item.key]
    assert entry["code"] == CODE and entry["reminded"] is False
    assert entry["expires_at"] == isoformat(ISSUED + timedelta(days=30))
    assert entry["remind_at"] == isoformat(ISSUED + timedelta(days=30 - 7))
    assert RECIPE.next_due(holding(item), PLAYBOOK) == ISSUED + timedelta(days=23)


def test_a_reward_already_tracked_is_not_tracked_twice():
    profile = holding(reward())
    assert RECIPE.on_reward(profile, reward(), PLAYBOOK) == Decision()


def test_without_a_reminder_the_reward_is_due_at_its_expiry():
    book = playbook.load({"rewards": {"remind_days_before": 0}})
    profile = holding(reward(), book=book)
    assert open_rewards(profile)[reward().key]["remind_at"] is None
    assert RECIPE.next_due(profile, book) == ISSUED + timedelta(days=30)


def test_a_reward_too_short_for_its_reminder_is_not_reminded():
    short = reward(valid_days=5)  # a reminder 7 days before would come before it was issued
    assert open_rewards(holding(short))[short.key]["remind_at"] is None


def test_the_reminder_is_asked_for_once_then_the_reward_expires_at_its_time():
    item = reward()
    profile = holding(item)
    remind_at = ISSUED + timedelta(days=23)
    assert RECIPE.plan(profile, PLAYBOOK, remind_at - timedelta(minutes=1)) == Decision()

    reminded = RECIPE.plan(profile, PLAYBOOK, remind_at)
    (ask,) = reminded.asks
    assert ask.message.campaign == "expiry" and ask.offer is None
    assert ask.message.data["code"] == CODE and ask.message.data["reward_key"] == item.key
    assert ask.message.data["expires_on"] == isoformat(item.expires_at)[:10]
    assert ask.message.not_after == item.expires_at
    assert reminded.ledger == (LedgerOp("remind", key=item.key),)
    profile = decided(profile, reminded, remind_at)
    assert RECIPE.next_due(profile, PLAYBOOK) == item.expires_at

    # once: a second sweep before the expiry asks nothing
    assert RECIPE.plan(profile, PLAYBOOK, remind_at + timedelta(days=1)) == Decision()

    expired = RECIPE.plan(profile, PLAYBOOK, item.expires_at)
    assert expired.asks == () and expired.ledger == (LedgerOp("expire", key=item.key),)
    profile = decided(profile, expired, item.expires_at)
    assert open_rewards(profile) == {} and RECIPE.next_due(profile, PLAYBOOK) is None


def test_a_contact_who_may_not_be_emailed_is_not_reminded_but_the_reminder_is_spent():
    profile = holding(reward(), consent=False)
    decision = RECIPE.plan(profile, PLAYBOOK, ISSUED + timedelta(days=23))
    assert decision.asks == () and decision.ledger == (LedgerOp("remind", key=reward().key),)
    assert RECIPE.next_due(decided(profile, decision, ISSUED + timedelta(days=23)), PLAYBOOK) == (
        ISSUED + timedelta(days=30)
    )


def test_a_late_sweep_expires_without_reminding():
    profile = holding(reward())
    decision = RECIPE.plan(profile, PLAYBOOK, ISSUED + timedelta(days=40))
    assert decision.asks == () and [op.kind for op in decision.ledger] == ["expire"]


def test_an_order_carrying_the_code_in_any_case_and_with_spaces_redeems_it():
    item = reward()
    before = holding(item, reward("CB-AAAA-BBBB", step=3, issued=ISSUED + timedelta(days=1)))
    event = an_order(["  cb-7kq4-m2xp ", "WELCOME10"])
    decision = RECIPE.on_event(before, apply(before, event), event, PLAYBOOK, event.occurred_at)
    assert LedgerOp("redeem", code=CODE, order_id="o-9") in decision.ledger
    assert decision.state is not None and set(decision.state["open"]) == {"winback#3#2026-01-10"}
    after = decided(apply(before, event), decision, event.occurred_at)
    # what is left is the other reward's reminder
    assert RECIPE.next_due(after, PLAYBOOK) == ISSUED + timedelta(days=24)


def test_an_order_with_codes_none_of_ours_tries_the_ledger_but_keeps_the_state():
    before = holding(reward())
    event = an_order(["WELCOME10"])
    decision = RECIPE.on_event(before, apply(before, event), event, PLAYBOOK, event.occurred_at)
    # the code may be one of ours issued while the event was on its way: the ledger decides
    assert decision.ledger == (LedgerOp("redeem", code="WELCOME10", order_id="o-9"),)
    assert decision.state is None


def test_the_fast_path_hands_orders_with_discount_codes_to_the_slow_path():
    assert RECIPE.fast(an_order(["WELCOME10"]), PLAYBOOK) is None
    assert RECIPE.fast(an_order([]), PLAYBOOK) == FastEffect()  # its due time stays


def test_a_reward_redeemed_or_expired_in_the_ledger_leaves_the_state():
    item = reward()
    profile = holding(item)
    closed = item.redeemed("o-1", ISSUED + timedelta(days=2))
    assert closed is not None and closed.state is RewardState.REDEEMED
    decision = RECIPE.on_reward(profile, closed, PLAYBOOK)
    assert decision.state == {"open": {}}
    # and a queued reminder of it is no longer wanted
    (ask,) = RECIPE.plan(profile, PLAYBOOK, ISSUED + timedelta(days=23)).asks
    gone = decided(profile, decision, ISSUED + timedelta(days=2))
    assert RECIPE.still_wanted(profile, ask.message, PLAYBOOK, ISSUED + timedelta(days=23)) is None
    assert RECIPE.still_wanted(gone, ask.message, PLAYBOOK, ISSUED + timedelta(days=23)) == "reward_closed"


def test_the_state_keeps_at_most_max_open_rewards_the_latest_expiring():
    items = [
        reward(f"CB-{i:04d}-AAAA", step=1 + i, issued=ISSUED + timedelta(days=i)) for i in range(MAX_OPEN + 1)
    ]
    held = open_rewards(holding(*items))
    assert len(held) == MAX_OPEN and items[0].key not in held and items[-1].key in held


def test_an_erased_contact_is_never_due():
    profile = holding(reward())
    profile.erased_at = isoformat(ISSUED + timedelta(days=1))
    assert RECIPE.next_due(profile, PLAYBOOK) is None
