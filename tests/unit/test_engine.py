"""The recipe engine: one due time per contact (the earliest enabled recipe's), a recipe added from outside
fires at its own time, and the one-write fast path never leaves a due time late."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from comeback.domain import playbook
from comeback.domain.clock import isoformat, parse_iso
from comeback.domain.events import ShopEvent, parse_event
from comeback.domain.profile import Profile, apply, empty, lww
from comeback.domain.rewards import Reward, RewardRequest
from comeback.messaging.render import render
from comeback.recipes import engine, registry
from comeback.recipes.base import state_of
from comeback.recipes.expiry import RECIPE as EXPIRY
from tests.recipes import probe
from tests.support import order, shop_event

# The engine across win-back, expiry and stages; NPS (due 14 days after a second order) and the
# surveys (7 days after an order, 60 after the last) have their own tests (test_nps.py,
# test_survey.py) and are left out of these due-time tables.
PLAYBOOK = playbook.load({"nps": {"enabled": False}, "survey": {"enabled": False}})
# loyalty and cross-sell read the profile on an order (their facts, the order's products): without
# them an order may take the one-write fast path
LAST = datetime(2026, 1, 10, 3, 0, tzinfo=UTC)
CUSTOMER = {"id": "c-1", "email": "hanako@example.com"}


def days(n: float) -> datetime:
    return LAST + timedelta(days=n)


# the first order's anniversary (no sign-up date known): 09:00 in Tokyo, 10 January 2027
ANNIVERSARY = datetime(2027, 1, 10, 0, 0, tzinfo=UTC)


def customer(first_order: datetime = LAST) -> Profile:
    profile = empty("s", "c-1", "c-1")
    profile.email = lww("hanako@example.com", "2025-01-01T00:00:00.000000Z", "u1")
    profile.consent = lww(True, "2025-01-01T00:00:00.000000Z", "u1")
    profile.orders_count = 2
    profile.spent = {"JPY": 12_000}
    profile.first_order_at = isoformat(first_order)
    profile.last_activity_at = profile.last_order_at = isoformat(LAST)
    return profile


def with_reward(profile: Profile, issued: datetime, book: playbook.Playbook = PLAYBOOK) -> Profile:
    request = RewardRequest(
        shop_id="s",
        contact_id="c-1",
        recipe="winback",
        step=2,
        period="2025-10-01",
        offer={"type": "free_shipping", "valid_days": 30},
        issued_at=issued,
    )
    decision = EXPIRY.on_reward(profile, Reward.issue(request, "CB-7KQ4-M2XP"), book)
    assert decision.state is not None
    return engine.with_state(profile, EXPIRY, decision.state, issued)


# -- one due time per contact -------------------------------------------------------------------


def test_the_contact_is_due_when_its_earliest_enabled_recipe_is():
    profile = with_reward(customer(), days(10))  # reminded 7 days before it expires: day 33
    times = engine.due_times(profile, PLAYBOOK)
    assert times == {
        "winback": days(90),
        "lifecycle": days(60),
        "expiry": days(33),
        "anniversary": ANNIVERSARY,
    }
    assert engine.earliest(times) == days(33)
    later = with_reward(customer(), days(50))
    assert engine.earliest(engine.due_times(later, PLAYBOOK)) == days(60)  # the stage's at_risk


def test_a_disabled_recipes_due_time_is_ignored():
    off = playbook.load(
        {"lifecycle": {"enabled": False}, "nps": {"enabled": False}, "survey": {"enabled": False}}
    )
    profile = engine.with_dues(customer(), PLAYBOOK)  # stored while the stage recipe was on
    assert profile.dues["lifecycle"] == isoformat(days(60))
    assert engine.due_times(profile, off) == {"winback": days(90), "anniversary": ANNIVERSARY}
    assert engine.earliest(engine.due_times(profile, off)) == days(90)
    assert engine.due_now(profile, off, days(61)) == []
    assert [r.name for r in engine.due_now(profile, PLAYBOOK, days(61))] == ["lifecycle"]
    assert "lifecycle" not in engine.with_dues(profile, off).dues


def test_each_due_recipe_is_asked_and_its_state_and_the_due_times_move_on():
    profile = engine.with_dues(customer(), PLAYBOOK)
    outcome = engine.plan_due(profile, PLAYBOOK, days(90))
    # winback asks step 1 (or holds the contact out); the stage goes straight to lapsed
    assert outcome.changed == ["winback", "lifecycle"]
    assert [a.message.campaign for a in outcome.asks] == ["winback"]
    assert [n.detail["to_stage"] for n in outcome.notices] == ["lapsed"]
    assert outcome.profile.dues == {
        "winback": isoformat(days(135)),
        "anniversary": isoformat(ANNIVERSARY),
        "lifecycle": isoformat(days(365)),
    }


# -- a recipe from outside: the probe ---------------------------------------------------------


def test_a_recipe_named_in_the_environment_gets_its_own_playbook_section():
    with pytest.raises(ValueError, match="probe"):
        playbook.load({"probe": {"enabled": True}})  # unknown while the probe is not registered
    with probe.registered():
        shipped = [r.name for r in registry.all_recipes() if r.name != "probe"]
        assert shipped[-1] == "lifecycle"  # the stage recipe stays last, after a shop's own
        assert [r.name for r in registry.all_recipes()] == [*shipped[:-1], "probe", "lifecycle"]
        assert playbook.load({}).section("probe").enabled is False  # off unless a playbook says so
        book = playbook.load(probe.playbook(after_days=45))
        assert book.section("probe").after_days == 45 and registry.get("probe") in registry.enabled(book)
        with pytest.raises(ValueError, match=r"probe\.after_days"):
            playbook.load({"probe": {"after_days": 0}})
    assert registry.get("probe") is None


def test_a_recipe_added_from_outside_fires_at_its_own_time_beside_winback():
    with probe.registered():
        book = playbook.load({**probe.playbook(after_days=30), "nps": {"enabled": False}})
        first = LAST - timedelta(days=200)  # the probe is due 30 days after the first order ...
        profile = engine.with_dues(customer(first_order=LAST - timedelta(days=200)), book)
        assert engine.due_times(profile, book)["probe"] == first + timedelta(days=30)
        # ... long before win-back's first step (90 days after the last order)
        outcome = engine.plan_due(profile, book, LAST)
        assert [(a.message.campaign, a.message.period) for a in outcome.asks] == [("probe", "2025-06-24")]
        profile = outcome.profile
        assert "probe" not in profile.dues and engine.earliest(engine.due_times(profile, book)) == days(60)

        profile = engine.plan_due(profile, book, days(60)).profile  # the stage: at risk
        outcome = engine.plan_due(profile, book, days(90))
        assert [a.message.campaign for a in outcome.asks] == ["winback"]  # and the probe never again


def test_two_recipes_due_at_the_same_time_are_both_asked():
    with probe.registered():
        book = playbook.load(probe.playbook(after_days=90))
        profile = engine.with_dues(customer(first_order=LAST), book)
        outcome = engine.plan_due(profile, book, days(90))
        assert [a.message.campaign for a in outcome.asks] == ["winback", "probe"]


def test_the_probe_arms_on_the_slow_path_then_keeps_its_due_time_on_the_fast_path():
    with probe.registered():
        book = playbook.load({**probe.playbook(after_days=30), **NO_ORDER_READS})
        event = parse_event(order("o-1", "2026-01-10T12:00:00+09:00", CUSTOMER))
        assert engine.fast_plan(event, book).requires["probe"] == {"phase": ("armed", "done")}  # type: ignore[union-attr]
        outcome = engine.on_event(
            None, apply(empty("s", "c-1", "c-1"), event), event, book, event.occurred_at
        )
        assert state_of(outcome.profile, "probe")["phase"] == "armed"
        assert outcome.profile.dues["probe"] == isoformat(event.occurred_at + timedelta(days=30))


def test_the_probes_templates_render_in_both_locales():
    with probe.registered():
        playbook.load(probe.playbook())  # the templates pass the playbook's check
        context = {
            "shop": {"name": "Tea Shop", "postal_address": "1-2-3 Jingumae"},
            "contact": {"first_name": "Hanako"},
            "locale": "en",
            "after_days": 30,
            "cta_url": "https://shop.example.com/",
            "unsubscribe_url": "https://u.example.com/x",
        }
        for locale in ("en", "ja"):
            rendered = render("probe", locale, {**context, "locale": locale}, overrides=probe.TEMPLATES)
            assert "30" in rendered.subject and "Tea Shop" in rendered.text and "Tea Shop" in rendered.html


def test_a_recipe_defined_twice_or_a_module_without_one_is_refused(monkeypatch):
    for extra, message in (("comeback.recipes.winback", "twice"), ("comeback.domain.clock", "no RECIPE")):
        monkeypatch.setenv(registry.EXTRA_ENV, extra)
        registry._load.cache_clear()
        with pytest.raises(LookupError, match=message):
            registry.all_recipes()
    monkeypatch.delenv(registry.EXTRA_ENV)
    registry._load.cache_clear()


# -- the fast path against the profile: a property ------------------------------------------------

START = datetime(2025, 1, 1, tzinfo=UTC)
GAPS = st.one_of(
    st.integers(1, 3600).map(lambda s: timedelta(seconds=s)),
    st.integers(1, 400).map(lambda d: timedelta(days=d)),
    st.sampled_from([30, 60, 90, 135, 180, 270, 300, 365]).map(lambda d: timedelta(days=d)),
)
KINDS = [
    "order.placed", "order.placed", "product.viewed", "customer.updated", "order.refunded", "sweep",
    "site.visited", "message.replied",
]  # fmt: skip


def _event(data: st.DataObject, kind: str, index: int, at: datetime, codes: list[str]) -> ShopEvent:
    stamp, event_id = isoformat(at), f"e{index}"
    if kind == "order.placed":
        total = data.draw(st.integers(500, 20_000), label="total")
        used = data.draw(st.lists(st.sampled_from([*codes, "WELCOME10"]), max_size=2), label="codes")
        raw = order(event_id, stamp, CUSTOMER, total=str(total), discount_codes=used)
    elif kind == "order.refunded":
        amount = data.draw(st.integers(1, 5000), label="refund")
        raw = shop_event(
            kind,
            id=event_id,
            occurred_at=stamp,
            customer=CUSTOMER,
            data={"order_id": "x", "amount": str(amount), "currency": "JPY"},
        )
    elif kind in ("product.viewed", "site.visited", "message.replied"):
        raw = shop_event(kind, id=event_id, occurred_at=stamp, customer=CUSTOMER)
    else:
        consent = data.draw(st.sampled_from([True, False, None]), label="consent")
        fields: dict[str, Any] = {"first_name": "Hanako"}
        if consent is not None:
            fields["accepts_marketing"] = consent
        raw = shop_event(kind, id=event_id, occurred_at=stamp, customer=CUSTOMER, data=fields)
    return parse_event(raw)  # type: ignore[return-value]


def _is_never_late(new: datetime | None, old: datetime | None) -> bool:
    """A due time the fast path kept as stored (`old`) is right if the recipe's is now the same or later."""
    return new == old or (old is not None and (new is None or new > old))


def _slow(before: Profile | None, event: ShopEvent, book: playbook.Playbook) -> Profile:
    after = apply(before or empty("s", "c-1", "c-1"), event)
    return engine.on_event(before, after, event, book, event.occurred_at).profile


def _sweep(profile: Profile, book: playbook.Playbook, now: datetime, issued: list[Reward]) -> Profile:
    outcome = engine.plan_due(profile, book, now)
    rewards = []
    for ask in outcome.asks:
        if ask.offer is not None:  # the ledger issues the reward the ask carries
            m = ask.message
            request = RewardRequest(
                shop_id="s",
                contact_id="c-1",
                recipe=m.campaign,
                step=m.step,
                period=m.period,
                offer=ask.offer,
                currency="JPY",
                issued_at=now,
            )
            rewards.append(Reward.issue(request, f"CB-{len(issued):04d}-TEST"))
    issued.extend(rewards)
    engine.rewards_changed(outcome, rewards, book, now)
    return outcome.profile


def _fast_path_is_exact_and_never_late(data: st.DataObject, book: playbook.Playbook) -> int:
    """Play a story of events and sweeps; returns how many events took the fast path."""
    at = START
    issued: list[Reward] = []
    # the first event creates the contact (the slow path), with or without consent
    first = _event(data, "customer.updated", 0, at, [])
    profile = _slow(None, first, book)
    due_at = engine.earliest(engine.due_times(profile, book))
    fast_count = 0
    for index in range(1, data.draw(st.integers(1, 14), label="length")):
        at += data.draw(GAPS, label="gap")
        kind = data.draw(st.sampled_from(KINDS), label="kind")
        if kind == "sweep":
            # the sweep reads the due index: every recipe really due now must be found due by it
            truly_due = {n for n, t in engine.due_times(profile, book).items() if t <= at}
            if truly_due:
                assert due_at is not None and due_at <= at, (due_at, at, truly_due)
                assert truly_due <= {r.name for r in engine.due_now(profile, book, at)}
            if due_at is not None and due_at <= at:
                profile = _sweep(profile, book, at, issued)
                due_at = engine.earliest(engine.due_times(profile, book))
            continue
        event = _event(data, kind, index, at, [r.code for r in issued])
        before, after = profile, apply(profile, event)
        fast = engine.fast_plan(event, book)
        applies = fast is not None and all(
            state_of(before, name).get(key) in allowed
            for name, required in fast.requires.items()
            for key, allowed in required.items()
        )
        if fast is not None and applies:
            # the recipes it moves: exactly what each recipe says of the profile after the event
            for name, due in fast.dues.items():
                recipe = registry.get(name)
                assert recipe is not None
                truth = recipe.next_due(after, book)
                assert (isoformat(due) if due else None) == (isoformat(truth) if truth else None), (
                    name,
                    event.type,
                )
            # and it loses nothing: with the whole profile, no recipe would have decided anything
            slow = engine.on_event(before, after, event, book, event.occurred_at)
            assert slow.decided == [], (event.type, [(r.name, d) for r, d in slow.decided])
            # the recipes it keeps: their due time stays right, or becomes a harmless early wake-up
            for name in fast.kept:
                recipe = registry.get(name)
                assert recipe is not None
                old, new = recipe.next_due(before, book), recipe.next_due(after, book)
                assert _is_never_late(new, old), (name, event.type, old, new)
            # what the store writes (contact_store.FastUpdate.recipes): the moved due times, and the
            # contact's own as their earliest, on condition that no kept one is earlier
            stored = {**before.dues}
            for name, due in fast.dues.items():
                if due is None:
                    stored.pop(name, None)
                else:
                    stored[name] = isoformat(due)
            candidate = fast.candidate
            kept_ok = candidate is None or all(
                name not in before.dues or parse_iso(before.dues[name]) >= candidate for name in fast.kept
            )
            no_due_ok = candidate is not None or not fast.dues or fast.kept or due_at is None
            if kept_ok and no_due_ok:
                fast_count += 1
                profile = after.model_copy(update={"dues": stored})
                due_at = candidate if candidate is not None else due_at
                continue
        profile = _slow(before, event, book)
        due_at = engine.earliest(engine.due_times(profile, book))
    return fast_count


# With the stage recipe off, nothing else makes the fast path read the profile of a lapsed contact.
# Orders reach the fast path only without loyalty (its ledger must see the profile), cross-sell
# (it keeps the order's products), the engagement score (it scores an order at once), the surveys
# and NPS (an order schedules them) and the welcome series (an order ends it): the fast
# path's properties are checked where they apply, and the other events keep it with them on (the
# engagement score's views, visits and replies on the fast path: "engagement").
NO_ORDER_READS: dict[str, Any] = {"loyalty": {"enabled": False}, "engagement": {"enabled": False},
                                  "crosssell": {"enabled": False}, "nps": {"enabled": False},
                                  "survey": {"enabled": False}, "welcome": {"enabled": False}}  # fmt: skip
NO_LOYALTY = playbook.load(NO_ORDER_READS)
WITHOUT_STAGES = playbook.load({"lifecycle": {"enabled": False}, **NO_ORDER_READS})
ENGAGEMENT = playbook.load({"loyalty": {"enabled": False}, "crosssell": {"enabled": False},
                            "engagement": {"threshold": 30}})  # fmt: skip


@pytest.mark.parametrize(
    "book", [NO_LOYALTY, WITHOUT_STAGES, ENGAGEMENT], ids=["shipped", "without_stages", "engagement"]
)
@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_the_fast_path_gives_each_recipe_its_exact_due_time_and_never_a_late_one(book, data):
    _fast_path_is_exact_and_never_late(data, book)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_the_fast_path_is_never_late_with_a_recipe_added_from_outside(data):
    with probe.registered():
        book = playbook.load({**probe.playbook(after_days=45), **NO_ORDER_READS})
        _fast_path_is_exact_and_never_late(data, book)


def test_the_stories_of_the_property_do_take_the_fast_path():
    # the property above is only worth something if its stories reach the fast path: one that must
    events = [
        parse_event(
            shop_event("customer.updated", id="e0", occurred_at="2025-01-01T00:00:00Z", customer=CUSTOMER)
        ),
        parse_event(order("e1", "2025-01-02T00:00:00Z", CUSTOMER)),
        parse_event(order("e2", "2025-01-03T00:00:00Z", CUSTOMER)),
    ]
    profile = _slow(None, events[0], NO_LOYALTY)
    profile = _slow(profile, events[1], NO_LOYALTY)  # the stage is stored (active) by the slow path
    fast = engine.fast_plan(events[2], NO_LOYALTY)
    assert fast is not None and state_of(profile, "lifecycle")["stage"] in fast.requires["lifecycle"]["stage"]
