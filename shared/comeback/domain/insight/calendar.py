"""The communication calendar: what the engine is due to look at, and send, in the next days.

It is read off the due index, the engine's own plan: every enabled recipe's next due time of each
contact (`Profile.dues`) and every message held back by a frequency cap or quiet hours, with the
time it may go out. A recipe that comes due decides then whether to send (a customer who ordered
meanwhile gets no win-back), so a day's figure is what the engine will consider, an upper bound of
what it sends; held messages are already written and go out unless they turn stale. Days are the
shop's own (its playbook's timezone): a marketer reads "Tuesday", not a UTC instant.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, tzinfo
from typing import Any

from comeback.domain.clock import parse_iso
from comeback.domain.profile import Profile


@dataclass(frozen=True)
class CalendarDay:
    day: date
    due: dict[str, int] = field(default_factory=dict)  # recipe -> contacts due that day
    held: dict[str, int] = field(default_factory=dict)  # campaign -> held messages released that day

    def to_dict(self) -> dict[str, Any]:
        return {
            "day": self.day.isoformat(),
            "due": dict(sorted(self.due.items())),
            "held": dict(sorted(self.held.items())),
        }


@dataclass(frozen=True)
class CalendarReport:
    shop_id: str
    start: datetime
    days: int
    timezone: str
    by_day: tuple[CalendarDay, ...]
    # already due, not yet swept (the next sweep's): recipe -> contacts, campaign -> held messages
    overdue: dict[str, int]
    overdue_held: dict[str, int]

    def to_dict(self) -> dict[str, Any]:
        return {
            "shop_id": self.shop_id,
            "from": self.by_day[0].day.isoformat() if self.by_day else self.start.date().isoformat(),
            "start": self.start.isoformat(),
            "days": self.days,
            "timezone": self.timezone,
            "by_day": [d.to_dict() for d in self.by_day],
            "overdue": dict(sorted(self.overdue.items())),
            "overdue_held": dict(sorted(self.overdue_held.items())),
            "totals": dict(sorted(self.totals().items())),
        }

    def totals(self) -> dict[str, int]:
        """Per recipe, everything due in the window (contacts plus held messages)."""
        total: Counter[str] = Counter()
        for day in self.by_day:
            total.update(day.due)
            total.update(day.held)
        return dict(total)


def calendar_report(
    profiles: Iterable[Profile],
    held: Iterable[tuple[str, datetime]],
    *,
    shop_id: str,
    now: datetime,
    days: int,
    tz: tzinfo,
    tz_name: str,
) -> CalendarReport:
    """`profiles`: the shop's contacts on the due index; `held`: (campaign, release time) of its
    held messages. Everything due before `now` is `overdue`; the window is `days` local days from
    today (today included)."""
    today = now.astimezone(tz).date()
    window = [today + timedelta(days=n) for n in range(days)]
    due: dict[date, Counter[str]] = {d: Counter() for d in window}
    released: dict[date, Counter[str]] = {d: Counter() for d in window}
    overdue: Counter[str] = Counter()
    overdue_held: Counter[str] = Counter()
    for profile in profiles:
        if profile.shop_id != shop_id or profile.erased_at or profile.merged_into:
            continue
        for recipe, when in profile.dues.items():
            _place(parse_iso(when), recipe, now, tz, due, overdue)
    for campaign, at in held:
        _place(at, campaign, now, tz, released, overdue_held)
    return CalendarReport(
        shop_id=shop_id,
        start=now,
        days=days,
        timezone=tz_name,
        by_day=tuple(CalendarDay(d, dict(due[d]), dict(released[d])) for d in window),
        overdue=dict(overdue),
        overdue_held=dict(overdue_held),
    )


def _place(
    at: datetime, name: str, now: datetime, tz: tzinfo, into: dict[date, Counter[str]], overdue: Counter[str]
) -> None:
    if at <= now:
        overdue[name] += 1
        return
    day = at.astimezone(tz).date()
    if day in into:
        into[day][name] += 1
