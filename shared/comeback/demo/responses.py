"""How the demo's customers answer email: a known uplift, so the win-back report can be checked.

The generated shop's orders are its customers' own plans, written before any email exists. On
top of them, each win-back email makes its recipient order with probability `uplift` within
`WITHIN_DAYS` days (using the code the email carries, if any). Holdout contacts get no email, so
their orders are the plan alone: the difference between the two groups is the email's effect,
and this module knows it exactly, email by email (`Truth`), to compare with the report's estimate.
"""

from __future__ import annotations

import hashlib
import random
import re
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from comeback.demo.generator import JST, _catalog

WITHIN_DAYS = 14
WINDOW = timedelta(days=30)  # the report's reactivation window
CODE = re.compile(r"\bCB-[2-9A-HJ-NP-Z]{4}-[2-9A-HJ-NP-Z]{4}\b")


@dataclass
class Truth:
    """Per win-back email: did it cause an order in the window that the customer's plan did not have?"""

    caused: dict[tuple[str, int, str], bool] = field(default_factory=dict)  # (contact, step, lapse)

    def lift(self, step: int | None = None) -> float | None:
        """The true effect on the emailed: the share of emails (of `step`) whose order would not
        have happened in the window without them."""
        chosen = [v for (_, s, _), v in self.caused.items() if step is None or s == step]
        return sum(chosen) / len(chosen) if chosen else None


class Responses:
    def __init__(self, seed: int, uplift: float, planned_orders: dict[str, list[datetime]]) -> None:
        self._seed = seed
        self.uplift = uplift
        self._planned = planned_orders
        self._products = [p for p in _catalog() if p.category == "tea"]
        self.scheduled: dict[date, list[dict[str, Any]]] = defaultdict(list)
        self.truth = Truth()

    def answer(self, email: dict[str, Any]) -> None:
        """Decide (deterministically) whether this win-back email makes its recipient order."""
        if email.get("campaign") != "winback" or not email.get("sent_at"):
            return
        sent = datetime.fromisoformat(email["sent_at"].replace("Z", "+00:00"))
        # by who, which step and which lapse: SES message ids differ from run to run, the seed must not
        key = f"{self._seed}|{email['contact_id']}|{email['step']}|{email.get('period')}"
        rng = random.Random(int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "big"))
        contact = email["contact_id"]
        planned = any(sent < at <= sent + WINDOW for at in self._planned.get(contact, []))
        responds = rng.random() < self.uplift
        self.truth.caused[(contact, int(email["step"]), str(email.get("period")))] = responds and not planned
        if not responds:
            return
        at = (sent + timedelta(days=rng.uniform(0.5, WITHIN_DAYS))).astimezone(JST)
        product = rng.choice(self._products)
        codes = CODE.findall(email.get("text") or "")
        order_id = f"resp-{hashlib.sha256(key.encode()).hexdigest()[:12]}"
        event = {
            "id": f"ord-{order_id}",
            "type": "order.placed",
            "occurred_at": at.isoformat(timespec="seconds"),
            "customer": {"id": contact, "email": email["to"]},
            "data": {
                "order_id": order_id,
                "total": str(product.price),
                "currency": "JPY",
                "items": [
                    {"product_id": product.id, "name": product.name, "category": product.category,
                     "price": str(product.price), "quantity": 1}
                ],
                "discount_codes": codes[:1],
            },
        }  # fmt: skip
        self.scheduled[at.date()].append(event)


def planned_orders(events: Any) -> dict[str, list[datetime]]:
    """Each customer's own order times (the generated plan), in UTC."""
    orders: dict[str, list[datetime]] = defaultdict(list)
    for event in events:
        if event["type"] == "order.placed" and event["customer"].get("id"):
            orders[event["customer"]["id"]].append(
                datetime.fromisoformat(event["occurred_at"]).astimezone(UTC)
            )
    return orders
