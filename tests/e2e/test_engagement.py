"""The engagement score over HTTP against `comeback local serve`: a customer's views, visits, replies
and orders add up; the contact is looked at the next morning; crossing the threshold sends one
thank-you (campaign `reward`) with its code, and the score starts again; the same events delivered
again change nothing."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from comeback.domain.clock import isoformat
from tests.e2e.test_recipes import at_day, day, mail, person, send, serve, sweep, view
from tests.support import order, shop_event

pytestmark = pytest.mark.e2e


def signal(kind: str, n: int, at: Any) -> dict[str, Any]:
    return shop_event(kind, id=f"{kind}-{n}", occurred_at=isoformat(at), customer=person("emi"))


def test_crossing_the_threshold_sends_one_reward_with_its_code_and_the_score_starts_again(
    tmp_path: Path,
) -> None:
    with serve(tmp_path, engagement=True) as local:
        day(local, 0, hours=2)  # 14:00 in Tokyo
        noon = at_day(0)
        profile = {"first_name": "Emi", "locale": "en", "accepts_marketing": True}
        signup = shop_event(
            "customer.updated", id="u-emi", occurred_at=isoformat(noon), customer=person("emi"), data=profile
        )
        # 30 product views, 20 visits and 2 replies in the afternoon: 70 points
        events = [signal("product.viewed", n, noon + timedelta(minutes=1 + n)) for n in range(30)]
        events += [signal("site.visited", n, noon + timedelta(minutes=40 + n)) for n in range(20)]
        events += [signal("message.replied", n, noon + timedelta(minutes=70 + n)) for n in range(2)]
        send(local, [signup, *events])
        contact = view(local, "emi")
        assert 69.5 < contact["engagement_score"] <= 70, contact["engagement"]  # decaying since 13:11
        assert (contact["views_count"], contact["visits_count"], contact["replies_count"]) == (30, 20, 2)
        # looked at the next morning at 09:00 in Tokyo (00:00 UTC), once for the whole afternoon
        assert contact["recipes"]["engagement"]["next_due_at"] == isoformat(at_day(1) - timedelta(hours=3))
        sweep(local)
        assert mail(local, "emi") == []

        day(local, 1, hours=-2)  # 10:00 the next morning: the sweep scores the afternoon, no reward
        sweep(local)
        contact = view(local, "emi")
        assert 68 < contact["engagement_score"] < 69  # 21 hours of decay (half-life 30 days)
        assert contact["recipes"]["engagement"]["next_due_at"] is None  # nothing new: it only decays
        assert contact["recipes"]["engagement"]["state"]["seen"]["view"] == 30

        # two orders (20 points each) cross 100: the next sweep thanks her, once
        morning = at_day(1) - timedelta(hours=2, minutes=10)
        orders = [
            order(f"o-emi-{n}", isoformat(morning + timedelta(minutes=n)), person("emi")) for n in (1, 2)
        ]
        send(local, orders)
        assert view(local, "emi")["recipes"]["engagement"]["state"]["phase"] == "crossed"
        sweep(local)
        (email,) = mail(local, "emi")
        assert (email["campaign"], email["step"]) == ("reward", 3), email["subject"]
        assert email["subject"] == "A thank-you from Your Shop: 10% off for your next order"
        contact = view(local, "emi")
        (reward,) = contact["rewards"]
        assert (reward["recipe"], reward["type"], reward["percent"], reward["state"]) == (
            "reward",
            "percent_off",
            10,
            "issued",
        )
        assert reward["code"] in email["text"] and reward["code"] in email["html"]
        assert "most engaged customers" in email["text"]
        assert contact["engagement_score"] == 0.0  # the score starts again
        assert contact["engagement"]["rewarded"] == 1 and contact["engagement"]["last_rewarded_at"]

        # the same events again (a shop's retry) and a sweep the day after: nothing more
        send(local, [signup, *events, *orders])
        day(local, 2)
        sweep(local)
        assert len(mail(local, "emi")) == 1
        contact = view(local, "emi")
        assert (contact["views_count"], contact["orders_count"], contact["engagement_score"]) == (30, 2, 0.0)
