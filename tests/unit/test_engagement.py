"""The engagement score: weights per signal, decay, a reward each time the threshold is reached and a
reset, evaluated lazily from the profile's counters so that a view stays one write, and counted once
whatever order, duplication or redelivery the events come in."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any, cast

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from comeback.domain import playbook
from comeback.domain.clock import isoformat, parse_iso
from comeback.domain.events import ShopEvent, parse_event
from comeback.domain.profile import Profile, apply, empty
from comeback.domain.rewards import Offer, RewardType
from comeback.domain.views import contact_view
from comeback.messaging.render import render
from comeback.recipes import engagement, engine
from comeback.recipes.base import Ask, state_of
from comeback.recipes.engagement import RECIPE, next_evaluation, score
from tests.support import order, others_off, shop_event

START = datetime(2026, 1, 5, 3, 0, tzinfo=UTC)  # noon in Tokyo, the default shop's timezone
NEXT_MORNING = datetime(2026, 1, 6, 0, 0, tzinfo=UTC)  # 09:00 in Tokyo the next day
CUSTOMER = {"id": "c-1", "email": "hanako@example.com"}
# loyalty off: its milestones would ask for emails of their own beside the engagement reward
# (and the other recipes an order or a view wakes: their asks are their own tests')
BOOK = playbook.load({"loyalty": {"enabled": False}, **others_off("engagement")})


def book(**engagement_settings: Any) -> playbook.Playbook:
    return playbook.load(
        {"loyalty": {"enabled": False}, **others_off("engagement"), "engagement": engagement_settings}
    )


def hours(n: float) -> datetime:
    return START + timedelta(hours=n)


def signal(kind: str, n: int, at: datetime) -> ShopEvent:
    if kind == "order.placed":
        return cast(ShopEvent, parse_event(order(f"o-{n}", isoformat(at), CUSTOMER)))
    return cast(
        ShopEvent,
        parse_event(shop_event(kind, id=f"{kind}-{n}", occurred_at=isoformat(at), customer=CUSTOMER)),
    )


def signup(pb: playbook.Playbook = BOOK, consent: bool = True, at: datetime = START) -> Profile:
    """A new contact (the slow path: it is created), with or without marketing consent."""
    data = {"first_name": "Hanako", "locale": "en", "accepts_marketing": consent}
    event = cast(ShopEvent, parse_event(shop_event("customer.updated", id="u-1", occurred_at=isoformat(at),
                                                   customer=CUSTOMER, data=data)))  # fmt: skip
    return engine.on_event(None, apply(empty("s", "c-1", "c-1"), event), event, pb, at).profile


class Contacts:
    """The contacts function as the engine sees it: an id seen once, the one-write fast path where it
    applies (the event is the newest, the stored states are those the recipes assume, no kept due
    time is earlier), else the slow path with the whole profile."""

    def __init__(self, profile: Profile, pb: playbook.Playbook = BOOK) -> None:
        self.profile, self.book = profile, pb
        self.seen: set[str] = set()
        self.fast = self.slow = 0

    def arrive(self, event: ShopEvent, now: datetime | None = None) -> None:
        if event.id in self.seen:
            return  # the shop's id marker: a redelivery changes nothing
        self.seen.add(event.id)
        before = self.profile
        after = apply(before, event)
        plan = engine.fast_plan(event, self.book)
        newest = before.last_seen_at is None or before.last_seen_at < isoformat(event.occurred_at)
        if plan is not None and newest and self._holds(plan):
            dues = {**before.dues}
            for name, due in plan.dues.items():
                if due is None:
                    dues.pop(name, None)
                else:
                    dues[name] = isoformat(due)
            self.profile = after.model_copy(update={"dues": dues})
            self.fast += 1
            return
        self.profile = engine.on_event(before, after, event, self.book, now or event.occurred_at).profile
        self.slow += 1

    def _holds(self, plan: engine.FastPlan) -> bool:
        states = all(
            state_of(self.profile, name).get(key) in allowed
            for name, required in plan.requires.items()
            for key, allowed in required.items()
        )
        candidate = plan.candidate
        kept = candidate is None or all(
            name not in self.profile.dues or parse_iso(self.profile.dues[name]) >= candidate
            for name in plan.kept
        )
        return states and kept

    def sweep(self, now: datetime) -> list[Ask]:
        """The sweep's look at the contact if it is due (the due index: the earliest stored due time)."""
        due = engine.due_at(self.profile)
        if due is None or parse_iso(due) > now:
            return []
        outcome = engine.plan_due(self.profile, self.book, now)
        self.profile = outcome.profile
        return [a for a in outcome.asks if a.message.campaign == "reward"]


# -- the score -------------------------------------------------------------------------------------


def with_state(profile: Profile, value: float, at: datetime, pb: playbook.Playbook = BOOK) -> Profile:
    state = {**state_of(profile, "engagement"), "score": value, "at": isoformat(at)}
    return engine.with_state(profile, RECIPE, state, at)


def test_the_score_halves_every_half_life_and_stays_without_one():
    profile = with_state(signup(), 80.0, START)
    rules = engagement.settings(BOOK)
    assert rules.half_life_days == 30
    assert score(profile, rules, START + timedelta(days=30))[0] == pytest.approx(40)
    assert score(profile, rules, START + timedelta(days=60))[0] == pytest.approx(20)
    assert (
        score(profile, engagement.settings(book(half_life_days=None)), START + timedelta(days=365))[0] == 80
    )


def test_each_signal_is_worth_its_weight():
    contacts = Contacts(signup(book(half_life_days=None)), book(half_life_days=None))
    for n, kind in enumerate(["product.viewed", "site.visited", "message.replied", "order.placed"]):
        contacts.arrive(signal(kind, n, hours(n + 1)))
    assert contacts.profile.email_clicks == 0
    clicked = contacts.profile.model_copy(update={"email_clicks": 2, "last_engaged_at": isoformat(hours(5))})
    rules = engagement.settings(book(half_life_days=None))
    # view 1, visit 1, reply 10, order 20 (scored when it came), two clicks 5 each
    assert score(clicked, rules, hours(6))[0] == 1 + 1 + 10 + 20 + 2 * 5


def test_reading_the_score_at_noon_then_in_the_evening_is_reading_it_in_the_evening():
    contacts = Contacts(signup())
    for n in range(30):
        contacts.arrive(signal("product.viewed", n, hours(n / 10)))
    rules = engagement.settings(BOOK)
    evening = START + timedelta(days=3, hours=8)
    once = score(contacts.profile, rules, evening)[0]
    looked = RECIPE.plan(contacts.profile, BOOK, START + timedelta(days=1))
    assert looked.state is not None and not looked.asks
    twice = engine.with_state(contacts.profile, RECIPE, looked.state, START + timedelta(days=1))
    assert score(twice, rules, evening)[0] == pytest.approx(once)
    assert 0 < once < 30  # thirty views, three days old


# -- when it is evaluated --------------------------------------------------------------------------


def test_a_view_a_visit_or_a_reply_makes_the_contact_due_the_next_morning_on_the_fast_path():
    profile = signup()
    for kind in ("product.viewed", "site.visited", "message.replied"):
        event = signal(kind, 1, hours(1))  # 13:00 in Tokyo
        effect = RECIPE.fast(event, BOOK)
        assert effect is not None and effect.due == NEXT_MORNING, kind
        assert effect.requires == {"phase": ("counting",)}
        after = apply(profile, event)
        assert RECIPE.next_due(after, BOOK) == NEXT_MORNING  # what the slow path would store
        assert RECIPE.on_event(profile, after, event, BOOK, hours(1)).state is None
    # the whole day's signals share that moment; one at 08:00 in Tokyo is looked at an hour later
    assert next_evaluation(hours(-4), BOOK) == START - timedelta(hours=3)
    assert next_evaluation(hours(20.99), BOOK) == NEXT_MORNING
    assert next_evaluation(NEXT_MORNING, BOOK) == NEXT_MORNING + timedelta(days=1)
    # in New York: 09:00 there, 14:00 UTC
    new_york = playbook.load({"shop": {"timezone": "America/New_York"}})
    assert next_evaluation(START, new_york) == datetime(2026, 1, 5, 14, 0, tzinfo=UTC)


def test_an_order_is_scored_with_the_profile_any_activity_is_looked_at_the_next_morning():
    assert RECIPE.fast(signal("order.placed", 1, hours(1)), BOOK) is None
    # any other activity moves the due time as a signal does (what the next morning's look finds
    # is the counters' business); what is no activity leaves it alone
    raw = shop_event("cart.updated", id="cart-1", occurred_at=isoformat(hours(1)), customer=CUSTOMER)
    cart = cast(ShopEvent, parse_event(raw))
    no_views = book(weights={"view": 0, "order": 0})
    for event, pb in ((cart, BOOK), (signal("product.viewed", 1, hours(1)), no_views),
                      (signal("order.placed", 1, hours(1)), no_views)):  # fmt: skip
        effect = RECIPE.fast(event, pb)
        assert effect is not None and effect.due == NEXT_MORNING, event.type
    updated = cast(ShopEvent, parse_event(shop_event("customer.updated", id="u-2", customer=CUSTOMER)))
    assert RECIPE.fast(updated, BOOK) == engagement.FastEffect()


def test_a_cart_after_a_view_stays_one_write():
    contacts = Contacts(signup())
    contacts.arrive(signal("product.viewed", 0, hours(0.5)))  # the stage becomes engaged: slow, once
    for n in range(1, 4):
        contacts.arrive(signal("product.viewed", n, hours(n)))
        raw = shop_event(
            "cart.updated", id=f"cart-{n}", occurred_at=isoformat(hours(n + 0.5)), customer=CUSTOMER
        )
        contacts.arrive(cast(ShopEvent, parse_event(raw)))
    assert (contacts.fast, contacts.slow) == (6, 1)
    assert contacts.profile.dues["engagement"] == isoformat(NEXT_MORNING)
    contacts.sweep(NEXT_MORNING)
    assert "engagement" not in contacts.profile.dues  # looked at: nothing more until the next activity


def test_views_stay_on_the_one_write_path_and_the_sweep_looks_once_a_day():
    contacts = Contacts(signup())
    contacts.arrive(signal("product.viewed", 0, hours(0.5)))  # the stage becomes engaged: slow, once
    for n in range(1, 20):
        contacts.arrive(signal("product.viewed" if n % 2 else "site.visited", n, hours(0.5 + n / 10)))
    assert (contacts.fast, contacts.slow) == (19, 1)
    assert contacts.profile.dues["engagement"] == isoformat(NEXT_MORNING)
    assert engine.due_at(contacts.profile) == isoformat(NEXT_MORNING)
    assert contacts.sweep(NEXT_MORNING - timedelta(minutes=1)) == []
    assert contacts.sweep(NEXT_MORNING) == []  # 20 points: no reward yet
    state = state_of(contacts.profile, "engagement")
    assert state["seen"]["view"] == 11 and state["seen"]["visit"] == 9
    assert 19 < state["score"] < 20  # twenty signals, aged from the last of them (a few hours)
    assert "engagement" not in contacts.profile.dues  # nothing new: the score only decays from here


def test_a_contact_known_before_the_recipe_starts_from_its_counters():
    # a contact of a shop that connected before the engagement score existed: no state, big counters
    profile = signup(book(enabled=False))
    assert state_of(profile, "engagement") == {}
    profile = profile.model_copy(update={"orders_count": 30, "views_count": 500})
    assert RECIPE.next_due(profile, BOOK) is None
    assert contact_view(profile, BOOK, START)["engagement_score"] == 0
    contacts = Contacts(profile)
    contacts.arrive(signal("product.viewed", 1, hours(1)))  # the fast path needs a state: the slow path
    assert contacts.slow == 1
    state = state_of(contacts.profile, "engagement")
    assert (
        state["score"] == pytest.approx(1) and state["seen"]["order"] == 30 and state["seen"]["view"] == 501
    )
    contacts.arrive(signal("product.viewed", 2, hours(2)))
    assert contacts.fast == 1


# -- the threshold ---------------------------------------------------------------------------------


def test_reaching_the_threshold_rewards_once_then_the_score_starts_again():
    contacts = Contacts(signup())
    for n in range(120):  # 120 views in an afternoon: a little over 100 points the next morning
        contacts.arrive(signal("product.viewed", n, hours(1 + n / 30)))
    (ask,) = contacts.sweep(NEXT_MORNING)
    message = ask.message
    assert (message.campaign, message.step, message.period) == ("reward", 3, "score.1")
    assert message.data["kind"] == "engagement" and message.data["score"] >= 100
    assert message.topic == "rewards" and not message.holdout
    assert ask.offer == Offer(type=RewardType.PERCENT_OFF, percent=10, valid_days=30)
    state = state_of(contacts.profile, "engagement")
    assert (state["score"], state["rewarded"], state["rewarded_at"]) == (0.0, 1, isoformat(NEXT_MORNING))
    assert state["seen"]["view"] == 120
    # looked at again (an overlapping sweep, a contact woken early): nothing more
    assert RECIPE.plan(contacts.profile, BOOK, NEXT_MORNING + timedelta(hours=1)).asks == ()
    view = contact_view(contacts.profile, BOOK, NEXT_MORNING)
    assert view["engagement_score"] == 0 and view["engagement"]["last_rewarded_at"] == isoformat(NEXT_MORNING)
    assert view["views_count"] == 120

    # counting again from zero: the second crossing is the second reward, keyed by its number
    for n in range(120, 250):
        contacts.arrive(signal("product.viewed", n, NEXT_MORNING + timedelta(hours=2, minutes=n - 120)))
    (again,) = contacts.sweep(NEXT_MORNING + timedelta(days=1))
    assert again.message.period == "score.2"
    assert state_of(contacts.profile, "engagement")["rewarded"] == 2


def test_a_crash_before_the_state_is_written_asks_for_the_same_reward_again():
    contacts = Contacts(signup(book(threshold=10)), book(threshold=10))
    for n in range(12):
        contacts.arrive(signal("product.viewed", n, hours(1 + n / 10)))
    due = engine.plan_due(contacts.profile, contacts.book, NEXT_MORNING)
    again = engine.plan_due(contacts.profile, contacts.book, NEXT_MORNING + timedelta(minutes=5))
    # the reward's key and the message's key are the same: the ledger and the sender keep it to one
    assert [a.message.key for a in due.asks] == [a.message.key for a in again.asks] == ["reward#3#score.1"]


def test_an_order_that_crosses_is_rewarded_by_the_next_sweep():
    contacts = Contacts(signup())
    for n in range(4):
        contacts.arrive(signal("order.placed", n, hours(n)), now=hours(n))
    assert state_of(contacts.profile, "engagement")["phase"] == "counting"
    assert "engagement" not in contacts.profile.dues  # scored at once: nothing waits
    contacts.arrive(signal("product.viewed", 1, hours(4)))
    contacts.arrive(signal("order.placed", 4, hours(5)), now=hours(5))  # 4 orders, a view, an order
    state = state_of(contacts.profile, "engagement")
    assert state["phase"] == "crossed" and state["score"] >= 100
    assert contacts.profile.dues["engagement"] == isoformat(hours(5))  # due at once
    # a view while the reward waits may not put it off to the next morning: the slow path keeps it due
    slow = contacts.slow
    contacts.arrive(signal("product.viewed", 2, hours(5.5)))
    assert contacts.slow == slow + 1 and contacts.profile.dues["engagement"] == isoformat(hours(5.5))
    (ask,) = contacts.sweep(hours(6))
    assert ask.message.period == "score.1"
    assert state_of(contacts.profile, "engagement")["phase"] == "counting"


def test_a_contact_that_may_not_be_written_to_keeps_its_score_for_later():
    contacts = Contacts(signup(consent=False))
    for n in range(120):
        contacts.arrive(signal("product.viewed", n, hours(1 + n / 30)))
    decided = RECIPE.plan(contacts.profile, BOOK, NEXT_MORNING)
    assert decided.asks == () and decided.skipped == ("no_consent",)
    assert decided.state is not None and decided.state["score"] >= 100 and decided.state["rewarded"] == 0
    assert contacts.sweep(NEXT_MORNING) == []
    at = isoformat(NEXT_MORNING + timedelta(hours=1))
    raw = shop_event(
        "customer.updated", id="u-2", customer=CUSTOMER, occurred_at=at, data={"accepts_marketing": True}
    )
    consent = cast(ShopEvent, parse_event(raw))
    contacts.arrive(consent)
    contacts.arrive(signal("site.visited", 1, NEXT_MORNING + timedelta(hours=2)))
    (ask,) = contacts.sweep(NEXT_MORNING + timedelta(days=1))
    assert ask.message.period == "score.1"


def test_an_imported_history_is_scored_but_not_rewarded_until_a_fresh_signal():
    never = book(half_life_days=None)
    contacts = Contacts(signup(never, at=START - timedelta(days=400)), never)
    for n in range(8):  # eight orders of last year, imported today: 160 points, a year old
        contacts.arrive(signal("order.placed", n, START - timedelta(days=365 - n)), now=START)
    state = state_of(contacts.profile, "engagement")
    assert state["score"] == 160 and state["phase"] == "counting"
    assert contacts.sweep(START + timedelta(days=1)) == []  # no reward for history
    contacts.arrive(signal("product.viewed", 1, hours(2)))
    (ask,) = contacts.sweep(NEXT_MORNING)
    assert ask.message.data["score"] == 161
    # with the shipped decay, the same year-old orders are worth almost nothing
    decaying = Contacts(signup(at=START - timedelta(days=400)))
    for n in range(8):
        decaying.arrive(signal("order.placed", n, START - timedelta(days=365 - n)), now=START)
    assert state_of(decaying.profile, "engagement")["score"] < 1


def test_a_holdout_is_recorded_never_rewarded_and_counts_as_a_crossing():
    everyone = book(holdout_percent=50, threshold=5)
    held = next(
        c
        for c in (f"c-{i}" for i in range(100))
        if engagement.in_holdout("s", c, "score.1", "engagement", 50)
    )
    profile = signup(everyone).model_copy(update={"contact_id": held})
    contacts = Contacts(profile, everyone)
    for n in range(6):
        contacts.arrive(signal("product.viewed", n, hours(1 + n / 10)))
    (ask,) = contacts.sweep(NEXT_MORNING)
    assert ask.message.holdout and ask.offer is None
    assert state_of(contacts.profile, "engagement")["rewarded"] == 1


# -- counted once, whatever comes twice or out of order: a property ---------------------------------

KINDS = ["product.viewed", "site.visited", "message.replied", "order.placed"]
WEIGHTS = {"product.viewed": 1, "site.visited": 1, "message.replied": 10, "order.placed": 20}


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    kinds=st.lists(st.sampled_from(KINDS), min_size=1, max_size=25),
    data=st.data(),
)
def test_any_order_duplication_and_sweep_timing_rewards_a_crossing_once(kinds: list[str], data: Any) -> None:
    # Given distinct signal events whose points reach the threshold once (no decay: the total is known)
    total = sum(WEIGHTS[k] for k in kinds)
    threshold = max(1, total // 2 + 1) if total > 1 else 1
    once = book(half_life_days=None, threshold=threshold)
    events = [signal(kind, n, hours(1 + n / 60)) for n, kind in enumerate(kinds)]
    # When they arrive in any order, some twice, with sweeps in between
    arrivals = data.draw(st.permutations(events + data.draw(st.lists(st.sampled_from(events), max_size=10))))
    sweeps = set(data.draw(st.lists(st.integers(0, len(arrivals)), max_size=4)))
    contacts = Contacts(signup(once), once)
    rewards: list[Ask] = []
    clock = hours(2)  # all have happened (within the hour); they reach us in the next hours
    for i, event in enumerate(arrivals):
        clock += timedelta(minutes=5)
        if i in sweeps:
            rewards += contacts.sweep(clock)
        contacts.arrive(event, now=clock)
    rewards += contacts.sweep(NEXT_MORNING)
    rewards += contacts.sweep(NEXT_MORNING + timedelta(days=1))
    # Then each event counted once, and the one crossing rewarded once
    counted = {k: contacts.profile.model_dump()[f] for k, f in (
        ("product.viewed", "views_count"), ("site.visited", "visits_count"),
        ("message.replied", "replies_count"), ("order.placed", "orders_count"))}  # fmt: skip
    assert counted == {k: kinds.count(k) for k in KINDS}
    assert [a.message.period for a in rewards] == ["score.1"], (total, threshold)
    state = state_of(contacts.profile, "engagement")
    assert state["rewarded"] == 1 and 0 <= state["score"] < threshold


@settings(max_examples=100, deadline=None)
@given(kinds=st.lists(st.sampled_from(KINDS[:3]), min_size=1, max_size=30), data=st.data())
def test_the_decayed_score_of_the_same_signals_is_the_same_whatever_their_order_or_repeats(
    kinds: list[str], data: Any
) -> None:
    events = [signal(kind, n, hours(n / 2)) for n, kind in enumerate(kinds)]
    arrivals = data.draw(st.permutations(events + data.draw(st.lists(st.sampled_from(events), max_size=10))))
    in_order, shuffled = Contacts(signup()), Contacts(signup())
    for event in events:
        in_order.arrive(event)
    for event in arrivals:
        shuffled.arrive(event)
    rules = engagement.settings(BOOK)
    later = hours(48)
    assert score(shuffled.profile, rules, later)[0] == pytest.approx(score(in_order.profile, rules, later)[0])
    assert engine.due_at(shuffled.profile) == engine.due_at(in_order.profile)


# -- the playbook, the view and the email ---------------------------------------------------------


def test_the_shipped_playbook_turns_it_on_with_a_ten_percent_offer_and_a_shop_may_replace_it():
    rules = engagement.settings(playbook.default())
    assert rules.enabled and rules.threshold == 100 and rules.half_life_days == 30
    assert (rules.weights.click, rules.weights.order, rules.weights.view, rules.weights.reply,
            rules.weights.visit) == (5, 20, 1, 10, 1)  # fmt: skip
    assert rules.offer == Offer(type=RewardType.PERCENT_OFF, percent=10, valid_days=30)
    # a shop's offer of another type replaces the shipped one whole (not a percent off with a value)
    amount = engagement.settings(book(offer={"type": "amount_off", "value_minor": 500}))
    assert amount.offer == Offer(type=RewardType.AMOUNT_OFF, value_minor=500, valid_days=30)
    assert engagement.settings(book(offer={"valid_days": 60})).offer.valid_days == 60  # type: ignore[union-attr]
    assert engagement.settings(book(offer=None)).offer is None
    with pytest.raises(ValueError, match=r"engagement\.weights\.view"):
        book(weights={"view": -1})
    with pytest.raises(ValueError, match=r"engagement\.threshold"):
        book(threshold=0)


def test_the_contact_view_shows_the_score_now_and_nothing_when_the_recipe_is_off():
    contacts = Contacts(signup())
    for n in range(7):
        contacts.arrive(signal("message.replied", n, hours(1)))
    view = contact_view(contacts.profile, BOOK, hours(1))
    assert view["engagement_score"] == 70.0 and view["replies_count"] == 7
    assert view["engagement"]["threshold"] == 100 and view["engagement"]["last_rewarded_at"] is None
    assert contact_view(contacts.profile, BOOK, hours(1) + timedelta(days=30))["engagement_score"] == 35.0
    off = contact_view(contacts.profile, book(enabled=False), hours(1))
    assert off["engagement_score"] is None and off["engagement"] is None


@pytest.mark.parametrize("locale", ["en", "ja"])
def test_the_reward_email_thanks_an_engaged_customer_with_the_code(locale: str) -> None:
    reward = {"code": "CB-7KQ4-M2XP", "type": "percent_off", "percent": 10, "expires_on": "2026-02-05"}
    context = {
        "shop": {"name": "Tea Shop", "postal_address": "1-2-3 Jingumae", "url": "https://shop.example.com/"},
        "contact": {"first_name": "Hanako", "name": "山田 花子", "points_balance": 0},
        "locale": locale,
        "cta_url": "https://shop.example.com/",
        "unsubscribe_url": "https://u.example.com/x",
        "kind": "engagement",
        "score": 104.2,
        "reward": reward,
        "code": reward["code"],
        "discount": "10%",
    }
    rendered = render("reward", locale, context)
    for part in (rendered.text, rendered.html):
        assert "CB-7KQ4-M2XP" in part and "2026-02-05" in part
        assert "point" not in part and "ポイント" not in part  # no points were given
    if locale == "en":
        assert rendered.subject == "A thank-you from Tea Shop: 10% off for your next order"
        assert "one of our most engaged customers" in rendered.text
    else:
        assert "10%オフクーポン" in rendered.subject and "いつもありがとうございます" in rendered.subject
    # without an offer: a thank-you alone, no talk of a reward
    bare = render(
        "reward", locale, {k: v for k, v in context.items() if k not in ("reward", "code", "discount")}
    )
    assert ("for staying in touch" in bare.subject) if locale == "en" else ("感謝の気持ち" in bare.subject)
    assert "code" not in bare.text.lower() and "クーポン" not in bare.text
