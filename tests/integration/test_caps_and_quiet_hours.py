"""Frequency caps and quiet hours on moto: held on the due index, released by the sweep, by priority."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from comeback.aws import keys
from comeback.aws.shops import ShopAdmin
from comeback.domain.messages import MessageRequest
from comeback.messaging.sender import Result
from tests.integration.test_contacts import apply_events
from tests.support import shop_event

NOON_TOKYO = datetime(2026, 3, 2, 3, 0, tzinfo=UTC)  # 12:00 JST, a Monday


def customer(engine, customer_id="c-1", timezone=None):
    data = {"first_name": "Hanako", "last_name": "Yamada", "locale": "ja", "accepts_marketing": True}
    if timezone:
        data["timezone"] = timezone
    apply_events(
        engine,
        shop_event(
            "customer.updated",
            id=f"u-{customer_id}",
            occurred_at="2026-01-01T00:00:00Z",
            customer={"id": customer_id, "email": f"{customer_id}@example.com"},
            data=data,
        ),
    )


def request(engine, campaign, period="p1", customer_id="c-1", **extra):
    return MessageRequest(
        shop_id="demo",
        contact_id=customer_id,
        campaign=campaign,
        period=period,
        requested_at=engine.clock.now(),
        **extra,
    )


def send(engine, *requests):
    return [engine.runtime.sender.handle(r) for r in requests]


def sweep(engine):
    return engine.sweep()


def set_playbook(engine, yaml_text):
    admin = ShopAdmin(engine.settings)
    config = admin.get("demo")
    admin.save_config(config.model_copy(update={"playbook_yaml": yaml_text}))


def held(engine):
    return [i for i in engine.table_items() if i[keys.SK]["S"].startswith(keys.HOLD_PREFIX)]


@pytest.fixture
def noon(engine):
    engine.clock.set(NOON_TOKYO)
    customer(engine)
    return engine


def test_the_third_email_in_a_week_waits_for_a_free_slot_then_goes(noon):
    engine = noon
    first, second = send(engine, request(engine, "reward"), request(engine, "survey"))
    assert (first.result, second.result) == (Result.SENT, Result.SENT)
    engine.clock.advance(timedelta(days=2))
    (third,) = send(engine, request(engine, "crosssell"))
    assert third.result is Result.DEFERRED
    assert datetime.fromisoformat(third.reason) == NOON_TOKYO + timedelta(days=7)
    assert len(engine.sent_emails()) == 2
    (item,) = held(engine)
    assert item[keys.DUE_AT]["S"].startswith("2026-03-09T03:00:00")

    engine.clock.advance(timedelta(days=4))  # day 6: still capped; the sweep leaves it alone
    assert sweep(engine)["released"] == 0
    engine.clock.advance(timedelta(days=1, hours=1))  # day 7, 13:00 JST
    assert sweep(engine)["released"] == 1
    engine.deliver("outbox")
    assert len(engine.sent_emails()) == 3
    assert held(engine) == []
    view = engine.runtime.contacts.get("demo", "c-1")
    assert [s["v"] for s in view.sends.values()] == ["crosssell"]  # what the 7-day cap still sees


def test_at_night_a_message_waits_for_the_morning_in_the_contacts_timezone(engine):
    engine.clock.set(datetime(2026, 3, 2, 13, 0, tzinfo=UTC))  # 22:00 in Tokyo, 08:00 in New York
    customer(engine, "tokyo")
    customer(engine, "new-york", timezone="America/New_York")
    tokyo, new_york = send(
        engine,
        request(engine, "winback", customer_id="tokyo"),
        request(engine, "winback", customer_id="new-york"),
    )
    assert new_york.result is Result.SENT
    assert tokyo.result is Result.DEFERRED
    assert datetime.fromisoformat(tokyo.reason) == datetime(2026, 3, 2, 23, 0, tzinfo=UTC)  # 08:00 JST
    engine.clock.advance(timedelta(hours=9))  # 07:00 JST
    assert sweep(engine)["released"] == 0
    engine.clock.advance(timedelta(hours=1))  # 08:00 JST
    assert sweep(engine)["released"] == 1
    engine.deliver("outbox")
    sent_to = sorted(m.destinations[0] for m in engine.sent_emails())
    assert sent_to == ["new-york@example.com", "tokyo@example.com"]


def test_quiet_hours_follow_daylight_saving_time_in_new_york(engine):
    # Saturday 2026-03-07 22:00 EST. The clocks go forward that night: 08:00 EDT is 12:00 UTC.
    engine.clock.set(datetime(2026, 3, 8, 3, 0, tzinfo=UTC))
    customer(engine, "ny", timezone="America/New_York")
    (outcome,) = send(engine, request(engine, "survey", customer_id="ny"))
    assert datetime.fromisoformat(outcome.reason) == datetime(2026, 3, 8, 12, 0, tzinfo=UTC)
    engine.clock.set(datetime(2026, 3, 8, 11, 59, tzinfo=UTC))
    assert sweep(engine)["released"] == 0
    engine.clock.set(datetime(2026, 3, 8, 12, 0, tzinfo=UTC))
    assert sweep(engine)["released"] == 1


def test_when_several_wait_the_reward_goes_before_the_winback_before_the_survey(noon):
    engine = noon
    set_playbook(engine, "messaging: {frequency_caps: [{max: 1, days: 1}]}")
    send(engine, request(engine, "welcome"))
    outcomes = send(engine, request(engine, "survey"), request(engine, "winback"), request(engine, "reward"))
    assert all(o.result is Result.DEFERRED for o in outcomes)
    order = []
    for _ in range(3):
        engine.clock.advance(timedelta(days=1))
        assert sweep(engine)["released"] == 1  # one per contact and sweep: the slot is for one
        engine.deliver("outbox")
        order.append(engine.sent_emails()[-1])
    keys_in_order = ("reward#1#p1", "winback#1#p1", "survey#1#p1")
    campaigns = [engine.runtime.messages.get("demo", "c-1", k) for k in keys_in_order]
    assert [c["status"] for c in campaigns] == ["sent", "sent", "sent"]
    sent_at = [c["sent_at"] for c in campaigns]
    assert sent_at == sorted(sent_at)  # reward first, then win-back, then survey


def test_a_message_that_could_only_go_too_late_is_dropped_not_sent_stale(noon):
    engine = noon
    send(engine, request(engine, "reward"), request(engine, "survey"))
    (late,) = send(engine, request(engine, "winback", not_after=engine.clock.now() + timedelta(days=3)))
    assert (late.result, late.reason) == (Result.SKIPPED, "stale")
    assert held(engine) == []
    assert engine.runtime.messages.get("demo", "c-1", "winback#1#p1")["reason"] == "stale"


def test_a_replayed_request_of_a_sent_message_is_a_duplicate_not_held(noon):
    engine = noon
    first = request(engine, "reward")
    send(engine, first, request(engine, "survey"))
    (again,) = send(engine, first)
    assert again.result is Result.DUPLICATE
    assert held(engine) == []


def test_two_senders_racing_for_the_last_slot_send_one_and_hold_the_other(noon, monkeypatch):
    engine = noon
    set_playbook(engine, "messaging: {frequency_caps: [{max: 1, days: 1}]}")
    contacts = engine.runtime.contacts
    stale = contacts.find("demo", "c-1", None)  # both senders read the profile before either claims
    real_find = contacts.find
    monkeypatch.setattr(contacts, "find", lambda *a, **k: stale)
    first, second = send(engine, request(engine, "reward"), request(engine, "winback"))
    monkeypatch.setattr(contacts, "find", real_find)
    assert first.result is Result.SENT
    assert second.result is Result.DEFERRED  # lost the slot, re-read, found the cap full
    assert len(engine.sent_emails()) == 1
    profile = real_find("demo", "c-1")
    assert profile.sends_seq == 1 and list(profile.sends) == ["reward#1#p1"]


def test_a_contacts_write_racing_a_claim_keeps_the_slot(noon):
    """The contacts function's slow path rewrites the whole profile: it must not drop the sends."""
    engine = noon
    send(engine, request(engine, "reward"))
    apply_events(
        engine,
        shop_event(
            "customer.updated",
            id="u-again",
            occurred_at="2025-12-01T00:00:00Z",  # older than the newest: the slow path
            customer={"id": "c-1"},
            data={"last_name": "Tanaka"},
        ),
    )
    profile = engine.runtime.contacts.find("demo", "c-1")
    assert list(profile.sends) == ["reward#1#p1"] and profile.sends_seq == 1
