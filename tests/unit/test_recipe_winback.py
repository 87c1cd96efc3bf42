"""Win-back: the drip's steps, exits, sunset, offers, variants, who qualifies and the holdout."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from comeback.domain import playbook
from comeback.domain.clock import isoformat
from comeback.domain.profile import Profile, empty, lww
from comeback.domain.reach import paused, unreachable
from comeback.domain.rewards import RewardType
from comeback.domain.views import tags
from comeback.recipes import engine, stages, winback
from comeback.recipes.base import Decision, in_holdout
from comeback.recipes.winback import RECIPE

PLAYBOOK = playbook.default()
LAST = datetime(2026, 1, 10, 3, 0, tzinfo=UTC)
EARLIER = "2025-01-01T00:00:00.000000Z"


def days(n: float) -> datetime:
    return LAST + timedelta(days=n)


def customer(
    orders: int = 2,
    spent: int = 12_000,
    consent: bool | None = True,
    email: str | None = "hanako@example.com",
    contact_id: str = "c-1",
    reason: str | None = None,
    **state: Any,
) -> Profile:
    """A customer whose last activity was LAST, with the win-back state given (if any)."""
    profile = empty("s", contact_id, contact_id)
    if email:
        profile.email = lww(email, EARLIER, "u1")
    if consent is not None:
        profile.consent = lww(consent, EARLIER, "u1")
    profile.orders_count = orders
    profile.spent = {"JPY": spent} if orders else {}
    profile.last_activity_at = profile.last_order_at = isoformat(LAST)
    if reason:
        profile.fields = {"feedback_reason": lww(reason, EARLIER, "f1")}
    if state:
        profile.recipes = {"winback": {"v": {"basis": isoformat(LAST), **state}, "at": EARLIER, "id": "x"}}
    return profile


def decided(profile: Profile, decision: Decision, now: datetime) -> Profile:
    """The profile once the engine stored the recipe's new state."""
    assert decision.state is not None
    return engine.with_state(profile, RECIPE, decision.state, now)


def clicked(profile: Profile, at: datetime, campaign: str = "winback", period: str = "2026-01-10") -> Profile:
    profile.last_click = lww(
        {"campaign": campaign, "step": 1, "period": period, "link": "x"}, isoformat(at), "k"
    )
    return profile


def not_in_holdout(**kwargs: Any) -> Profile:
    """A customer outside the holdout of the lapse that starts at LAST (so the examples are emailed)."""
    period = isoformat(LAST)[:10]
    for i in range(100):
        if not in_holdout("s", f"c-{i}", period, "winback", 10):
            return customer(contact_id=f"c-{i}", **kwargs)
    raise AssertionError("no contact outside a 10% holdout among 100")


def in_the_holdout(**kwargs: Any) -> Profile:
    period = isoformat(LAST)[:10]
    for i in range(1000):
        if in_holdout("s", f"c-{i}", period, "winback", 10):
            return customer(contact_id=f"c-{i}", **kwargs)
    raise AssertionError("no contact in a 10% holdout among 1,000")


# -- steps -----------------------------------------------------------------------------------


def test_nothing_is_due_before_the_first_step():
    someone = not_in_holdout()
    assert RECIPE.next_due(someone, PLAYBOOK) == days(90)
    assert RECIPE.plan(someone, PLAYBOOK, days(89)) == Decision()


def test_steps_come_at_90_135_180_and_270_days_after_the_last_activity():
    someone = not_in_holdout()
    for step, (at, following) in enumerate([(90, 135), (135, 180), (180, 270), (270, 300)], start=1):
        assert RECIPE.next_due(someone, PLAYBOOK) == days(at)
        decision = RECIPE.plan(someone, PLAYBOOK, days(at) + timedelta(hours=1))
        (ask,) = decision.asks
        message = ask.message
        assert (message.campaign, message.step, message.period, message.basis) == (
            "winback",
            step,
            "2026-01-10",
            isoformat(LAST),
        )
        someone = decided(someone, decision, days(at) + timedelta(hours=1))
        assert winback.steps_taken(someone) == step
        # after the last step comes the sunset, 30 days on
        assert RECIPE.next_due(someone, PLAYBOOK) == days(following)


def test_a_late_sweep_asks_only_for_the_latest_step_due():
    decision = RECIPE.plan(not_in_holdout(), PLAYBOOK, days(200))
    assert [a.message.step for a in decision.asks] == [3]
    assert decision.state is not None and decision.state["sent"] == 3
    assert RECIPE.next_due(decided(not_in_holdout(), decision, days(200)), PLAYBOOK) == days(270)


def test_a_sweep_woken_early_changes_nothing():
    someone = not_in_holdout(sent=1, asked_at=isoformat(days(90)))
    assert RECIPE.plan(someone, PLAYBOOK, days(134)) == Decision()


def test_a_new_activity_starts_a_new_lapse_at_step_one():
    came_back = customer(sent=2, asked_at=isoformat(days(-10)))
    came_back.recipes["winback"]["v"]["basis"] = "2025-06-01T00:00:00.000000Z"  # the lapse before LAST
    assert winback.steps_taken(came_back) == 0
    assert RECIPE.next_due(came_back, PLAYBOOK) == days(90)
    (ask,) = RECIPE.plan(came_back, PLAYBOOK, days(91)).asks
    assert (ask.message.step, ask.message.period, ask.message.basis) == (1, "2026-01-10", isoformat(LAST))


def test_a_step_goes_stale_when_the_next_one_is_due_and_the_last_30_days_after_it():
    (first,) = RECIPE.plan(not_in_holdout(), PLAYBOOK, days(91)).asks
    assert not first.message.stale(days(134)) and first.message.stale(days(136))
    (last,) = RECIPE.plan(not_in_holdout(sent=3), PLAYBOOK, days(271)).asks
    assert last.message.step == 4
    assert not last.message.stale(days(299)) and last.message.stale(days(301))


def test_the_templates_learn_the_variant_and_whether_the_step_is_the_last():
    (third,) = RECIPE.plan(not_in_holdout(sent=2), PLAYBOOK, days(181)).asks
    (fourth,) = RECIPE.plan(not_in_holdout(sent=3), PLAYBOOK, days(271)).asks
    assert RECIPE.context(not_in_holdout(), third.message, PLAYBOOK) == {
        "variant": "default",
        "last_step": False,
    }
    assert RECIPE.context(not_in_holdout(), fourth.message, PLAYBOOK)["last_step"] is True


def test_step_one_asks_why_only_when_the_playbook_says_so():
    asking = playbook.load({"winback": {"ask_reason": True}})
    (first,) = RECIPE.plan(not_in_holdout(), asking, days(91)).asks
    (second,) = RECIPE.plan(not_in_holdout(sent=1), asking, days(136)).asks
    (default,) = RECIPE.plan(not_in_holdout(), PLAYBOOK, days(91)).asks
    assert first.message.data["ask_reason"] is True
    assert second.message.data["ask_reason"] is False and default.message.data["ask_reason"] is False


def test_erased_or_merged_contacts_are_never_due():
    erased = customer()
    erased.erased_at = isoformat(days(1))
    merged = customer()
    merged.merged_into = "c-2"
    assert RECIPE.next_due(erased, PLAYBOOK) is None and RECIPE.next_due(merged, PLAYBOOK) is None


# -- exits -------------------------------------------------------------------------------------


def test_a_click_on_a_winback_email_of_this_lapse_ends_the_drip():
    someone = clicked(not_in_holdout(sent=1, asked_at=isoformat(days(90))), days(95))
    decision = RECIPE.plan(someone, PLAYBOOK, days(135) + timedelta(hours=1))
    assert decision.asks == () and decision.skipped == ("clicked",)
    assert decision.state is not None and decision.state["exit"] == "clicked"
    after = decided(someone, decision, days(136))
    assert winback.ended(after) == "clicked" and RECIPE.next_due(after, PLAYBOOK) is None
    # a click is an answer, not a refusal: the contact is not sunset
    assert not paused(after) and "sunset" not in tags(after, PLAYBOOK, days(200))


def test_a_click_of_an_earlier_lapse_or_another_campaign_does_not_end_the_drip():
    old_click = clicked(not_in_holdout(sent=1), days(-10))
    other = clicked(not_in_holdout(sent=1), days(95), campaign="reward")
    for profile in (old_click, other):
        assert [a.message.step for a in RECIPE.plan(profile, PLAYBOOK, days(136)).asks] == [2]


def test_after_the_last_step_the_contact_is_sunset_30_days_later():
    done = not_in_holdout(sent=4, asked_at=isoformat(days(270)))
    assert RECIPE.next_due(done, PLAYBOOK) == days(300)
    assert RECIPE.plan(done, PLAYBOOK, days(299)) == Decision()
    decision = RECIPE.plan(done, PLAYBOOK, days(300))
    assert decision.asks == () and decision.skipped == ("sunset",)
    sunset = decided(done, decision, days(300))
    assert winback.sunset(sunset) and RECIPE.next_due(sunset, PLAYBOOK) is None
    assert paused(sunset)
    assert unreachable(sunset, "winback", PLAYBOOK) == "sunset"
    assert unreachable(sunset, "rewards", PLAYBOOK) == "sunset"  # no marketing at all, not only win-back
    assert stages.current(sunset, PLAYBOOK, days(301)) == "lost"  # though 301 days is under lost_days
    assert "sunset" in tags(sunset, PLAYBOOK, days(301))


def test_any_activity_lifts_the_sunset():
    sunset = not_in_holdout(sent=4, sunset=True, sunset_at=isoformat(days(300)))
    assert paused(sunset)
    for at in (days(320), days(400)):
        back = sunset.model_copy(update={"last_activity_at": isoformat(at)})
        assert not paused(back) and unreachable(back, "winback", PLAYBOOK) is None
        assert stages.current(back, PLAYBOOK, at + timedelta(days=1)) != "lost"
        assert RECIPE.next_due(back, PLAYBOOK) == at + timedelta(days=90)


def test_without_a_sunset_the_drip_simply_ends_after_the_last_step():
    no_sunset = playbook.load({"winback": {"sunset_after_last_step": False}})
    done = not_in_holdout(sent=4)
    assert RECIPE.next_due(done, no_sunset) is None
    assert RECIPE.plan(done, no_sunset, days(400)) == Decision()


# -- offers and variants -------------------------------------------------------------------------


def offers(profile: Profile, book: playbook.Playbook = PLAYBOOK) -> list[Any]:
    found = []
    for step, at in enumerate((90, 135, 180, 270), start=1):
        (ask,) = RECIPE.plan(profile.model_copy(deep=True), book, days(at) + timedelta(hours=1)).asks
        assert ask.message.step == step
        found.append(ask.offer)
        profile = decided(profile, Decision(state={"basis": isoformat(LAST), "sent": step}), days(at))
    return found


def test_the_shipped_offers_escalate_and_reach_the_ask():
    first, second, third, fourth = offers(not_in_holdout())
    assert first is None
    assert second.type is RewardType.FREE_SHIPPING
    assert third.type is RewardType.AMOUNT_OFF and fourth.type is RewardType.AMOUNT_OFF
    assert fourth.value_minor > third.value_minor
    assert {o.valid_days for o in (second, third, fourth)} == {30}


def test_the_price_variant_gets_each_offer_one_step_early():
    shipped = offers(not_in_holdout())
    early = offers(not_in_holdout(reason="price"))
    assert early[0] is not None and early[0] == shipped[1]  # an offer from step 1
    assert early[:3] == shipped[1:] and early[3] == shipped[3]  # the last step keeps the largest
    (ask,) = RECIPE.plan(not_in_holdout(reason="price"), PLAYBOOK, days(91)).asks
    assert ask.message.variant == "price"


def test_the_experience_variant_has_replies_go_to_a_person():
    book = playbook.load({"winback": {"variants": {"experience": {"reply_to": "care@shop.example.com"}}}})
    (ask,) = RECIPE.plan(not_in_holdout(reason="experience"), book, days(91)).asks
    assert ask.message.reply_to == "care@shop.example.com" and ask.message.variant == "experience"
    assert offers(not_in_holdout(reason="experience"), book) == offers(not_in_holdout())
    (other,) = RECIPE.plan(not_in_holdout(reason="forgot"), book, days(91)).asks
    assert other.message.reply_to is None and other.message.variant == "forgot"
    (shipped,) = RECIPE.plan(not_in_holdout(reason="experience"), PLAYBOOK, days(91)).asks
    assert shipped.message.reply_to is None  # the shipped playbook names nobody


def test_an_unknown_reason_gets_the_default_copy():
    (ask,) = RECIPE.plan(not_in_holdout(reason="other"), PLAYBOOK, days(91)).asks
    assert ask.message.variant == "default"


# -- who qualifies -----------------------------------------------------------------------------


THRESHOLD = winback.settings(PLAYBOOK).qualify.one_time_min_spent_minor  # the shipped one-time minimum


@pytest.mark.parametrize(
    ("orders", "spent", "qualifies"),
    [
        (0, 0, False),  # never ordered
        (1, THRESHOLD - 1, False),  # a one-time buyer under one_time_min_spent_minor is left alone
        (1, THRESHOLD, True),
        (2, 100, True),  # a repeat buyer qualifies whatever it spent
    ],
)
def test_who_qualifies_by_the_shipped_rules(orders, spent, qualifies):
    assert THRESHOLD > 100  # the shipped playbook does leave one-time low spenders alone
    decision = RECIPE.plan(not_in_holdout(orders=orders, spent=spent), PLAYBOOK, days(91))
    assert bool(decision.asks) is qualifies
    if not qualifies:
        assert decision.skipped == ("not_qualified",)
        after = decided(not_in_holdout(orders=orders, spent=spent), decision, days(91))
        assert winback.ended(after) == "not_qualified" and RECIPE.next_due(after, PLAYBOOK) is None


def test_min_orders_comes_from_the_playbook():
    book = playbook.load({"winback": {"qualify": {"min_orders": 3}}})
    assert RECIPE.plan(not_in_holdout(orders=2), book, days(91)).skipped == ("not_qualified",)
    assert RECIPE.plan(not_in_holdout(orders=3), book, days(91)).asks


# -- holdout -----------------------------------------------------------------------------------


def test_holdout_membership_is_deterministic_and_per_lapse():
    draws = [in_holdout("s", f"c-{i}", "2026-01-10", "winback", 10) for i in range(200)]
    assert draws == [in_holdout("s", f"c-{i}", "2026-01-10", "winback", 10) for i in range(200)]
    later = [in_holdout("s", f"c-{i}", "2026-07-01", "winback", 10) for i in range(200)]
    assert draws != later  # a new lapse draws again: nobody is held out forever


def test_the_holdout_is_ten_percent_of_20000_contacts_within_one_point():
    held = sum(in_holdout("s", f"c-{i}", "2026-01-10", "winback", 10) for i in range(20_000))
    assert 0.09 <= held / 20_000 <= 0.11
    assert not any(in_holdout("s", f"c-{i}", "2026-01-10", "winback", 0) for i in range(20_000))


def test_a_holdout_contact_is_asked_for_but_marked_and_without_an_offer():
    someone = in_the_holdout(sent=1)
    decision = RECIPE.plan(someone, PLAYBOOK, days(136))
    (ask,) = decision.asks
    assert ask.message.holdout is True and ask.offer is None  # step 2 carries free shipping for others
    assert decision.state is not None and decision.state["holdout"] is True
    # followed like the others: the state advances and the next step comes at its time
    after = decided(someone, decision, days(136))
    assert winback.steps_taken(after) == 2 and RECIPE.next_due(after, PLAYBOOK) == days(180)


def test_no_holdout_when_the_playbook_sets_it_to_zero():
    book = playbook.load({"winback": {"holdout_percent": 0}})
    (ask,) = RECIPE.plan(in_the_holdout(sent=1), book, days(136)).asks
    assert ask.message.holdout is False and ask.offer is not None


# -- reach and send time ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "reason"), [({"consent": False}, "no_consent"), ({"email": None}, "no_email")]
)
def test_a_step_nobody_may_receive_asks_nothing_but_the_lapse_moves_on(changes, reason):
    someone = not_in_holdout(**changes)
    decision = RECIPE.plan(someone, PLAYBOOK, days(91))
    assert decision.asks == () and decision.skipped == (reason,)
    after = decided(someone, decision, days(91))
    assert winback.steps_taken(after) == 1 and RECIPE.next_due(after, PLAYBOOK) == days(135)


def test_a_queued_step_is_not_wanted_once_the_customer_came_back():
    someone = not_in_holdout()
    (ask,) = RECIPE.plan(someone, PLAYBOOK, days(91)).asks
    assert RECIPE.still_wanted(someone, ask.message, PLAYBOOK, days(92)) is None
    back = someone.model_copy(update={"last_activity_at": isoformat(days(91) + timedelta(hours=2))})
    assert RECIPE.still_wanted(back, ask.message, PLAYBOOK, days(92)) == "came_back"


def test_a_queued_later_step_is_not_wanted_once_an_earlier_one_was_clicked():
    someone = not_in_holdout(sent=1)
    (ask,) = RECIPE.plan(someone, PLAYBOOK, days(136)).asks
    assert RECIPE.still_wanted(clicked(someone, days(136.5)), ask.message, PLAYBOOK, days(137)) == "clicked"
    other = clicked(not_in_holdout(sent=1), days(136.5), campaign="reward")
    assert RECIPE.still_wanted(other, ask.message, PLAYBOOK, days(137)) is None


def test_a_late_click_on_an_email_of_an_earlier_lapse_does_not_end_this_one():
    # the click comes after this lapse began, but on a step of the lapse before (its period says so)
    someone = not_in_holdout(sent=1, asked_at=isoformat(days(90)))
    someone.last_click = lww(
        {"campaign": "winback", "step": 3, "period": "2025-06-01", "link": "x"}, isoformat(days(95)), "k"
    )
    (ask,) = RECIPE.plan(someone, PLAYBOOK, days(136)).asks
    assert ask.message.step == 2
    assert RECIPE.still_wanted(someone, ask.message, PLAYBOOK, days(137)) is None
    # the same click on this lapse's email ends it
    someone.last_click["v"]["period"] = "2026-01-10"
    assert RECIPE.plan(someone, PLAYBOOK, days(136)).skipped == ("clicked",)
