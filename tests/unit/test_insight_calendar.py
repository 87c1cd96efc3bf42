"""The communication calendar: contacts due per recipe and held messages, by the shop's own day."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from comeback.domain.clock import isoformat
from comeback.domain.insight.calendar import calendar_report
from comeback.domain.profile import Profile

TOKYO = ZoneInfo("Asia/Tokyo")
NOW = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)  # 10:00 in Tokyo, Monday 2 March


def contact(name: str, shop: str = "s1", **dues: datetime) -> Profile:
    return Profile(shop_id=shop, contact_id=name, dues={k: isoformat(v) for k, v in dues.items()})


def test_each_recipes_due_time_lands_on_the_shops_local_day_and_past_ones_are_overdue() -> None:
    profiles = [
        contact("a", winback=NOW + timedelta(hours=20), birthday=NOW + timedelta(days=3)),  # 06:00 on the 3rd
        contact("b", winback=NOW + timedelta(hours=14)),  # 00:00 on the 3rd in Tokyo, 15:00 UTC on the 2nd
        contact("c", winback=NOW - timedelta(hours=1)),  # overdue: the next sweep's
        contact("d", winback=NOW + timedelta(days=30)),  # beyond the window
        contact("e", shop="other", winback=NOW + timedelta(hours=2)),  # another shop's
    ]
    held = [("cart", NOW + timedelta(hours=8)), ("winback", NOW - timedelta(minutes=5))]
    report = calendar_report(profiles, held, shop_id="s1", now=NOW, days=7, tz=TOKYO, tz_name="Asia/Tokyo")
    days = {d.day.isoformat(): d for d in report.by_day}
    assert len(report.by_day) == 7 and report.by_day[0].day.isoformat() == "2026-03-02"
    assert days["2026-03-03"].due == {"winback": 2}
    assert days["2026-03-05"].due == {"birthday": 1}
    assert days["2026-03-02"].held == {"cart": 1}  # 17:00 in Tokyo
    assert report.overdue == {"winback": 1} and report.overdue_held == {"winback": 1}
    assert report.totals() == {"winback": 2, "birthday": 1, "cart": 1}
    doc = report.to_dict()
    assert doc["from"] == "2026-03-02" and doc["days"] == 7 and len(doc["by_day"]) == 7


def test_erased_and_merged_contacts_are_not_on_the_calendar() -> None:
    gone = Profile(
        shop_id="s1",
        contact_id="x",
        erased_at=isoformat(NOW),
        dues={"winback": isoformat(NOW + timedelta(hours=3))},
    )
    merged = Profile(
        shop_id="s1", contact_id="y", merged_into="z", dues={"winback": isoformat(NOW + timedelta(hours=3))}
    )
    report = calendar_report(
        [gone, merged], [], shop_id="s1", now=NOW, days=3, tz=TOKYO, tz_name="Asia/Tokyo"
    )
    assert report.totals() == {}
