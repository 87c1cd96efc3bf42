"""Post-purchase survey: N days after an order, once per order, not after a refund (pure)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from comeback.cli.previews import sample_context
from comeback.domain import playbook
from comeback.domain.clock import isoformat
from comeback.domain.events import ShopEvent, parse_event
from comeback.domain.profile import Profile, apply, empty
from comeback.messaging.render import render
from comeback.recipes import engine
from comeback.recipes import survey as recipe
from comeback.recipes.base import state_of
from tests.support import order, shop_event

CUSTOMER = {"id": "c-1", "email": "hanako@example.com"}
T0 = datetime(2026, 3, 1, tzinfo=UTC)
# the order's survey alone: the power-user and inactive check-ins have their own tests below
BOOK = playbook.load({"consent": "opt_out", "welcome": {"enabled": False}, "loyalty": {"milestones": []},
                      "survey": {"power_users": None, "inactive": None}})  # fmt: skip
CHECKINS = playbook.load({"consent": "opt_out", "welcome": {"enabled": False}, "loyalty": {"milestones": []}})


def at(days: float = 0) -> str:
    return isoformat(T0 + timedelta(days=days))


def bought(order_id: str, days: float, **data: Any) -> dict[str, Any]:
    return order(order_id, at(days), CUSTOMER, **data)


def refunded(order_id: str, days: float, event_id: str | None = None) -> dict[str, Any]:
    data = {"order_id": order_id, "amount": "1000", "currency": "JPY"}
    return shop_event(
        "order.refunded", id=event_id or f"r-{order_id}", occurred_at=at(days), customer=CUSTOMER, data=data
    )


def reviewed(order_id: str, days: float) -> dict[str, Any]:
    data = {"survey": "review", "score": 9, "order_id": order_id}
    return shop_event(
        "feedback.submitted", id=f"f-{order_id}", occurred_at=at(days), customer=CUSTOMER, data=data
    )


class Contact:
    def __init__(self, book: playbook.Playbook = BOOK) -> None:
        self.book = book
        self.profile: Profile | None = None
        self.seen: set[str] = set()
        self.asks: list[Any] = []
        self.skipped: list[str] = []

    def receive(self, *raw: dict[str, Any], now: datetime | None = None) -> None:
        for event in (parse_event(e) for e in raw):
            if event.id in self.seen:
                continue
            self.seen.add(event.id)
            self._apply(event, now or event.occurred_at + timedelta(minutes=5))

    def _apply(self, event: ShopEvent, now: datetime) -> None:
        after = apply(self.profile or empty("s", "c-1", "c-1"), event)
        outcome = engine.on_event(self.profile, after, event, self.book, now)
        self.profile = outcome.profile
        self.asks += outcome.asks

    def sweep(self, days: float) -> None:
        assert self.profile is not None
        outcome = engine.plan_due(self.profile, self.book, T0 + timedelta(days=days))
        self.profile = outcome.profile
        self.asks += outcome.asks
        self.skipped += [reason for name, reason in outcome.skipped if name == "survey"]

    @property
    def surveys(self) -> list[Any]:
        return [a.message for a in self.asks if a.message.campaign == "survey"]

    @property
    def state(self) -> dict[str, Any]:
        assert self.profile is not None
        return state_of(self.profile, "survey")


def test_the_survey_comes_seven_days_after_the_order_once() -> None:
    contact = Contact()
    contact.receive(bought("A-1", 0, items=[{"product_id": "p1", "name": "Sencha", "price": "4980"}]))
    assert contact.profile is not None and contact.profile.dues["survey"] == at(7)
    contact.sweep(6.9)
    assert contact.surveys == []
    contact.sweep(7.01)
    contact.sweep(7.02)  # an overlapping sweep
    contact.sweep(20)
    [message] = contact.surveys
    assert (message.key, message.topic) == ("survey#1#A-1", "surveys")
    assert message.data == {
        "order_id": "A-1",
        "ordered_on": at(0)[:10],
        "items": [{"name": "Sencha", "quantity": 1}],
    }
    assert "survey" not in contact.profile.dues


def test_after_days_is_the_shops_choice() -> None:
    contact = Contact(playbook.load({"consent": "opt_out", "survey": {"after_days": 14}}))
    contact.receive(bought("A-1", 0))
    contact.sweep(13)
    contact.sweep(14.1)
    assert [m.key for m in contact.surveys] == ["survey#1#A-1"]


def test_a_refund_before_the_survey_cancels_it_whichever_arrives_first() -> None:
    for stream in ([bought("A-1", 0), refunded("A-1", 2)], [refunded("A-1", 2), bought("A-1", 0)]):
        contact = Contact()
        contact.receive(*stream, now=T0 + timedelta(days=2, hours=1))
        contact.sweep(8)
        assert contact.surveys == []
        assert contact.profile is not None and "survey" not in contact.profile.dues


def test_a_refund_between_the_sweep_and_the_send_still_wins() -> None:
    contact = Contact()
    contact.receive(bought("A-1", 0))
    contact.sweep(7.1)
    [message] = contact.surveys
    assert recipe.RECIPE.still_wanted(contact.profile, message, BOOK, T0) is None  # type: ignore[arg-type]
    contact.receive(refunded("A-1", 7.11))
    assert recipe.RECIPE.still_wanted(contact.profile, message, BOOK, T0) == "refunded"  # type: ignore[arg-type]


def test_feedback_on_the_order_already_given_cancels_its_survey() -> None:
    contact = Contact()
    contact.receive(bought("A-1", 0), reviewed("A-1", 3))
    contact.sweep(8)
    assert contact.surveys == []


def test_a_newer_order_takes_the_place_of_the_one_waiting_and_an_older_one_changes_nothing() -> None:
    contact = Contact()
    contact.receive(bought("A-1", 0), bought("A-2", 2))
    assert contact.state["pending"]["order_id"] == "A-2"
    contact.receive(bought("A-0", -1), now=T0 + timedelta(days=2, hours=1))  # older, arriving late
    assert contact.state["pending"]["order_id"] == "A-2"
    contact.sweep(7.5)
    assert contact.surveys == []  # A-1's time has passed, but A-2 replaced it
    contact.sweep(9.1)
    assert [m.key for m in contact.surveys] == ["survey#1#A-2"]


def test_an_order_sent_again_under_another_event_id_is_asked_about_once() -> None:
    contact = Contact()
    first = bought("A-1", 0)
    again = {**first, "id": "shopify:order:A-1:paid"}
    contact.receive(first)
    contact.sweep(7.1)
    contact.receive(again, now=T0 + timedelta(days=7, hours=3))
    contact.sweep(14.2)
    assert [m.key for m in contact.surveys] == ["survey#1#A-1"]


def test_an_imported_history_is_surveyed_only_where_the_moment_is_still_to_come() -> None:
    contact = Contact()
    received = T0 + timedelta(days=300)
    contact.receive(bought("old", 0), now=received)  # ten months old: its moment is long gone
    assert "pending" not in contact.state
    contact.receive(bought("recent", 297), now=received)  # three days old: asked about at day 304
    assert contact.state["pending"]["order_id"] == "recent"
    contact.sweep(304.1)
    assert [m.key for m in contact.surveys] == ["survey#1#recent"]


def test_a_sweep_far_too_late_sends_no_survey_and_consent_is_checked() -> None:
    contact = Contact()
    contact.receive(bought("A-1", 0))
    contact.sweep(30)
    assert contact.surveys == [] and contact.skipped == ["stale"]
    explicit = Contact(playbook.load({"consent": "explicit"}))
    explicit.receive(bought("A-2", 0))
    explicit.sweep(7.1)
    assert explicit.surveys == [] and explicit.skipped == ["no_consent"]


def test_an_order_id_that_is_no_period_gets_a_safe_unique_one() -> None:
    plain, odd, other = recipe._period("1001"), recipe._period("#1001 東京"), recipe._period("#1001 大阪")
    assert plain == "1001"
    assert odd.startswith("_1001_") and odd != other and len(recipe._period("x" * 128)) <= 64


def test_the_form_url_names_the_order_and_the_email_links_to_it() -> None:
    book = playbook.load(
        {"consent": "opt_out", "survey": {"form_url": "https://forms.example.com/q?o={order_id}"}}
    )
    contact = Contact(book)
    contact.receive(bought("A 1", 0))
    contact.sweep(7.1)
    [message] = contact.surveys
    assert contact.profile is not None
    extra = recipe.RECIPE.context(contact.profile, message, book)
    assert extra == {"survey_url": "https://forms.example.com/q?o=A%201"}
    for locale in ("en", "ja"):
        context = {**sample_context("survey", locale), **message.data, **extra}
        rendered = render("survey", locale, context)
        assert "https://forms.example.com/q?o=A%201" in rendered.text and "A 1" in rendered.text
    # without a form the button leads to the shop and the email asks for a reply
    context = {**sample_context("survey", "en"), **message.data, "survey_url": None}
    text = render("survey", "en", context).text
    assert "reply to this email" in text and "Visit the shop: https://shop.example.com/" in text


ORDERS = ["A", "B", "C"]


@settings(max_examples=80, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(st.data())
def test_any_arrival_order_and_redelivery_asks_the_same_surveys_once(data: Any) -> None:
    # orders A, B, C on days 0, 1, 2, some refunded on day 3; then every permutation with duplicates
    refunds = data.draw(st.sets(st.sampled_from(ORDERS)))
    stream = [bought(o, i) for i, o in enumerate(ORDERS)] + [refunded(o, 3) for o in sorted(refunds)]
    shuffled = data.draw(st.permutations(stream))
    repeats = data.draw(st.lists(st.sampled_from(stream), max_size=4))
    arrival = T0 + timedelta(days=3, hours=1)  # all of them before any survey is due

    def asked(events: list[dict[str, Any]]) -> list[str]:
        contact = Contact()
        for raw in events:
            contact.seen.discard(raw["id"])  # a redelivery under the same id reaches the recipe too
            contact.receive(raw, now=arrival)
        for day in (7.1, 8.1, 9.1, 9.2, 20):
            contact.sweep(day)
        return sorted(m.key for m in contact.surveys)

    expected = asked(stream)
    assert asked([*shuffled, *repeats]) == expected
    # the latest order is asked about, unless it was refunded: then nobody is
    assert expected == ([] if "C" in refunds else ["survey#1#C"])


# -- power users and inactive customers ---------------------------------------------------------


def test_a_power_user_is_asked_the_broader_question_instead_at_most_once_in_six_months() -> None:
    contact = Contact(CHECKINS)
    for n in range(5):  # five orders, a week apart: a power user by the shipped rule
        contact.receive(bought(f"P-{n}", n * 7))
    contact.sweep(4 * 7 + 7.1)
    [power] = contact.surveys
    assert (power.step, power.data["kind"], power.data["orders_count"]) == (2, "power_user", 5)
    contact.receive(bought("P-5", 40))
    contact.sweep(47.1)  # 10 days later: an order's survey again, not a second power-user one
    assert [(m.step, m.period) for m in contact.surveys] == [(2, "P-4"), (1, "P-5")]


def test_an_inactive_customer_is_asked_why_once_per_lapse_and_an_order_cancels_it() -> None:
    contact = Contact(CHECKINS)
    contact.receive(bought("A-1", 0))
    contact.sweep(7.1)  # the order's survey
    assert contact.profile is not None and contact.profile.dues["survey"] == at(60)
    contact.sweep(60.1)
    contact.sweep(61)  # overlapping sweeps: one ask
    why = [m for m in contact.surveys if m.step == 3]
    assert [(m.period, m.data["kind"], m.data["ask_reason"]) for m in why] == [
        (f"lapse.{at(0)[:10]}", "inactive", True)]  # fmt: skip
    assert "survey" not in contact.profile.dues  # asked about this lapse: nothing more until an order
    # an order placed after the sweep chose them, before the send: not sent
    contact.receive(bought("A-2", 61.5))
    assert recipe.RECIPE.still_wanted(contact.profile, why[0], CHECKINS, T0 + timedelta(days=62)) == "ordered"
    assert contact.profile.dues["survey"] == at(61.5 + 7)  # the new order's survey, then its lapse
    contact.sweep(70)
    contact.sweep(122)
    assert [m.period for m in contact.surveys if m.step == 3] == [f"lapse.{at(0)[:10]}",
                                                                  f"lapse.{at(61.5)[:10]}"]  # fmt: skip


def test_an_imported_history_asks_nobody_why_they_stopped() -> None:
    contact = Contact(CHECKINS)
    contact.receive(bought("OLD", 0), now=T0 + timedelta(days=300))
    contact.sweep(300)
    assert contact.surveys == [] and "stale" in contact.skipped


def test_the_inactive_email_carries_the_reason_links_in_both_languages() -> None:
    for locale in ("en", "ja"):
        links = {"price": "https://example.com/why?reason=price"}
        context = {**sample_context("survey", locale), "kind": "inactive", "last_order_on": "2026-09-01",
                   "survey_url": None, "reason_links": links}  # fmt: skip
        text = render("survey", locale, context).text
        assert "https://example.com/why?reason=price" in text and "2026-09-01" in text


# --- waiting for fulfilment (wait_for_fulfilment) ------------------------------------------------

WAITING = playbook.load({"consent": "opt_out", "welcome": {"enabled": False}, "loyalty": {"milestones": []},
                         "survey": {"power_users": None, "inactive": None,
                                    "wait_for_fulfilment": True}})  # fmt: skip


def fulfilled(
    order_id: str, days: float, event_id: str | None = None, status: str = "shipped"
) -> dict[str, Any]:
    data = {"order_id": order_id, "status": status}
    return shop_event(
        "order.fulfilled",
        id=event_id or f"ful-{order_id}",
        occurred_at=at(days),
        customer=CUSTOMER,
        data=data,
    )


def test_fulfilment_is_no_activity_and_takes_the_survey_slow_path() -> None:
    event = parse_event(fulfilled("A-1", 1))
    assert not event.is_activity
    assert recipe.RECIPE.fast(event, BOOK) is None  # type: ignore[arg-type]
    assert recipe.RECIPE.fast(event, WAITING) is None  # type: ignore[arg-type]


def test_waiting_the_survey_comes_after_days_after_the_fulfilment_not_the_order() -> None:
    contact = Contact(WAITING)
    contact.receive(bought("A-1", 0))
    assert contact.profile is not None and contact.profile.dues["survey"] == at(30)  # the give-up time
    contact.sweep(7.1)
    assert contact.surveys == []  # not shipped yet
    contact.receive(fulfilled("A-1", 5))
    assert contact.profile.dues["survey"] == at(12)
    contact.sweep(11.9)
    assert contact.surveys == []
    contact.sweep(12.1)
    contact.sweep(12.2)
    [message] = contact.surveys
    assert message.key == "survey#1#A-1"
    assert message.not_after == T0 + timedelta(days=12) + recipe.VALID


def test_waiting_an_order_never_fulfilled_within_30_days_gets_no_survey() -> None:
    contact = Contact(WAITING)
    contact.receive(bought("A-1", 0))
    contact.sweep(30.1)
    assert contact.surveys == [] and contact.skipped == ["unfulfilled"]
    assert contact.profile is not None and "survey" not in contact.profile.dues
    contact.receive(fulfilled("A-1", 31))  # too late: the order is closed
    contact.sweep(40)
    assert contact.surveys == []
    # a fulfilment after the 30 days, the sweep having missed the give-up moment: none either
    late = Contact(WAITING)
    late.receive(bought("B-1", 0), fulfilled("B-1", 31))
    late.sweep(38.1)
    assert late.surveys == [] and late.skipped == ["unfulfilled"]


def test_waiting_a_fulfilment_before_its_order_arrives_still_counts() -> None:
    contact = Contact(WAITING)
    contact.receive(fulfilled("A-1", 3), now=T0 + timedelta(days=3, hours=1))
    contact.receive(bought("A-1", 0), now=T0 + timedelta(days=3, hours=2))
    assert contact.state["pending"]["fulfilled_at"] == at(3)
    assert contact.profile is not None and contact.profile.dues["survey"] == at(10)
    contact.sweep(10.1)
    assert [m.key for m in contact.surveys] == ["survey#1#A-1"]


def test_waiting_duplicates_and_later_fulfilments_change_nothing() -> None:
    contact = Contact(WAITING)
    contact.receive(bought("A-1", 0), fulfilled("A-1", 2))
    state = contact.state
    contact.receive(fulfilled("A-1", 2))  # redelivered: the same id
    contact.receive(fulfilled("A-1", 2, event_id="shopify:fulfillment:9"))  # another topic, same moment
    contact.receive(fulfilled("A-1", 4, event_id="delivered", status="delivered"))  # delivered after shipped
    assert contact.state == state
    # an earlier one (a partial fulfilment arriving late) moves the survey forward
    contact.receive(fulfilled("A-1", 1, event_id="partial"), now=T0 + timedelta(days=4, hours=1))
    assert contact.profile is not None and contact.profile.dues["survey"] == at(8)
    contact.sweep(8.1)
    contact.sweep(9.1)
    assert [m.key for m in contact.surveys] == ["survey#1#A-1"]


def test_waiting_a_refund_still_cancels_and_a_newer_order_waits_for_its_own_fulfilment() -> None:
    contact = Contact(WAITING)
    contact.receive(bought("A-1", 0), fulfilled("A-1", 1), refunded("A-1", 2))
    contact.sweep(8.1)
    assert contact.surveys == []
    contact.receive(bought("A-2", 10), fulfilled("A-1", 10.5, event_id="again"))
    contact.sweep(17.1)
    assert contact.surveys == []  # A-2 is not fulfilled
    contact.receive(fulfilled("A-2", 18))
    contact.sweep(25.1)
    assert [m.key for m in contact.surveys] == ["survey#1#A-2"]


def test_without_the_key_fulfilment_is_remembered_but_the_survey_follows_the_order() -> None:
    contact = Contact()
    contact.receive(bought("A-1", 0), fulfilled("A-1", 5))
    assert contact.state["fulfilled"] == [["A-1", at(5)]]
    assert contact.profile is not None and contact.profile.dues["survey"] == at(7)
    contact.sweep(7.1)
    assert [m.key for m in contact.surveys] == ["survey#1#A-1"]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.data())
def test_waiting_any_arrival_order_and_redelivery_asks_the_same_once(data: Any) -> None:
    stream = [bought("A-1", 0), fulfilled("A-1", 3), fulfilled("A-1", 4, event_id="d", status="delivered")]
    shuffled = data.draw(st.permutations(stream + data.draw(st.lists(st.sampled_from(stream), max_size=3))))
    contact = Contact(WAITING)
    contact.receive(*shuffled, now=T0 + timedelta(days=4, hours=1))
    assert contact.profile is not None and contact.profile.dues["survey"] == at(10)
    contact.sweep(10.1)
    contact.sweep(10.2)
    assert [m.key for m in contact.surveys] == ["survey#1#A-1"]
