"""Small hand-computed shops for the insight reports, built from real events through the profile."""

from __future__ import annotations

from functools import reduce
from typing import Any

from comeback.domain.events import parse_event
from comeback.domain.insight.records import CustomerRecord, record_of
from comeback.domain.profile import Profile, apply, empty
from tests.support import order, shop_event


def placed(cid: str, n: int, at: str, total: int, **data: Any) -> Any:
    return parse_event(order(f"{cid}-o{n}", at, {"id": cid}, total=str(total), **data))


def refunded(cid: str, n: int, at: str, amount: int) -> Any:
    data = {"order_id": f"{cid}-o1", "amount": str(amount), "currency": "JPY"}
    return parse_event(
        shop_event("order.refunded", id=f"{cid}-r{n}", occurred_at=at, customer={"id": cid}, data=data)
    )


def profiles(events: list[Any]) -> dict[str, Profile]:
    by_customer: dict[str, list[Any]] = {}
    for event in events:
        by_customer.setdefault(event.customer.id, []).append(event)
    return {cid: reduce(apply, evs, empty("shop", cid, cid)) for cid, evs in by_customer.items()}


def records(events: list[Any]) -> list[CustomerRecord]:
    found = (record_of(p) for p in profiles(events).values())
    return sorted((r for r in found if r is not None), key=lambda r: r.contact_id)


# A and B start in January, C in February; D bought in October 2025 and comes back in March.
RETENTION_SHOP = [
    placed("A", 1, "2026-01-10T00:00:00Z", 1000),
    placed("A", 2, "2026-02-10T00:00:00Z", 2000),
    placed("B", 1, "2026-01-20T00:00:00Z", 3000),
    placed("C", 1, "2026-02-05T00:00:00Z", 500),
    placed("C", 2, "2026-03-05T00:00:00Z", 1500),
    placed("D", 1, "2025-10-01T00:00:00Z", 4000),
    placed("D", 2, "2026-03-15T00:00:00Z", 1000),
]

# A January cohort of three (A, B, X) and a February cohort of one (C), followed to March.
COHORT_SHOP = [
    placed("A", 1, "2026-01-10T00:00:00Z", 1000, discount_codes=["welcome10"], source_name="web"),
    placed("A", 2, "2026-02-10T00:00:00Z", 2000, discount_codes=["SPRING"], source_name="pos"),
    placed("B", 1, "2026-01-20T00:00:00Z", 3000, source_name="pos"),
    placed("X", 1, "2026-01-31T23:59:59Z", 600, discount_codes=["WELCOME10"], source_name="web"),
    placed("X", 2, "2026-03-01T00:00:00Z", 900),
    placed("C", 1, "2026-02-05T00:00:00Z", 500, discount_codes=["SPRING"]),
    placed("C", 2, "2026-03-05T00:00:00Z", 1500),
]
