"""Welcome: the series for new subscribers and first-time buyers, on the in-memory engine (pure)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from comeback.cli.previews import sample_context
from comeback.domain import playbook
from comeback.domain.clock import isoformat
from comeback.domain.events import ShopEvent, parse_event
from comeback.domain.profile import Profile, apply, empty
from comeback.messaging.render import LOCALES, render
from comeback.recipes import engine
from comeback.recipes import welcome as recipe
from comeback.recipes.base import state_of
from tests.support import order, shop_event

CUSTOMER = {"id": "c-1", "email": "hanako@example.com"}
T0 = datetime(2026, 3, 1, tzinfo=UTC)
# Only the welcome speaks here: the other recipes' emails are their own tests'
QUIET = {"survey": {"enabled": False}, "birthday": {"enabled": False}}
BOOK = playbook.load({**QUIET, "loyalty": {"milestones": []}})
THANKED = playbook.load(QUIET)  # loyalty's shipped 1st-order thank-you is on


def at(days: float = 0, hours: float = 0) -> str:
    return isoformat(T0 + timedelta(days=days, hours=hours))


def subscribed(event_id: str = "u-1", days: float = 0, consent: bool = True) -> dict[str, Any]:
    data = {"first_name": "Hanako", "accepts_marketing": consent}
    return shop_event("customer.updated", id=event_id, occurred_at=at(days), customer=CUSTOMER, data=data)


def bought(n: int, days: float) -> dict[str, Any]:
    return order(f"o{n}", at(days), CUSTOMER)


def events(*raw: dict[str, Any]) -> list[ShopEvent]:
    return [parse_event(e) for e in raw]


class Contact:
    """One contact as the contacts function and the sweep see it: events applied (a repeated id
    changes nothing), sweeps run at given times, every ask collected."""

    def __init__(self, book: playbook.Playbook = BOOK) -> None:
        self.book = book
        self.profile: Profile | None = None
        self.seen: set[str] = set()
        self.asks: list[Any] = []
        self.skipped: list[str] = []

    def receive(self, *events: ShopEvent, now: datetime | None = None) -> None:
        for event in events:
            if event.id in self.seen:
                continue
            self.seen.add(event.id)
            when = now or event.occurred_at + timedelta(minutes=5)
            after = apply(self.profile or empty("s", "c-1", "c-1"), event)
            outcome = engine.on_event(self.profile, after, event, self.book, when)
            self.profile = outcome.profile
            self.asks += outcome.asks

    def sweep(self, now: datetime) -> None:
        assert self.profile is not None
        outcome = engine.plan_due(self.profile, self.book, now)
        self.profile = outcome.profile
        self.asks += outcome.asks
        self.skipped += [reason for name, reason in outcome.skipped if name == "welcome"]

    def sweep_daily(self, days: int) -> None:
        for day in range(days + 1):
            self.sweep(T0 + timedelta(days=day, hours=1))

    @property
    def welcome(self) -> list[Any]:
        return [a for a in self.asks if a.message.campaign == "welcome"]

    @property
    def keys(self) -> list[str]:
        return [a.message.key for a in self.welcome]

    @property
    def state(self) -> dict[str, Any]:
        assert self.profile is not None
        return state_of(self.profile, "welcome")


def test_a_new_subscriber_gets_three_steps_at_0_3_and_7_days_the_last_with_its_offer() -> None:
    contact = Contact()
    contact.receive(*events(subscribed()))
    assert contact.state["track"] == "subscriber"
    contact.sweep_daily(10)
    assert contact.keys == ["welcome#1#subscriber", "welcome#2#subscriber", "welcome#3#subscriber"]
    sent_on = [a.message.requested_at.date() for a in contact.welcome]
    assert [(d - T0.date()).days for d in sent_on] == [0, 3, 7]
    offers = [a.offer for a in contact.welcome]
    assert offers[:2] == [None, None] and offers[2] is not None and offers[2].percent == 10
    assert {a.message.variant for a in contact.welcome} == {"subscriber"}
    assert contact.profile is not None and "welcome" not in contact.profile.dues  # the series is over


def test_an_order_ends_a_subscribers_series_and_starts_the_buyers_at_step_2_after_the_milestone() -> None:
    contact = Contact(THANKED)
    contact.receive(*events(subscribed()))
    contact.sweep(T0 + timedelta(hours=1))  # step 1: the welcome
    contact.receive(*events(bought(1, 1)))  # the first order, a day later
    assert (contact.state["track"], contact.state["sent"]) == ("buyer", 1)  # loyalty thanks it
    contact.sweep_daily(12)
    assert contact.keys == ["welcome#1#subscriber", "welcome#2#buyer", "welcome#3#buyer"]
    milestones = [a.message.key for a in contact.asks if a.message.campaign == "milestone"]
    assert milestones == ["milestone#1#orders.1"]  # the first order is thanked once, by loyalty
    step_2 = contact.welcome[1].message
    assert (step_2.requested_at.date() - T0.date()).days == 4  # 3 days after the order


def test_a_first_time_buyer_without_the_milestone_gets_the_whole_series() -> None:
    contact = Contact()
    contact.receive(*events(subscribed(), bought(1, 0.01)))
    contact.sweep_daily(8)
    assert contact.keys == ["welcome#1#buyer", "welcome#2#buyer", "welcome#3#buyer"]
    assert contact.welcome[0].message.data["track"] == "buyer"


def test_a_buyers_second_order_ends_its_series() -> None:
    contact = Contact()
    contact.receive(*events(subscribed(), bought(1, 0)))
    contact.sweep_daily(2)
    contact.receive(*events(bought(2, 2.5)))
    assert contact.state["exit"] == "ordered"
    contact.sweep_daily(10)
    assert contact.keys == ["welcome#1#buyer"]
    assert contact.profile is not None and "welcome" not in contact.profile.dues


def test_an_order_between_the_sweep_and_the_send_stops_the_queued_step() -> None:
    contact = Contact()
    contact.receive(*events(subscribed(), bought(1, 0)))
    contact.sweep(T0 + timedelta(days=3, hours=1))
    queued = contact.welcome[-1].message
    assert recipe.RECIPE.still_wanted(contact.profile, queued, BOOK, T0) is None  # type: ignore[arg-type]
    contact.receive(*events(bought(2, 3.05)))
    later = T0 + timedelta(days=3, hours=2)
    assert recipe.RECIPE.still_wanted(contact.profile, queued, BOOK, later) == "ordered"  # type: ignore[arg-type]


def test_an_old_consent_or_first_order_arriving_in_a_backfill_welcomes_nobody() -> None:
    contact = Contact()
    contact.receive(*events(subscribed(days=0)), now=T0 + timedelta(days=3))  # received 3 days late
    assert contact.state["track"] == "none"
    contact.receive(*events(bought(1, 1)), now=T0 + timedelta(days=30))
    contact.sweep_daily(40)
    assert contact.welcome == []
    # a contact that consented before does not start a series by consenting again
    again = Contact()
    again.receive(*events(subscribed("u-a", consent=True)), now=T0 + timedelta(days=5))
    again.receive(*events(subscribed("u-b", days=10)))
    again.sweep_daily(20)
    assert again.welcome == []


def test_a_late_sweep_sends_only_the_step_due_last_and_nothing_weeks_late() -> None:
    contact = Contact()
    contact.receive(*events(subscribed()))
    contact.sweep(T0 + timedelta(days=3, hours=2))  # steps 1 and 2 are due: only step 2
    assert contact.keys == ["welcome#2#subscriber"]
    contact.sweep(T0 + timedelta(days=30))  # step 3 came due 23 days ago
    assert contact.keys == ["welcome#2#subscriber"] and contact.skipped == ["stale"]


def test_a_contact_without_consent_is_not_asked_for_and_the_series_moves_on() -> None:
    contact = Contact()
    contact.receive(*events(bought(1, 0)))  # a buyer who never said yes to marketing
    assert contact.state["track"] == "buyer"
    contact.sweep_daily(8)
    assert contact.welcome == [] and contact.skipped == ["no_consent"] * 3


def test_a_holdout_is_asked_for_but_marked_and_gets_no_offer() -> None:
    book = playbook.load({**QUIET, "loyalty": {"milestones": []}, "welcome": {"holdout_percent": 50}})
    held = next(f"c-{n}" for n in range(200) if recipe.in_holdout("s", f"c-{n}", "subscriber", "welcome", 50))
    profile = apply(empty("s", held, held), parse_event(subscribed()))
    outcome = engine.on_event(None, profile, parse_event(subscribed()), book, T0)
    days = [T0 + timedelta(days=d, hours=1) for d in (0, 3, 7)]
    asks = []
    for now in days:
        swept = engine.plan_due(outcome.profile, book, now)
        outcome.profile = swept.profile
        asks += swept.asks
    assert [a.message.holdout for a in asks] == [True, True, True]
    assert [a.offer for a in asks] == [None, None, None]


def test_the_playbook_refuses_steps_out_of_order() -> None:
    with pytest.raises(ValueError, match="strictly growing"):
        playbook.load({"welcome": {"steps": [{"after_days": 3}, {"after_hours": 72}]}})
    shaped = playbook.load({"welcome": {"steps": [{"after_hours": 1}, {"after_days": 2, "after_hours": 12}]}})
    assert [s.after for s in recipe.settings(shaped).steps] == [timedelta(hours=1), timedelta(hours=60)]


def test_a_consent_for_a_contact_with_a_series_takes_the_one_write_path() -> None:
    effect = recipe.RECIPE.fast(parse_event(subscribed()), BOOK)
    assert effect is not None and set(effect.requires["track"]) == {"subscriber", "buyer", "none"}
    assert recipe.RECIPE.fast(parse_event(bought(1, 0)), BOOK) is None
    assert recipe.RECIPE.fast(parse_event(subscribed(consent=False)), BOOK) is not None


def _stream(draw: Any) -> list[dict[str, Any]]:
    base = [subscribed("u-1", 0), bought(1, 0.5), bought(2, 4)]
    chosen = draw(st.lists(st.sampled_from(base), min_size=1, max_size=6))
    return chosen  # duplicates included: a redelivery


@settings(max_examples=60, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(st.data())
def test_each_step_is_asked_for_at_most_once_whatever_redeliveries_and_repeated_sweeps(data: Any) -> None:
    stream = _stream(data.draw)
    sweeps = data.draw(st.lists(st.floats(min_value=0, max_value=12), min_size=1, max_size=12))
    contact = Contact()
    timeline = sorted(
        [(parse_event(e).occurred_at + timedelta(minutes=5), 0, e) for e in stream]
        + [(T0 + timedelta(days=d), 1, None) for d in sweeps],
        key=lambda x: (x[0], x[1]),
    )
    for when, kind, raw in timeline:
        if kind == 0:
            contact.receive(parse_event(raw), now=when)
        elif contact.profile is not None:
            contact.sweep(when)
            contact.sweep(when)  # an overlapping sweep
    assert len(contact.keys) == len(set(contact.keys))
    tracks = {k.split("#")[2] for k in contact.keys}
    assert len(contact.keys) <= 3 * len(tracks)


@pytest.mark.parametrize("locale", LOCALES)
@pytest.mark.parametrize("track", ["subscriber", "buyer"])
@pytest.mark.parametrize("step", [1, 2, 3])
def test_each_steps_email_reads_for_its_track(locale: str, track: str, step: int) -> None:
    context = {**sample_context("welcome", locale, step), "track": track, "step": step}
    if step < 3:
        context.pop("code"), context.pop("discount")
    rendered = render("welcome", locale, context)
    subjects = {
        ("en", "subscriber"): ["Welcome to", "A little more about", "A welcome gift: 10% off"],
        ("en", "buyer"): ["Thank you for your first order", "Getting the most", "10% off your next order"],
        ("ja", "subscriber"): ["ご登録いただき", "ご紹介", "10%OFFクーポン"],
        ("ja", "buyer"): ["初めてのご注文", "より楽しむ", "10%OFFクーポン"],
    }
    assert subjects[(locale, track)][step - 1] in rendered.subject, rendered.subject
    assert ("WELCOME10" in rendered.text) == (step == 3)
    assert "None" not in rendered.text + rendered.html


def test_the_sender_reads_what_the_send_time_check_needs() -> None:
    # the sender reads a projection of the profile: without orders_count an order placed between
    # the sweep and the send would not stop the step
    from comeback.messaging import sender

    assert "orders_count" in sender._reads()
