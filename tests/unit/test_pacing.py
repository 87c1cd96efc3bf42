"""Frequency caps and quiet hours: when the next email may go, in the contact's own timezone."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from comeback.domain import pacing, playbook
from comeback.domain.clock import isoformat
from comeback.domain.profile import lww

RULES = playbook.default().messaging  # at most 2 in 7 days; quiet 21:00-08:00
TOKYO = pacing.zone("Asia/Tokyo", "UTC")
NEW_YORK = pacing.zone("America/New_York", "UTC")


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


def sent(*times: str) -> dict:
    return {f"winback#1#{i}": lww("winback", isoformat(utc(t)), f"k{i}") for i, t in enumerate(times)}


def test_daytime_with_no_recent_email_is_now() -> None:
    now = utc("2026-06-01T10:00:00+09:00")
    assert pacing.next_slot(now, RULES, {}, TOKYO) == now


@pytest.mark.parametrize(
    ("local_now", "expected"),
    [
        ("2026-06-01T21:00:00+09:00", "2026-06-02T08:00:00+09:00"),  # quiet starts at 21:00 sharp
        ("2026-06-01T23:30:00+09:00", "2026-06-02T08:00:00+09:00"),
        ("2026-06-02T03:00:00+09:00", "2026-06-02T08:00:00+09:00"),  # after midnight: same morning
        ("2026-06-02T07:59:59+09:00", "2026-06-02T08:00:00+09:00"),
        ("2026-06-02T08:00:00+09:00", "2026-06-02T08:00:00+09:00"),  # 08:00 is allowed
        ("2026-06-02T20:59:59+09:00", "2026-06-02T20:59:59+09:00"),
    ],
)
def test_quiet_hours_in_tokyo(local_now: str, expected: str) -> None:
    assert pacing.next_slot(utc(local_now), RULES, {}, TOKYO) == utc(expected)


def test_quiet_hours_follow_new_york_across_the_spring_dst_change() -> None:
    # 2026-03-08 02:00 EST -> 03:00 EDT. 22:00 EST on the 7th waits for 08:00 EDT = 12:00 UTC.
    now = utc("2026-03-08T03:00:00+00:00")
    assert now.astimezone(NEW_YORK).hour == 22
    assert pacing.next_slot(now, RULES, {}, NEW_YORK) == utc("2026-03-08T12:00:00+00:00")
    # the day before, 08:00 was still 13:00 UTC
    assert pacing.next_slot(utc("2026-03-07T04:00:00+00:00"), RULES, {}, NEW_YORK) == utc(
        "2026-03-07T13:00:00+00:00"
    )


def test_quiet_hours_follow_new_york_across_the_autumn_dst_change() -> None:
    # 2026-11-01 02:00 EDT -> 01:00 EST. 21:30 EDT on Oct 31st waits for 08:00 EST = 13:00 UTC.
    now = utc("2026-11-01T01:30:00+00:00")
    assert pacing.next_slot(now, RULES, {}, NEW_YORK) == utc("2026-11-01T13:00:00+00:00")
    # and 21:00 EST that evening is 02:00 UTC, no longer 01:00 UTC
    assert pacing.quiet_until(utc("2026-11-02T01:30:00+00:00"), RULES.quiet_hours, NEW_YORK) is None
    assert pacing.quiet_until(utc("2026-11-02T02:00:00+00:00"), RULES.quiet_hours, NEW_YORK) is not None


def test_the_same_instant_is_night_in_tokyo_and_morning_in_new_york() -> None:
    now = utc("2026-06-01T14:00:00+00:00")  # 23:00 Tokyo, 10:00 New York
    assert pacing.next_slot(now, RULES, {}, TOKYO) > now
    assert pacing.next_slot(now, RULES, {}, NEW_YORK) == now


def test_a_full_cap_waits_until_the_oldest_email_leaves_the_window() -> None:
    history = sent("2026-06-01T10:00:00+09:00", "2026-06-03T12:00:00+09:00")
    now = utc("2026-06-05T10:00:00+09:00")
    assert pacing.next_slot(now, RULES, history, TOKYO) == utc("2026-06-08T10:00:00+09:00")


def test_a_cap_that_frees_at_night_waits_for_the_morning() -> None:
    history = sent("2026-06-01T21:30:00+09:00", "2026-06-02T12:00:00+09:00")  # sent under other rules
    now = utc("2026-06-05T10:00:00+09:00")
    assert pacing.next_slot(now, RULES, history, TOKYO) == utc("2026-06-09T08:00:00+09:00")


def test_one_email_in_the_window_leaves_room_for_another() -> None:
    now = utc("2026-06-05T10:00:00+09:00")
    assert pacing.next_slot(now, RULES, sent("2026-06-04T10:00:00+09:00"), TOKYO) == now


def test_several_caps_all_hold() -> None:
    rules = playbook.load({"messaging": {"frequency_caps": [{"max": 1, "days": 1}, {"max": 3, "days": 30}]}})
    messaging = rules.messaging
    now = utc("2026-06-20T10:00:00+09:00")
    history = sent("2026-06-01T10:00:00+09:00", "2026-06-10T10:00:00+09:00", "2026-06-19T12:00:00+09:00")
    # the daily cap frees on the 20th at 12:00, the monthly one only on July 1st at 10:00
    assert pacing.next_slot(now, messaging, history, TOKYO) == utc("2026-07-01T10:00:00+09:00")


def test_no_quiet_hours_when_the_playbook_turns_them_off() -> None:
    rules = playbook.load({"messaging": {"quiet_hours": None}}).messaging
    now = utc("2026-06-01T03:00:00+09:00")
    assert pacing.next_slot(now, rules, {}, TOKYO) == now


def test_an_unknown_timezone_falls_back_to_the_shop() -> None:
    assert pacing.zone("Mars/Olympus_Mons", "Asia/Tokyo").key == "Asia/Tokyo"
    assert pacing.zone(None, "America/New_York").key == "America/New_York"


def test_record_keeps_what_a_cap_can_still_see() -> None:
    now = utc("2026-06-10T10:00:00+00:00")
    history = sent("2026-05-01T10:00:00+00:00", "2026-06-05T10:00:00+00:00")
    kept = pacing.record(history, "reward#1#x", "reward", now, RULES)
    assert set(kept) == {"winback#1#1", "reward#1#x"}
    assert kept["reward#1#x"]["v"] == "reward"


@given(
    offsets=st.lists(st.integers(min_value=0, max_value=14 * 24 * 60), max_size=6),
    start=st.integers(min_value=0, max_value=365 * 24 * 60),
    zone_name=st.sampled_from(["Asia/Tokyo", "America/New_York", "Europe/London", "UTC"]),
)
def test_the_slot_found_is_never_early_and_always_allowed(
    offsets: list[int], start: int, zone_name: str
) -> None:
    tz = pacing.zone(zone_name, "UTC")
    base = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(minutes=start)
    history = {
        f"k{i}": lww("winback", isoformat(base - timedelta(minutes=m)), f"k{i}")
        for i, m in enumerate(offsets)
    }
    slot = pacing.next_slot(base, RULES, history, tz)
    assert slot >= base
    local = slot.astimezone(tz).time()
    assert not (local >= RULES.quiet_hours.start or local < RULES.quiet_hours.end)
    week_before = [m for m in offsets if base - timedelta(minutes=m) > slot - timedelta(days=7)]
    assert len(week_before) < 2
