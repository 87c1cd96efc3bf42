"""RFM segments over HTTP against `comeback local serve`: the daily job run as its schedule would
(`POST /_local/segments`), the contact view's scores, and a win-back aimed at lapsed regulars."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.test_recipes import at_day, day, mail, person, send, serve, sweep, view
from tests.support import order, shop_event

pytestmark = pytest.mark.e2e

BY_SEGMENT = {
    "winback": {
        "holdout_percent": 0,
        "qualify": {"one_time_min_spent_minor": 0},
        "segments": ["at_risk", "cant_lose"],
    }
}


def buyer(customer_id: str, orders: int, last_day: float) -> list[dict[str, Any]]:
    """A consenting customer with `orders` orders 20 days apart, the last at day `last_day`."""
    who = person(customer_id)
    events = [
        shop_event(
            "customer.updated",
            id=f"u-{customer_id}",
            occurred_at=at_day(0).isoformat(),
            customer=who,
            data={"first_name": customer_id.title(), "locale": "en", "accepts_marketing": True},
        )
    ]
    for n in range(orders):
        at = at_day(last_day) - timedelta(days=20 * (orders - 1 - n))
        events.append(order(f"o-{customer_id}-{n}", at.isoformat(), who, total="3000"))
    return events


def seen(read: Callable[[], Any], seconds: float = 10) -> Any:
    deadline = time.monotonic() + seconds
    while (value := read()) is None and time.monotonic() < deadline:
        time.sleep(0.25)
    return value


def test_the_daily_segmentation_ranks_buyers_and_win_back_writes_only_to_the_segments_named(
    tmp_path: Path,
) -> None:
    with serve(tmp_path, {"demo": BY_SEGMENT}) as local:
        regulars, once = ["rina-0", "rina-1", "rina-2"], ["sota-0", "sota-1", "sota-2"]
        recent = [f"tomo-{i}" for i in range(6)]
        day(local, 85)  # the history is in the past: the lapsed stopped at day 0
        events = [e for c in regulars for e in buyer(c, 6, 0)] + [e for c in once for e in buyer(c, 1, 0)]
        events += [e for i, c in enumerate(recent) for e in buyer(c, 1 + i % 3, 60 + 4 * i)]
        send(local, events)
        assert view(local, regulars[0])["rfm"] is None  # no segmentation yet
        done = local.post("/_local/segments")
        assert done["drained"] is True and done["units"] == 1, done
        assert done["shops"]["demo"]["buyers"] == 12, done
        rfm = seen(lambda: view(local, regulars[0])["rfm"])  # shop configs are cached 2 s locally
        # a quarter of the buyers ordered six times: ties at the top share F 4
        assert (rfm["recency"], rfm["frequency"], rfm["segment"]) == (1, 4, "at_risk"), rfm
        assert view(local, once[0])["rfm"]["segment"] == "lost"
        assert view(local, recent[-1])["rfm"]["recency"] == 5
        day(local, 91)  # the lapsed are due their step 1; the recent buyers are not
        report = sweep(local)
        assert report["campaigns"] == {"winback": 3}, report
        assert report["not_asked"].get("not_in_segment") == 3, report
        for customer_id in regulars:
            assert [(e["campaign"], e["step"]) for e in mail(local, customer_id)] == [("winback", 1)]
            assert view(local, customer_id)["recipes"]["winback"]["state"]["segment"] == "at_risk"
        for customer_id in once:
            assert mail(local, customer_id) == []
            assert view(local, customer_id)["recipes"]["winback"]["state"]["exit"] == "not_qualified"
