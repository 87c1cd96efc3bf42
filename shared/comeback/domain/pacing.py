"""When a contact may receive the next email: frequency caps and quiet hours.

Pure functions of the contact's recent sends (`Profile.sends`: message key -> when it was claimed),
the playbook's `messaging` rules and the contact's timezone. Quiet hours are wall-clock times in
that timezone, so they follow daylight saving time: 08:00 in New York is 12:00 UTC in summer and
13:00 UTC in winter.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from comeback.domain.clock import isoformat, parse_iso
from comeback.domain.playbook import Messaging, QuietHours
from comeback.domain.profile import Lww, lww


def zone(preferred: str | None, shop_default: str) -> ZoneInfo:
    """The contact's own timezone when it is a real one, else the shop's."""
    for name in (preferred, shop_default):
        if name:
            try:
                return ZoneInfo(name)
            except (ZoneInfoNotFoundError, ValueError):
                continue
    return ZoneInfo("UTC")


def _local(day: date, wall: time, tz: ZoneInfo) -> datetime:
    # A wall time that does not exist (skipped by a DST jump) resolves to the instant just after.
    return datetime.combine(day, wall, tzinfo=tz)


def quiet_until(now: datetime, quiet: QuietHours | None, tz: ZoneInfo) -> datetime | None:
    """The end of the quiet period `now` falls in, or None when now is a fine time to send."""
    if quiet is None:
        return None
    local = now.astimezone(tz)
    wall = local.time().replace(tzinfo=None)
    if quiet.start > quiet.end:  # crosses midnight: 21:00 -> 08:00
        if wall >= quiet.start:
            return _local(local.date() + timedelta(days=1), quiet.end, tz)
        if wall < quiet.end:
            return _local(local.date(), quiet.end, tz)
        return None
    if quiet.start <= wall < quiet.end:  # a daytime window: 12:00 -> 13:00
        return _local(local.date(), quiet.end, tz)
    return None


def _capped_until(now: datetime, rules: Messaging, sent: list[datetime]) -> datetime | None:
    """When the earliest cap that is full now frees a slot, or None when no cap is full."""
    until = None
    for cap in rules.frequency_caps:
        window = timedelta(days=cap.days)
        inside = sorted(t for t in sent if now - window < t <= now)
        if len(inside) >= cap.max:
            # the slot frees when the oldest send that keeps the cap full leaves the window
            frees = inside[len(inside) - cap.max] + window
            until = frees if until is None else max(until, frees)
    return until


def next_slot(now: datetime, rules: Messaging, sends: dict[str, Lww], tz: ZoneInfo) -> datetime:
    """The first instant from `now` on at which one more email respects every cap and quiet hours."""
    sent = [parse_iso(item["at"]) for item in sends.values()]
    moment = now
    for _ in range(20):  # each round moves forward; a handful always settles it
        later = _capped_until(moment, rules, sent) or quiet_until(moment, rules.quiet_hours, tz)
        if later is None or later <= moment:
            return moment
        moment = later
    return moment


def record(sends: dict[str, Lww], key: str, campaign: str, now: datetime, rules: Messaging) -> dict[str, Lww]:
    """`sends` with this message added and what no cap can see any more left out."""
    longest = max((cap.days for cap in rules.frequency_caps), default=0)
    horizon = now - timedelta(days=longest)
    kept = {k: v for k, v in sends.items() if parse_iso(v["at"]) > horizon}
    kept[key] = lww(campaign, isoformat(now), key)
    return kept
