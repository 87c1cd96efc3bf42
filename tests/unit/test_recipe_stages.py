"""Lifecycle stages: by days, engaged, won back; every change one notice and one note; the next threshold."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from comeback.domain import playbook
from comeback.domain.clock import isoformat, parse_iso
from comeback.domain.events import parse_event
from comeback.domain.notices import StageChanged
from comeback.domain.profile import Profile, apply, empty, lww
from comeback.recipes import engine
from comeback.recipes.base import Decision
from comeback.recipes.stages import RECIPE, current, stored_stage
from tests.support import order, shop_event

PLAYBOOK = playbook.default()
LAST = datetime(2026, 1, 10, 3, 0, tzinfo=UTC)
CUSTOMER = {"id": "c-1", "email": "hanako@example.com"}


def days(n: float) -> datetime:
    return LAST + timedelta(days=n)


def customer(stage: str | None = None, **winback: Any) -> Profile:
    profile = empty("s", "c-1", "c-1")
    profile.email = lww("hanako@example.com", "2025-01-01T00:00:00.000000Z", "u1")
    profile.consent = lww(True, "2025-01-01T00:00:00.000000Z", "u1")
    profile.orders_count = 2
    profile.spent = {"JPY": 12_000}
    profile.last_activity_at = profile.last_order_at = isoformat(LAST)
    if stage:
        profile.recipes["lifecycle"] = {"v": {"stage": stage}, "at": isoformat(LAST), "id": "l"}
    if winback:
        state = {"basis": isoformat(LAST), **winback}
        profile.recipes["winback"] = {"v": state, "at": isoformat(LAST), "id": "w"}
    return profile


def decided(profile: Profile, decision: Decision, now: datetime) -> Profile:
    assert decision.state is not None
    return engine.with_state(profile, RECIPE, decision.state, now)


def an_order(at: datetime, event_id: str = "o-2"):  # type: ignore[no-untyped-def]
    return parse_event(order(event_id, isoformat(at), CUSTOMER))


def a_view(at: datetime, event_id: str = "v-1"):  # type: ignore[no-untyped-def]
    return parse_event(
        shop_event("product.viewed", id=event_id, occurred_at=isoformat(at), customer=CUSTOMER)
    )


@pytest.mark.parametrize(
    ("elapsed", "expected"), [(0, "active"), (59, "active"), (60, "at_risk"), (90, "lapsed"), (365, "lost")]
)
def test_the_stage_follows_the_days_since_the_last_activity(elapsed, expected):
    assert current(customer(), PLAYBOOK, days(elapsed)) == expected


def test_a_contact_that_never_did_anything_is_new():
    assert current(empty("s", "c-1"), PLAYBOOK, days(0)) == "new"


def test_the_thresholds_come_from_the_playbook():
    book = playbook.load({"lifecycle": {"at_risk_days": 40, "lapsed_days": 50, "lost_days": 100}})
    assert [current(customer(), book, days(d)) for d in (39, 40, 50, 100)] == [
        "active",
        "at_risk",
        "lapsed",
        "lost",
    ]


def test_a_recent_product_view_makes_an_active_contact_engaged():
    viewer = customer()
    viewer.last_viewed = lww({"product_id": "p1"}, isoformat(days(10)), "v")
    assert current(viewer, PLAYBOOK, days(39)) == "engaged"  # 29 days after the view
    assert current(viewer, PLAYBOOK, days(41)) == "active"  # engagement aged out (30 days)
    assert current(viewer, PLAYBOOK, days(60)) == "at_risk"  # the days since activity still count


def test_a_recent_email_engagement_makes_an_active_contact_engaged():
    reader = customer()
    reader.last_engaged_at = isoformat(days(20))
    assert current(reader, PLAYBOOK, days(30)) == "engaged"
    assert current(reader, PLAYBOOK, days(51)) == "active"


def test_an_order_within_the_attribution_window_of_a_winback_email_after_lapsing_is_won_back():
    before = customer(stage="lapsed", sent=1, asked_at=isoformat(days(100)), holdout=False)
    event = an_order(days(110))
    after = apply(before, event)
    decision = RECIPE.on_event(before, after, event, PLAYBOOK, days(110))
    assert decision.state is not None and decision.state["stage"] == "won_back"
    won = decided(after, decision, days(110))
    # and stays won back while active, until the contact lapses again
    assert current(won, PLAYBOOK, days(150)) == "won_back"
    assert current(won, PLAYBOOK, days(110 + 60)) == "at_risk"


def test_an_order_after_the_attribution_window_is_not_won_back():
    before = customer(stage="lapsed", sent=1, asked_at=isoformat(days(100)), holdout=False)
    event = an_order(days(131))
    decision = RECIPE.on_event(before, apply(before, event), event, PLAYBOOK, days(131))
    assert decision.state is not None and decision.state["stage"] == "active"


def test_a_holdout_contact_who_comes_back_is_not_won_back():
    before = customer(stage="lapsed", sent=1, asked_at=isoformat(days(100)), holdout=True)
    event = an_order(days(110))
    decision = RECIPE.on_event(before, apply(before, event), event, PLAYBOOK, days(110))
    assert decision.state is not None and decision.state["stage"] == "active"


def test_an_order_of_an_active_contact_changes_nothing():
    before = customer(stage="active")
    event = an_order(days(10))
    assert RECIPE.on_event(before, apply(before, event), event, PLAYBOOK, days(10)) == Decision()


def test_a_view_moves_an_active_contact_to_engaged():
    before = customer(stage="active")
    event = a_view(days(10))
    decision = RECIPE.on_event(before, apply(before, event), event, PLAYBOOK, days(10))
    assert decision.state is not None and decision.state["stage"] == "engaged"


def test_every_change_yields_one_notice_that_validates_and_one_note():
    profile = customer(stage="active")
    decision = RECIPE.plan(profile, PLAYBOOK, days(60))
    (notice,) = decision.notices
    (note,) = decision.notes
    assert notice.detail_type == "contact.stage_changed" == StageChanged.DETAIL_TYPE
    parsed = StageChanged.model_validate(notice.detail)
    assert (parsed.from_stage, parsed.to_stage, parsed.changed_at) == ("active", "at_risk", days(60))
    assert (parsed.shop_id, parsed.contact_id, parsed.customer_id) == ("s", "c-1", "c-1")
    assert note.kind == "contact.stage_changed" and note.at == isoformat(days(60))
    assert note.detail == {"from": "active", "to": "at_risk", "reason": parsed.reason}


def test_the_same_change_at_the_same_time_has_the_same_notice_id():
    first = RECIPE.plan(customer(stage="active"), PLAYBOOK, days(60)).notices[0].detail["id"]
    again = RECIPE.plan(customer(stage="active"), PLAYBOOK, days(60)).notices[0].detail["id"]
    other = RECIPE.plan(customer(stage="at_risk"), PLAYBOOK, days(90)).notices[0].detail["id"]
    assert first == again != other


def test_next_due_walks_at_risk_then_lapsed_then_lost():
    profile = customer(stage="active")
    walk = []
    for _ in range(4):
        due = RECIPE.next_due(profile, PLAYBOOK)
        walk.append((stored_stage(profile), due))
        if due is None:
            break
        decision = RECIPE.plan(profile, PLAYBOOK, due)
        assert len(decision.notices) == 1 and len(decision.notes) == 1
        profile = decided(profile, decision, due)
    assert walk == [
        ("active", days(60)),
        ("at_risk", days(90)),
        ("lapsed", days(365)),
        ("lost", None),
    ]


def test_a_contact_woken_early_is_only_looked_at():
    profile = customer(stage="active")
    decision = RECIPE.plan(profile, PLAYBOOK, days(30))
    assert decision.notices == () and decision.notes == ()
    assert decision.state is not None and decision.state["stage"] == "active"
    assert decision.state["checked_at"] == isoformat(days(30))
    assert RECIPE.next_due(decided(profile, decision, days(30)), PLAYBOOK) == days(60)


def test_the_fast_path_keeps_the_stage_only_when_the_stored_one_is_what_the_event_leaves():
    order_effect = RECIPE.fast(an_order(days(1)), PLAYBOOK)
    view_effect = RECIPE.fast(a_view(days(1)), PLAYBOOK)
    assert order_effect is not None and view_effect is not None
    assert order_effect.due == days(61) and set(order_effect.requires["stage"]) == {
        "active",
        "engaged",
        "won_back",
    }
    assert view_effect.requires == {"stage": ("engaged",)}


def test_a_sunset_is_announced_as_lost_at_the_next_sweep_not_at_lost_days():
    profile = engine.with_dues(customer(stage="lapsed", sent=4, asked_at=isoformat(days(270))), PLAYBOOK)
    assert profile.dues["winback"] == isoformat(days(300))
    sunset = engine.plan_due(profile, PLAYBOOK, days(300)).profile
    # the drip ended in a sunset: the stage recipe is due at once (not at day 365) ...
    assert parse_iso(sunset.dues["lifecycle"]) <= days(300)
    outcome = engine.plan_due(sunset, PLAYBOOK, days(300) + timedelta(hours=1))
    # ... and announces the contact lost
    assert [(n.detail["from_stage"], n.detail["to_stage"]) for n in outcome.notices] == [("lapsed", "lost")]
    assert stored_stage(outcome.profile) == "lost" and "lifecycle" not in outcome.profile.dues
