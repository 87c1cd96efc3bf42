"""Welcome and the post-purchase survey over HTTP against `comeback local serve`, as a shop sees
them: a subscriber's series, handed over to the buyer's at the first order (whose thank-you is
loyalty's milestone, not a second email), a second order ending a series, the survey seven days
after the latest order, none for a refunded order, nobody welcomed from an imported history, and
redeliveries and repeated sweeps changing nothing. One runtime for all of it (frequency caps off:
they are the sender's, tested elsewhere, and would only move these emails by days)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.test_recipes import at_day, day, mail, person, send, serve, sweep, view
from tests.support import order, shop_event

pytestmark = pytest.mark.e2e

BOOK = {"demo": {"welcome": {}, "survey": {}, "messaging": {"frequency_caps": []}}}


def consent(customer_id: str, days: float = 0) -> dict[str, Any]:
    data = {"first_name": customer_id.title(), "locale": "en", "accepts_marketing": True}
    stamp = at_day(days).isoformat()
    who = person(customer_id)
    return shop_event("customer.updated", id=f"u-{customer_id}", occurred_at=stamp, customer=who, data=data)


def bought(customer_id: str, n: int, days: float) -> dict[str, Any]:
    items = [{"product_id": "p1", "name": "Sencha", "price": "3000", "quantity": 1}]
    return order(
        f"o-{customer_id}-{n}", at_day(days).isoformat(), person(customer_id), total="3000", items=items
    )


def refunded(customer_id: str, n: int, days: float) -> dict[str, Any]:
    data = {"order_id": f"o-{customer_id}-{n}", "amount": "3000", "currency": "JPY"}
    return shop_event("order.refunded", id=f"r-{customer_id}-{n}", occurred_at=at_day(days).isoformat(),
                      customer=person(customer_id), data=data)  # fmt: skip


def sent(local: Any, customer_id: str) -> list[tuple[str, int]]:
    return [(e["campaign"], e["step"]) for e in mail(local, customer_id)]


def test_welcome_series_and_post_purchase_surveys_over_http(tmp_path: Path) -> None:
    with serve(tmp_path, BOOK, milestones=True) as local:
        day(local, 0)
        # sub subscribes; buy signs up and orders in one go; ref orders and will refund; old comes
        # from an imported history (subscribed and served long ago)
        batch = [
            consent("sub"),
            consent("buy"),
            bought("buy", 1, 0),
            consent("ref"),
            bought("ref", 1, 0),
            consent("old", days=-60),
            bought("old", 1, -40),
        ]
        send(local, batch)
        send(local, batch)  # the shop retries: nothing changes
        sweep(local)
        sweep(local)  # an overlapping sweep: nothing twice
        assert sent(local, "sub") == [("welcome", 1)]
        assert "Welcome to" in mail(local, "sub")[0]["subject"]
        # a first-time buyer is thanked once, by loyalty: its welcome starts at step 2
        assert sent(local, "buy") == [("milestone", 1)]
        assert view(local, "buy")["recipes"]["welcome"]["state"]["track"] == "buyer"
        assert sent(local, "old") == []  # nobody welcomed, or surveyed, from an imported history

        day(local, 2)
        send(local, [refunded("ref", 1, 2)])
        day(local, 3)
        sweep(local)
        assert sent(local, "sub") == [("welcome", 1), ("welcome", 2)]
        assert ("welcome", 2) in sent(local, "buy")

        day(local, 4)
        send(local, [bought("buy", 2, 4)])  # buy's second order ends its series
        day(local, 5)
        send(local, [bought("sub", 1, 5)])  # sub's first order: its series stops, the buyer's starts
        sweep(local)
        assert sent(local, "sub")[-1] == ("milestone", 1)

        day(local, 8)
        sweep(local)
        assert sent(local, "sub")[-1] == ("welcome", 2) and mail(local, "sub")[-1]["subject"].startswith(
            "Getting the most"
        )
        assert ("welcome", 3) not in sent(local, "buy")
        assert "survey" not in [c for c, _ in sent(local, "ref")]  # refunded before its survey

        day(local, 11)
        sweep(local)
        # buy's survey is about its latest order (day 4), seven days later; the first's was replaced
        [survey] = [e for e in mail(local, "buy") if e["campaign"] == "survey"]
        assert "o-buy-2" in survey["text"] and survey["subject"] == "How is your Sencha?"
        assert survey["headers"]["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"

        day(local, 12)
        sweep(local)
        sweep(local)
        # sub: the last step with its code, and the survey of its order, each once
        assert sent(local, "sub") == [("welcome", 1), ("welcome", 2), ("milestone", 1), ("welcome", 2),
                                      ("welcome", 3), ("survey", 1)]  # fmt: skip
        gift = [e for e in mail(local, "sub") if e["campaign"] == "welcome"][-1]
        [reward] = [r for r in view(local, "sub")["rewards"] if r["recipe"] == "welcome"]
        assert (reward["type"], reward["percent"], reward["state"]) == ("percent_off", 10, "issued")
        assert reward["code"] in gift["text"] and "10% off" in gift["subject"]
        day(local, 30)
        sweep(local)
        assert (
            sent(local, "old") == []
            and len([e for e in mail(local, "ref") if e["campaign"] == "survey"]) == 0
        )
        assert [c for c, _ in sent(local, "buy")] == ["milestone", "welcome", "survey"]


def test_an_inactive_customers_reason_picks_the_winback_variant_over_http(tmp_path: Path) -> None:
    """60 days after the last order: why did you stop? A one-click reason (price) from that email,
    then win-back's first step comes with the offer the price variant gets from step 1."""
    from tests.e2e.test_recipes import outside_holdout

    book = {"demo": {"survey": {}, "messaging": {"frequency_caps": []}}}
    with serve(tmp_path, book) as local:
        who = outside_holdout("lapse", periods=("2026-03-06", "2026-01-05"))
        send(local, [consent(who), bought(who, 1, 0)])
        day(local, 7.2)
        sweep(local)
        assert sent(local, who) == [("survey", 1)]  # the order's survey
        day(local, 60.2)
        sweep(local)
        sweep(local)  # a second sweep asks nothing more
        assert sent(local, who) == [("survey", 1), ("survey", 3)]
        why = mail(local, who)[-1]
        assert "why" in why["subject"].lower(), why["subject"]
        [price] = re.findall(r"https?://\S+reason=price", why["text"])
        status, _ = local.call("GET", price.removeprefix(local.base))
        assert status == 200
        # the answer reaches the profile through the bus and the contacts queue: wait for it, or
        # the sweep below would race it (and lose its win-back to the contact's newer activity)
        assert local.post("/_local/drain")["drained"] is True
        assert view(local, who)["recipes"]["survey"]["state"]["lapse"]
        day(local, 60.2 + 91)  # win-back's first step, 90 days after the reason (an activity)
        sweep(local)
        steps = [s for s in sent(local, who) if s[0] == "winback"]
        assert steps == [("winback", 1)], sent(local, who)
        rewards = [r for r in view(local, who)["rewards"] if r["recipe"] == "winback"]
        assert [r["step"] for r in rewards] == [1]  # the price variant's offer, from step 1
