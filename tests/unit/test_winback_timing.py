"""Win-back's predictive timing: step 1 when the customer's own p_alive falls below the playbook's
threshold (or it is overdue against its next order), within bounds, from an in-memory model."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from comeback.domain import playbook, predictions
from comeback.domain.clock import isoformat
from comeback.domain.events import parse_event
from comeback.domain.profile import Profile, empty, lww
from comeback.recipes import winback
from comeback.recipes.base import in_holdout
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


# -- timing: {mode: compare}: an experiment between the two timings -------------------------------

COMPARE = playbook.load(
    {"winback": {"holdout_percent": 10, "timing": {"mode": "compare", "p_alive_below": 0.5}}}
).with_predictions(MODEL)


def compare_book(percent: float, model: object = MODEL) -> playbook.Playbook:
    document = {"holdout_percent": 10, "timing": {"mode": "compare", "compare_percent": percent}}
    return playbook.load({"winback": document}).with_predictions(model)  # type: ignore[arg-type]


def contact_in(arm: str, book: playbook.Playbook = COMPARE) -> Profile:
    """The first of c-0, c-1 ... in that arm, a frequent buyer whose last order was LAST."""
    for n in range(1000):
        someone = buyer(10, 200, f"c-{n}")
        if winback.timing_arm(someone, book) == arm:
            return someone
    raise AssertionError(f"nobody in the {arm} arm")


def test_compare_times_about_compare_percent_of_the_contacts_by_prediction():
    for percent in (0, 20, 50, 100):
        arms = [winback.in_predictive_arm("s", f"c-{n}", percent) for n in range(4000)]
        assert sum(arms) / len(arms) == pytest.approx(percent / 100, abs=0.025)
    # the draw is the shop's: another shop's same contact id draws again
    assert [winback.in_predictive_arm("t", f"c-{n}", 50) for n in range(200)] != [
        winback.in_predictive_arm("s", f"c-{n}", 50) for n in range(200)
    ]


def test_each_arm_is_timed_its_own_way_and_its_message_says_which():
    fixed, predicted = contact_in("fixed"), contact_in("predictive")
    assert RECIPE.next_due(fixed, COMPARE) == LAST + timedelta(days=90)
    due = RECIPE.next_due(predicted, COMPARE)
    assert due == RECIPE.next_due(predicted, PREDICTIVE)
    assert due is not None and due < LAST + timedelta(days=90)
    for someone, at, arm in ((fixed, LAST + timedelta(days=90), "fixed"), (predicted, due, "predictive")):
        decision = RECIPE.plan(someone, COMPARE, at + timedelta(hours=1))
        (ask,) = decision.asks
        assert ask.message.step == 1 and ask.message.timing == arm
        assert decision.state is not None and decision.state["timing"] == arm


def test_the_later_steps_carry_the_timing_of_step_one():
    someone = contact_in("predictive")
    due = RECIPE.next_due(someone, COMPARE)
    assert due is not None
    first = RECIPE.plan(someone, COMPARE, due + timedelta(hours=1))
    assert first.state is not None and first.state["sent"] == 1
    someone.recipes[winback.NAME] = {"v": first.state, "at": isoformat(due), "id": "w"}
    second = RECIPE.plan(someone, COMPARE, LAST + timedelta(days=400))
    (ask,) = second.asks
    assert ask.message.step == 4 and ask.message.timing == "predictive"


def test_without_a_model_the_predictive_arm_gets_the_fixed_days_and_says_so():
    someone = contact_in("predictive")
    for model in (None, fitted_model(qualifies=False, repeat_customers=150)):
        book = COMPARE.with_predictions(model)
        assert RECIPE.next_due(someone, book) == LAST + timedelta(days=90)
        assert winback.timing_arm(someone, book) == "no_model"
        (ask,) = RECIPE.plan(someone, book, LAST + timedelta(days=91)).asks
        assert ask.message.timing == "no_model"
    assert winback.timing_arm(contact_in("fixed"), COMPARE.with_predictions(None)) == "fixed"


def test_fixed_timing_records_no_timing_and_predictive_timing_its_own():
    someone = buyer(10, 200)
    (ask,) = RECIPE.plan(someone, FIXED, LAST + timedelta(days=91)).asks
    assert ask.message.timing is None
    (ask,) = RECIPE.plan(someone, PREDICTIVE, LAST + timedelta(days=364)).asks
    assert ask.message.timing == "predictive"
    (ask,) = RECIPE.plan(someone, PREDICTIVE.with_predictions(None), LAST + timedelta(days=91)).asks
    assert ask.message.timing == "no_model"


def test_each_arm_has_its_own_holdout_drawn_as_before():
    # Given 4,000 contacts with a lapse each, under compare timing with a 10% holdout
    held: dict[str, list[bool]] = {"fixed": [], "predictive": []}
    for n in range(4000):
        someone = buyer(10, 200, f"c-{n}")
        arm = "predictive" if winback.in_predictive_arm("s", f"c-{n}", 50) else "fixed"
        (ask,) = RECIPE.plan(someone, COMPARE, LAST + timedelta(days=91)).asks
        # Then the holdout is the same draw as without the experiment ...
        assert ask.message.holdout == in_holdout("s", f"c-{n}", isoformat(LAST)[:10], winback.NAME, 10)
        assert ask.message.timing == arm
        held[arm].append(ask.message.holdout)
    # ... and each arm holds out about 10% of its own contacts
    for arm, draws in held.items():
        assert 1800 < len(draws) < 2200, arm
        assert sum(draws) / len(draws) == pytest.approx(0.10, abs=0.02), arm


@given(
    contact=st.from_regex(r"[a-z0-9-]{1,24}", fullmatch=True),
    percent=st.floats(min_value=0, max_value=100),
    orders=st.integers(min_value=2, max_value=30),
    first_days=st.integers(min_value=1, max_value=700),
    days=st.integers(min_value=0, max_value=3),
)
@settings(max_examples=60, deadline=None)
def test_a_contacts_arm_never_changes_between_calls_or_lapses(contact, percent, orders, first_days, days):
    book = compare_book(percent)
    arm = winback.in_predictive_arm("s", contact, percent)
    # the same contact at another lapse, with another history: the same arm
    someone = buyer(orders, first_days, contact)
    someone.last_activity_at = someone.last_order_at = isoformat(LAST + timedelta(days=days))
    timed = winback.timing_arm(someone, book)
    assert timed == ("predictive" if arm else "fixed") or (arm and timed == "no_model")
    assert all(winback.in_predictive_arm("s", contact, percent) == arm for _ in range(3))
    assert winback.timing_arm(someone, book) == timed
    # a larger share keeps everyone already in the predictive arm there
    assert not arm or winback.in_predictive_arm("s", contact, min(100.0, percent + 10))
