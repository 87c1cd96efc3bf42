"""Sign-up anniversaries: a year after joining (else the first order), in the contact's timezone,
29 February on 28 February in common years, once a year, never a burst of past years."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from comeback.app.sweep import Sweep
from comeback.domain import playbook
from comeback.domain.clock import FixedClock, isoformat
from comeback.domain.events import ShopEvent, parse_event
from comeback.domain.profile import Profile, apply, empty
from comeback.recipes import anniversary, engine
from comeback.recipes.base import KEEP, state_of
from tests.fakes.due_store import InMemoryDueStore
from tests.fakes.reward_store import InMemoryRewardStore
from tests.support import order, shop_event

CUSTOMER = {"id": "c-1", "email": "hanako@example.com"}
BOOK = playbook.load({"consent": "opt_out"})
OFFER = {"type": "amount_off", "value_minor": 500, "valid_days": 30}
WITH_OFFER = playbook.load({"consent": "opt_out", "anniversary": {"offer": OFFER}})


def updated(at: str, event_id: str = "u1", **data: Any) -> ShopEvent:
    raw = shop_event("customer.updated", id=event_id, occurred_at=at, customer=CUSTOMER, data=data)
    return parse_event(raw)  # type: ignore[return-value]


def ordered(at: str, event_id: str = "o1") -> ShopEvent:
    return parse_event(order(event_id, at, CUSTOMER))  # type: ignore[return-value]


def slow(profile: Profile | None, event: ShopEvent, book: playbook.Playbook = BOOK) -> Profile:
    """The event on the slow path: merged, then every recipe asked with the whole profile."""
    after = apply(profile or empty("s", "c-1", "c-1"), event)
    return engine.on_event(profile, after, event, book, event.occurred_at).profile


def signed_up(at: str, timezone: str | None = None, book: playbook.Playbook = BOOK) -> Profile:
    data: dict[str, Any] = {"first_name": "Hanako", "signed_up_at": at}
    if timezone:
        data["timezone"] = timezone
    return slow(None, updated(at, **data), book)


def due(profile: Profile, book: playbook.Playbook = BOOK) -> datetime | None:
    return engine.due_times(profile, book).get("anniversary")


def sweep(profile: Profile, now: datetime, book: playbook.Playbook = BOOK) -> tuple[Profile, list[Any]]:
    """The recipes due at `now` planned: the profile after, and the anniversary asks."""
    outcome = engine.plan_due(profile, book, now)
    return outcome.profile, [a for a in outcome.asks if a.message.campaign == "anniversary"]


def test_a_29_february_sign_up_is_celebrated_on_28_february_then_on_29_february_in_a_leap_year() -> None:
    # 03:00 UTC on 1 March 2024 is 22:00 on 29 February in New York: the contact's day is the 29th
    profile = signed_up("2024-03-01T03:00:00Z", "America/New_York")
    first = due(profile)
    assert first == datetime(2025, 2, 28, 14, 0, tzinfo=UTC)  # 09:00 EST (UTC-5) on 28 February 2025
    seen = []
    at = first
    while at is not None and at.year <= 2028:
        profile, (ask,) = sweep(profile, at + timedelta(minutes=5))
        seen.append((ask.message.period, ask.message.data["years"], at))
        at = due(profile)
    assert seen == [
        ("2025", 1, datetime(2025, 2, 28, 14, 0, tzinfo=UTC)),
        ("2026", 2, datetime(2026, 2, 28, 14, 0, tzinfo=UTC)),
        ("2027", 3, datetime(2027, 2, 28, 14, 0, tzinfo=UTC)),
        ("2028", 4, datetime(2028, 2, 29, 14, 0, tzinfo=UTC)),  # a leap year: on the day itself
    ]


def test_never_a_year_0_and_the_shops_timezone_without_the_contacts() -> None:
    profile = signed_up("2026-03-10T01:00:00Z")  # 10:00 in Tokyo, the shipped shop's timezone
    assert due(profile) == datetime(2027, 3, 10, 0, 0, tzinfo=UTC)  # 09:00 JST a year on, not today
    assert sweep(profile, datetime(2026, 3, 11, tzinfo=UTC))[1] == []


def test_once_a_year_whatever_the_sweeps() -> None:
    profile = signed_up("2024-07-10T05:00:00Z")
    at = due(profile)
    assert at == datetime(2025, 7, 10, 0, 0, tzinfo=UTC)
    profile, asks = sweep(profile, at)
    keys = [a.message.key for a in asks]
    for later in (timedelta(hours=1), timedelta(hours=23), timedelta(days=3), timedelta(days=200)):
        profile, again = sweep(profile, at + later)
        keys += [a.message.key for a in again]
    assert keys == ["anniversary#1#2025"]
    assert due(profile) == datetime(2026, 7, 10, 0, 0, tzinfo=UTC)


def test_without_a_sign_up_date_the_first_order_is_the_day() -> None:
    profile = slow(None, updated("2025-06-01T00:00:00Z", first_name="Hanako"))
    assert due(profile) is None  # nothing to celebrate yet
    profile = slow(profile, ordered("2025-06-10T03:00:00Z"))  # 12:00 in Tokyo
    assert state_of(profile, "anniversary") == {"basis": "order", "first_order_at": profile.first_order_at}
    assert due(profile) == datetime(2026, 6, 10, 0, 0, tzinfo=UTC)
    # a later order keeps the day, on the fast path (where loyalty lets orders take it): the
    # recorded basis is what it requires, and with the whole profile it decides nothing either
    later = ordered("2025-08-01T03:00:00Z", "o2")
    fast = anniversary.RECIPE.fast(later, BOOK)
    assert fast is not None and fast.due is KEEP and fast.requires == {"basis": ("signup", "order")}
    after = apply(profile, later)
    assert anniversary.RECIPE.on_event(profile, after, later, BOOK, later.occurred_at).state is None
    assert due(after) == due(profile)
    # an older order that arrives late moves the day back to it on the slow path
    profile = slow(profile, ordered("2025-05-02T03:00:00Z", "o0"))
    assert due(profile) == datetime(2026, 5, 2, 0, 0, tzinfo=UTC)
    # a sign-up date, once known, is the day (the slow path)
    joined = updated("2025-09-01T00:00:00Z", "u2", signed_up_at="2025-04-20T03:00:00Z")
    assert engine.fast_plan(joined, BOOK) is not None  # conditional: another date than the one recorded
    profile = slow(profile, joined)
    assert state_of(profile, "anniversary")["basis"] == "signup"
    assert due(profile) == datetime(2026, 4, 20, 0, 0, tzinfo=UTC)
    _, (ask,) = sweep(profile, datetime(2026, 4, 20, 1, 0, tzinfo=UTC))
    assert ask.message.data["years"] == 1


def test_a_contact_known_for_years_gets_this_years_anniversary_only() -> None:
    # imported with its history: signed up in March 2019, an order two days later
    profile = signed_up("2019-03-10T01:00:00Z")
    profile = slow(profile, ordered("2019-03-12T01:00:00Z"))
    assert due(profile) == datetime(2020, 3, 10, 0, 0, tzinfo=UTC)  # long past
    profile, asks = sweep(profile, datetime(2026, 3, 10, 2, 0, tzinfo=UTC))  # 11:00 JST on the day
    assert [(a.message.period, a.message.data["years"]) for a in asks] == [("2026", 7)]
    assert due(profile) == datetime(2027, 3, 10, 0, 0, tzinfo=UTC)


def test_more_than_24_hours_late_skips_the_year() -> None:
    profile = signed_up("2019-03-10T01:00:00Z")
    moment = datetime(2026, 3, 10, 0, 0, tzinfo=UTC)
    # 23 hours late is still the day's email
    assert len(sweep(profile, moment + timedelta(hours=23))[1]) == 1
    outcome = engine.plan_due(profile, BOOK, moment + timedelta(hours=25))
    assert [a for a in outcome.asks if a.message.campaign == "anniversary"] == []
    assert ("anniversary", "stale") in outcome.skipped
    assert state_of(outcome.profile, "anniversary")["year"] == 2026
    assert due(outcome.profile) == datetime(2027, 3, 10, 0, 0, tzinfo=UTC)


def test_a_changed_sign_up_date_moves_the_due_time_on_the_slow_path_the_same_one_does_not() -> None:
    profile = signed_up("2024-07-10T05:00:00Z")
    same = updated("2024-08-01T00:00:00Z", "u2", signed_up_at="2024-07-10T05:00:00Z", first_name="Hana")
    fast = engine.fast_plan(same, BOOK)
    assert fast is not None
    recorded = state_of(profile, "anniversary")
    assert recorded["signed_up_at"] in fast.requires["anniversary"]["signed_up_at"]  # the fast path holds
    after = apply(profile, same)
    assert engine.on_event(profile, after, same, BOOK, same.occurred_at).decided == []  # and loses nothing
    moved = updated("2024-08-02T00:00:00Z", "u3", signed_up_at="2024-09-01T05:00:00Z")
    fast = engine.fast_plan(moved, BOOK)
    assert fast is not None and recorded["signed_up_at"] not in fast.requires["anniversary"]["signed_up_at"]
    profile = slow(profile, moved)
    assert profile.dues["anniversary"] == isoformat(datetime(2025, 9, 1, 0, 0, tzinfo=UTC))


def test_the_offer_is_a_reward_in_the_ledger_and_the_email_carries_its_code() -> None:
    profile = signed_up("2024-07-10T05:00:00Z", book=WITH_OFFER)
    store, rewards, outbox = InMemoryDueStore(1), InMemoryRewardStore(), Outbox()
    store.put(profile, WITH_OFFER)
    clock = FixedClock(datetime(2025, 7, 10, 0, 30, tzinfo=UTC))
    service = Sweep(store, lambda shop: WITH_OFFER, outbox, rewards, outbox, clock, shards=1)
    assert service.run().rewards_issued == 1
    (message,) = [m for m in outbox.sent if getattr(m, "campaign", None) == "anniversary"]
    (reward,) = rewards.for_contact("s", "c-1")
    assert (reward.recipe, reward.value_minor, reward.type.value) == ("anniversary", 500, "amount_off")
    assert message.data["reward"]["code"] == reward.code and message.data["years"] == 1
    stored = store.profiles[("s", "c-1")]
    context = anniversary.RECIPE.context(stored, message, WITH_OFFER)
    assert context == {"code": reward.code, "discount": "¥500"}
    assert service.run().messages == 0  # swept again: no second email, no second reward
    assert len(rewards.for_contact("s", "c-1")) == 1


class Outbox:
    """The message queue and the bus, recorded."""

    def __init__(self) -> None:
        self.sent: list[Any] = []

    def send(self, messages: Any, delay_seconds: int = 0) -> None:
        self.sent.extend(messages)

    def publish(self, entries: Any) -> None:
        self.sent.extend(entries)
