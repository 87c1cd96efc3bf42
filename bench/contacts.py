"""DynamoDB requests per applied event (by case and over a whole shop), and events/s in-process."""

from __future__ import annotations

import time
from typing import Any

from bench.support import bus_body, engine, sqs_event
from comeback.demo.generator import generate

HANAKO = {"id": "c-42", "email": "hanako@example.com"}


def order(event_id: str, at: str, customer: dict[str, Any] = HANAKO) -> dict[str, Any]:
    return {
        "id": event_id,
        "type": "order.placed",
        "occurred_at": at,
        "customer": customer,
        "data": {"order_id": event_id, "total": "4980", "currency": "JPY",
                 "items": [{"product_id": "p1", "category": "tea", "price": "4980", "quantity": 1}]},
    }  # fmt: skip


def _case(e: Any, event: dict[str, Any]) -> dict[str, Any]:
    e.ddb_calls.reset()
    e.invoke("contacts", sqs_event([bus_body(event)]))
    return {
        "write_requests": e.ddb_calls.writes,
        "read_requests": e.ddb_calls.reads,
        "items_written": e.ddb_calls.items_written,
        "calls": dict(e.ddb_calls.calls),
    }


def cases() -> dict[str, Any]:
    with engine() as e:
        e.invoke("contacts", sqs_event([bus_body(order("warm-up", "2025-12-01T00:00:00Z", {"id": "c-0"}))]))
        email_only = {**order("o3", "2026-01-03T00:00:00Z"), "customer": {"email": "hanako@example.com"}}
        results = {
            "new contact (first event)": _case(e, order("o1", "2026-01-01T00:00:00Z")),
            "next event with the customer id (the usual case)": _case(e, order("o2", "2026-01-02T00:00:00Z")),
            "duplicate event id": _case(e, order("o2", "2026-01-02T00:00:00Z")),
            "older event arriving late": _case(e, order("o0", "2025-12-31T00:00:00Z")),
            "event with an email only": _case(e, email_only),
        }
    return results


def whole_shop(customers: int = 400, days: int = 365) -> dict[str, Any]:
    shop = generate(seed=11, customers=customers, days=days)
    events = list(shop.all_events())
    with engine() as e:
        e.invoke("contacts", sqs_event([bus_body(order("warm-up", "2025-01-01T00:00:00Z", {"id": "c-0"}))]))
        e.ddb_calls.reset()
        began = time.perf_counter()
        for start in range(0, len(events), 10):
            e.invoke("contacts", sqs_event([bus_body(ev) for ev in events[start : start + 10]]))
        seconds = time.perf_counter() - began
        n = len(events)
        with_id = sum(1 for ev in events if ev["customer"].get("id"))
        return {
            "events": n,
            "events_with_customer_id": with_id,
            "write_requests_per_event": round(e.ddb_calls.writes / n, 3),
            "read_requests_per_event": round(e.ddb_calls.reads / n, 3),
            "items_written_per_event": round(e.ddb_calls.items_written / n, 3),
            "calls": dict(e.ddb_calls.calls),
            "events_per_second_in_process": round(n / seconds, 1),
        }


def run() -> dict[str, Any]:
    return {"cases": cases(), "replay of a generated shop (in order, batches of 10)": whole_shop()}
