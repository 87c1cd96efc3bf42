from datetime import UTC, datetime, timedelta

import pytest

from comeback.domain import playbook
from comeback.domain.clock import isoformat
from comeback.domain.profile import empty, lww
from comeback.recipes import lifecycle
from comeback.recipes.lifecycle import plan, stage

PLAYBOOK = playbook.default()
LAST = datetime(2026, 1, 10, 3, 0, tzinfo=UTC)


def customer(orders=1, winback=None, consent=True):
    profile = empty("s", "c-1", "c-1")
    profile.email = lww("hanako@example.com", "2025-01-01T00:00:00.000000Z", "u1")
    profile.consent = lww(consent, "2025-01-01T00:00:00.000000Z", "u1")
    profile.orders_count = orders
    profile.last_activity_at = isoformat(LAST)
    profile.winback = winback
    return profile


@pytest.mark.parametrize(
    ("days", "expected"), [(0, "active"), (59, "active"), (60, "at_risk"), (90, "lapsed"), (365, "lost")]
)
def test_stage_by_days_since_last_activity(days, expected):
    assert stage(customer(), PLAYBOOK, LAST + timedelta(days=days)) == expected


def test_nothing_is_due_before_the_first_step():
    result = plan(customer(), PLAYBOOK, LAST + timedelta(days=89))
    assert result.messages == () and result.next_due == LAST + timedelta(days=90)


def test_first_step_at_90_days_then_the_next_is_due_at_135():
    result = plan(customer(), PLAYBOOK, LAST + timedelta(days=90, hours=1))
    (message,) = result.messages
    assert (message.campaign, message.step, message.period, message.basis) == (
        "winback",
        1,
        "2026-01-10",
        isoformat(LAST),
    )
    assert result.winback == lifecycle.winback_progress(1, isoformat(LAST))
    assert result.next_due == LAST + timedelta(days=135)


def test_a_late_sweep_sends_only_the_latest_step_due():
    result = plan(customer(), PLAYBOOK, LAST + timedelta(days=200))
    assert [m.step for m in result.messages] == [3]
    assert result.next_due == LAST + timedelta(days=270)


def test_after_the_last_step_the_contact_is_sunset_and_leaves_the_due_index():
    done = customer(winback=lifecycle.winback_progress(4, isoformat(LAST)))
    assert plan(done, PLAYBOOK, LAST + timedelta(days=400)).next_due is None
    assert "sunset" in lifecycle.tags(done, PLAYBOOK, LAST + timedelta(days=400))


def test_new_activity_starts_a_new_lapse_from_step_one():
    came_back = customer(winback=lifecycle.winback_progress(2, "2025-06-01T00:00:00.000000Z"))
    assert lifecycle.winback_steps_sent(came_back) == 0
    assert [m.step for m in plan(came_back, PLAYBOOK, LAST + timedelta(days=91)).messages] == [1]


def test_people_who_never_ordered_are_not_won_back():
    result = plan(customer(orders=0), PLAYBOOK, LAST + timedelta(days=100))
    assert result.messages == () and result.next_due is None


def test_a_step_goes_stale_when_the_next_one_is_due():
    (message,) = plan(customer(), PLAYBOOK, LAST + timedelta(days=91)).messages
    assert not message.stale(LAST + timedelta(days=134))
    assert message.stale(LAST + timedelta(days=136))


def test_a_step_nobody_may_receive_is_not_asked_for_but_the_lapse_moves_on():
    result = plan(customer(consent=False), PLAYBOOK, LAST + timedelta(days=91))
    assert result.messages == () and result.not_asked == ("no_consent",)
    assert result.winback == lifecycle.winback_progress(1, isoformat(LAST))
    assert result.next_due == LAST + timedelta(days=135)


def clicked(profile, at, campaign="winback"):
    profile.last_click = lww(
        {"campaign": campaign, "step": 1, "period": "p", "link": "x"}, isoformat(at), "k"
    )
    return profile


def test_a_click_on_a_winback_email_ends_the_sequence_without_a_sunset():
    someone = clicked(
        customer(winback=lifecycle.winback_progress(1, isoformat(LAST))), LAST + timedelta(days=95)
    )
    result = plan(someone, PLAYBOOK, LAST + timedelta(days=135, hours=1))
    assert result.messages == () and result.next_due is None and result.not_asked == ("clicked",)
    after = someone.model_copy(update={"winback": result.winback})
    assert "sunset" not in lifecycle.tags(after, PLAYBOOK, LAST + timedelta(days=200))


def test_a_click_from_an_earlier_lapse_or_another_campaign_does_not_end_this_one():
    old_click = clicked(customer(), LAST - timedelta(days=10))
    other = clicked(customer(), LAST + timedelta(days=20), campaign="reward")
    for profile in (old_click, other):
        assert [m.step for m in plan(profile, PLAYBOOK, LAST + timedelta(days=91)).messages] == [1]
