"""The post-purchase survey waiting for fulfilment (`wait_for_fulfilment`) over HTTP against
`comeback local serve`: an order shipped on day 5 is asked about on day 12, not day 7, its
fulfilment posted twice; an order shipped before its order event arrived counts; an order never
shipped is not asked about."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.e2e.test_recipes import at_day, day, mail, person, send, serve, sweep
from tests.e2e.test_welcome_survey import bought, consent

pytestmark = pytest.mark.e2e

BOOK = {
    "demo": {
        "welcome": {"enabled": False},
        "survey": {"wait_for_fulfilment": True, "power_users": None, "inactive": None},
        "messaging": {"frequency_caps": []},
    }
}


def shipped(customer_id: str, n: int, days: float) -> dict[str, Any]:
    return {
        "id": f"ful-{customer_id}-{n}",
        "type": "order.fulfilled",
        "occurred_at": at_day(days).isoformat(),
        "customer": person(customer_id),
        "data": {"order_id": f"o-{customer_id}-{n}", "status": "shipped"},
    }


def surveys(local: Any, customer_id: str) -> list[str]:
    return [e["campaign"] for e in mail(local, customer_id) if e["campaign"] == "survey"]


def test_the_survey_waits_for_the_fulfilment(tmp_path: Path) -> None:
    with serve(tmp_path, BOOK) as local:
        day(local, 0)
        send(local, [consent("late"), bought("late", 1, 0), consent("early"), consent("never")])
        send(local, [bought("never", 1, 0)])
        day(local, 1)
        send(local, [shipped("early", 1, 1)])  # the fulfilment before its order event
        send(local, [bought("early", 1, 0)])
        day(local, 7)
        sweep(local)
        assert surveys(local, "late") == []  # not shipped yet
        day(local, 8)
        send(local, [shipped("late", 1, 5), shipped("late", 1, 5)])
        sweep(local)
        assert surveys(local, "early") == ["survey"]  # day 1 + 7
        assert surveys(local, "late") == []  # due on day 12
        day(local, 12)
        sweep(local)
        sweep(local)
        assert surveys(local, "late") == ["survey"]
        day(local, 31)
        sweep(local)
        assert surveys(local, "never") == []
        assert surveys(local, "early") == surveys(local, "late") == ["survey"]
