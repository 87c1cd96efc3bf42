"""Win-back's predictive timing: step 1 when the customer's own p_alive falls below the playbook's
threshold (or it is overdue against its next order), within bounds, from an in-memory model."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from comeback.domain import playbook, predictions
from comeback.domain.clock import isoformat
from comeback.domain.events import parse_event
from comeback.domain.profile import Profile, empty, lww
from comeback.recipes import winback
from comeback.recipes.winback import RECIPE
from tests.support import fitted_model, order

LAST = datetime(2026, 1, 10, 3, 0, tzinfo=UTC)
MODEL = fitted_model()
FIXED = playbook.load({"winback": {"holdout_percent": 0}}).with_predictions(MODEL)
PREDICTIVE = playbook.load(
    {"winback": {"holdout_percent": 0, "timing": {"mode": "predictive", "p_alive_below": 0.5}}}
).with_predictions(MODEL)


def buyer(orders: int, first_days_before_last: float, contact_id: str = "c-1") -> Profile:
    """A customer whose last order (and activity) was LAST, its first that many days before."""
    profile = empty("s", contact_id, contact_id)
    profile.email = lww("hanako@example.com", "2025-01-01T00:00:00.000000Z", "u1")
    profile.consent = lww(True, "2025-01-01T00:00:00.000000Z", "u1")
    profile.orders_count = orders
    profile.spent = {"JPY": 3500 * orders}
    profile.first_order_at = isoformat(LAST - timedelta(days=first_days_before_last))
    profile.last_activity_at = profile.last_order_at = isoformat(LAST)
    return profile


def p_alive_at(profile: Profile, at: datetime) -> float:
    found = predictions.score(profile, MODEL, at)
    assert found is not None
    return found.p_alive


def test_fixed_timing_is_the_default_even_when_the_shop_has_a_model():
    assert winback.settings(FIXED).timing.mode == "fixed"
    assert RECIPE.next_due(buyer(10, 200), FIXED) == LAST + timedelta(days=90)


def test_a_frequent_buyer_is_due_sooner_and_a_slow_one_later_when_its_p_alive_halves():
    frequent, slow = buyer(10, 200), buyer(3, 200)
    early, late = RECIPE.next_due(frequent, PREDICTIVE), RECIPE.next_due(slow, PREDICTIVE)
    assert early is not None and late is not None
    assert LAST + timedelta(days=30) < early < LAST + timedelta(days=90) < late < LAST + timedelta(days=365)
    for profile, due in ((frequent, early), (slow, late)):
        assert p_alive_at(profile, due) == pytest.approx(0.5, abs=1e-3)
        assert p_alive_at(profile, due - timedelta(days=2)) > 0.5


def test_step_one_is_kept_within_the_playbooks_bounds():
    # a one-time buyer's p_alive falls slowly (see comeback.domain.predictions): held at max_days
    assert RECIPE.next_due(buyer(1, 0), PREDICTIVE) == LAST + timedelta(days=365)
    eager = playbook.load(
        {"winback": {"timing": {"mode": "predictive", "p_alive_below": 0.99, "min_days": 45}}}
    ).with_predictions(MODEL)
    assert RECIPE.next_due(buyer(10, 200), eager) == LAST + timedelta(days=45)


def test_without_a_model_the_shop_can_use_step_one_stays_at_90_days():
    for model in (None, fitted_model(qualifies=False, repeat_customers=150)):
        book = PREDICTIVE.with_predictions(model)
        assert RECIPE.next_due(buyer(10, 200), book) == LAST + timedelta(days=90)
        assert RECIPE.fast(parse_event(order("o9", isoformat(LAST), {"id": "c-1"})), book) is not None


def test_the_later_steps_keep_their_distance_from_step_one():
    someone = buyer(10, 200)
    first = winback.predictive_first_step_days(someone, PREDICTIVE)
    assert first is not None
    assert winback.step_days(someone, PREDICTIVE) == pytest.approx(
        [first, first + 45, first + 90, first + 180]
    )


def test_step_one_goes_out_when_predicted_and_the_state_says_how_it_was_timed():
    someone = buyer(10, 200)
    due = RECIPE.next_due(someone, PREDICTIVE)
    assert due is not None
    assert RECIPE.plan(someone, PREDICTIVE, due - timedelta(hours=1)).asks == ()
    decision = RECIPE.plan(someone, PREDICTIVE, due + timedelta(hours=1))
    (ask,) = decision.asks
    assert ask.message.step == 1 and ask.message.not_after == due + timedelta(days=45)
    assert decision.state is not None and decision.state["timing"] == "predictive"
    fixed = RECIPE.plan(someone, FIXED, LAST + timedelta(days=91))
    assert fixed.state is not None and "timing" not in fixed.state


def test_an_order_is_seen_with_the_profile_and_moves_step_one():
    event = parse_event(order("o11", isoformat(LAST), {"id": "c-1"}))
    assert RECIPE.fast(event, PREDICTIVE) is None  # the due time hangs on the orders: the slow path
    before = RECIPE.next_due(buyer(3, 200), PREDICTIVE)
    after = RECIPE.next_due(buyer(4, 200), PREDICTIVE)  # one more order, the same last-order day
    assert before is not None and after is not None and after < before


def test_overdue_against_the_next_order_can_come_first():
    book = playbook.load(
        {"winback": {"timing": {"mode": "predictive", "p_alive_below": None, "overdue_factor": 2}}}
    ).with_predictions(MODEL)
    someone = buyer(10, 200)
    wait = predictions.median_wait_days(MODEL, 9, 200.0)
    assert RECIPE.next_due(someone, book) == LAST + timedelta(days=2 * wait)


@pytest.mark.parametrize(
    ("timing", "words"),
    [
        ({"mode": "predictive", "p_alive_below": None}, "needs p_alive_below or overdue_factor"),
        ({"min_days": 100, "max_days": 50}, "min_days is after"),
        ({"p_alive_below": 1.5}, "less than 1"),
    ],
)
def test_a_timing_that_cannot_work_is_refused(timing, words):
    with pytest.raises(ValueError, match=words):
        playbook.load({"winback": {"timing": timing}})
