"""Birthdays: on the day in the contact's timezone, 29 February on 28 February, once a year."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from comeback.domain import playbook
from comeback.domain.clock import isoformat
from comeback.domain.events import parse_event
from comeback.domain.profile import Profile, apply, empty
from comeback.recipes import birthday, engine
from tests.support import shop_event

CUSTOMER = {"id": "c-1", "email": "hanako@example.com"}
BOOK = playbook.load({"consent": "opt_out", "birthday": {"offer": {"type": "percent_off", "percent": 10}}})


def born(day: str, timezone: str | None = None, known_since: str = "2026-06-01T00:00:00Z") -> Profile:
    data: dict[str, object] = {"birthday": day, "first_name": "Hanako"}
    if timezone:
        data["timezone"] = timezone
    event = parse_event(
        shop_event("customer.updated", id="u1", occurred_at=known_since, customer=CUSTOMER, data=data)
    )
    profile = apply(empty("s", "c-1", "c-1"), event)  # type: ignore[arg-type]
    return engine.on_event(None, profile, event, BOOK, event.occurred_at).profile  # type: ignore[arg-type]


def test_a_29_february_birthday_fires_on_28_february_2027_in_the_contacts_timezone() -> None:
    profile = born("1992-02-29", "America/New_York")
    due = engine.due_times(profile, BOOK)["birthday"]
    # 09:00 in New York on 28 February 2027 (EST, UTC-5)
    assert due == datetime(2027, 2, 28, 14, 0, tzinfo=UTC)
    outcome = engine.plan_due(profile, BOOK, due + timedelta(minutes=5))
    (ask,) = [a for a in outcome.asks if a.message.campaign == "birthday"]
    assert (ask.message.period, ask.offer.percent) == ("2027", 10)  # type: ignore[union-attr]
    # in a leap year, on the day itself
    nxt = engine.due_times(outcome.profile, BOOK)["birthday"]
    assert nxt == datetime(2028, 2, 29, 14, 0, tzinfo=UTC)


def test_the_shops_timezone_without_the_contacts_and_a_birthday_without_a_year() -> None:
    profile = born("--12-24")  # stored as 1904-12-24
    # the shipped shop is in Tokyo: 09:00 JST is 00:00 UTC
    assert engine.due_times(profile, BOOK)["birthday"] == datetime(2026, 12, 24, 0, 0, tzinfo=UTC)


def test_once_a_year_whatever_the_sweeps() -> None:
    profile = born("1990-07-10")
    due = engine.due_times(profile, BOOK)["birthday"]
    first = engine.plan_due(profile, BOOK, due)
    again = engine.plan_due(first.profile, BOOK, due + timedelta(hours=1))
    assert [a.message.key for a in first.asks] == ["birthday#1#2026"] and again.asks == []
    assert engine.due_times(again.profile, BOOK)["birthday"] == due.replace(year=2027)


def test_a_late_sweep_sends_nothing_for_that_year_and_no_burst_for_past_years() -> None:
    profile = born("1990-07-10", known_since="2020-01-01T00:00:00Z")
    now = datetime(2026, 7, 12, 3, 0, tzinfo=UTC)  # two days after this year's birthday
    outcome = engine.plan_due(profile, BOOK, now)
    assert [a.message.campaign for a in outcome.asks if a.message.campaign == "birthday"] == []
    assert ("birthday", "stale") in outcome.skipped
    assert engine.due_times(outcome.profile, BOOK)["birthday"] == datetime(2027, 7, 10, 0, 0, tzinfo=UTC)


def test_a_changed_birthday_moves_the_due_time_on_the_slow_path() -> None:
    profile = born("1990-07-10")
    event = parse_event(
        shop_event(
            "customer.updated",
            id="u2",
            occurred_at="2026-06-02T00:00:00Z",
            customer=CUSTOMER,
            data={"birthday": "1990-08-01"},
        )
    )
    assert engine.fast_plan(event, BOOK) is None  # type: ignore[arg-type]
    after = apply(profile, event)  # type: ignore[arg-type]
    moved = engine.on_event(profile, after, event, BOOK, event.occurred_at).profile  # type: ignore[arg-type]
    assert moved.dues["birthday"] == isoformat(datetime(2026, 8, 1, 0, 0, tzinfo=UTC))


def test_the_reward_shows_as_a_code_and_a_discount() -> None:
    request = engine.plan_due(born("1990-07-10"), BOOK, datetime(2026, 7, 10, 1, tzinfo=UTC)).asks[0].message
    data = {**request.data, "reward": {"code": "CB-AAAA-BBBB", "percent": 10, "type": "percent_off"}}
    context = birthday.RECIPE.context(born("1990-07-10"), request.model_copy(update={"data": data}), BOOK)
    assert context == {"code": "CB-AAAA-BBBB", "discount": "10%", "birthday_points": 0}


def test_the_email_says_the_birthday_points_a_member_was_given() -> None:
    profile = born("1992-02-29", "America/New_York")
    request = engine.plan_due(profile, BOOK, datetime(2027, 2, 28, 14, 5, tzinfo=UTC)).asks[0].message
    assert birthday.RECIPE.context(profile, request, BOOK)["birthday_points"] == 0  # the shipped bonus: none
    generous = playbook.load({"consent": "opt_out", "loyalty": {"bonus": {"birthday": 100}}})
    assert birthday.RECIPE.context(profile, request, generous)["birthday_points"] == 100
    joiners = playbook.load(
        {"consent": "opt_out", "loyalty": {"enrolment": "join", "bonus": {"birthday": 100}}}
    )
    assert birthday.RECIPE.context(profile, request, joiners)["birthday_points"] == 0  # not a member
