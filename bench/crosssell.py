"""Cross-sell: what an order costs the contacts function with the product knowledge, and what the
sweep reads for a cross-sell that comes due.

Counted from botocore's own `before-call` events. An order takes the slow path anyway (loyalty's
facts, the order's products in the cross-sell state): one GetItem and one TransactWriteItems; the
product store adds one UpdateItem per counted product, and, the first time products are seen
together, a failed conditional update, a GetItem and a merge write per product.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from bench.support import bus_body, engine, sqs_event
from comeback.domain.clock import isoformat

OFF = '{"crosssell": {"enabled": false}}'


def order(event_id: str, at: str, customer: str, products: list[str]) -> dict[str, Any]:
    items = [{"product_id": p, "name": f"Tea {p}", "category": "tea", "price": "1500", "quantity": 1,
              "url": f"https://shop.example.com/{p}"} for p in products]  # fmt: skip
    return {
        "id": event_id,
        "type": "order.placed",
        "occurred_at": at,
        "customer": {"id": customer, "email": f"{customer}@example.com"},
        "data": {"order_id": event_id, "total": str(1500 * len(products)), "currency": "JPY", "items": items},
    }


def _requests(e: Any, body: dict[str, Any]) -> dict[str, Any]:
    e.ddb_calls.reset()
    e.invoke("contacts", sqs_event([bus_body(body)]))
    return {
        "reads": e.ddb_calls.reads,
        "writes": e.ddb_calls.writes,
        "calls": dict(sorted(e.ddb_calls.calls.items())),
    }


def order_path(playbook_yaml: str = "") -> dict[str, Any]:
    """Requests of one order of a known contact, by basket size; products new, then known."""
    with engine(playbook_yaml=playbook_yaml) as e:
        at = isoformat(e.clock.now() - timedelta(hours=1))
        results: dict[str, Any] = {}
        for size in (1, 3, 10):
            products = [f"s{size}-{i}" for i in range(size)]
            customer = f"c{size}"
            e.invoke("contacts", sqs_event([bus_body(order(f"w{size}", at, customer, ["warm"]))]))
            results[f"{size} product(s), first seen together"] = _requests(
                e, order(f"a{size}", at, customer, products)
            )
            results[f"{size} product(s), known"] = _requests(e, order(f"b{size}", at, customer, products))
        return results


def sweep_reads() -> dict[str, Any]:
    """100 customers (who accept marketing) whose cross-sell comes due in one sweep: its requests
    (10 % of them are the holdout: asked for, never emailed; the unreachable are not looked up)."""
    with engine() as e:
        at = isoformat(e.clock.now())
        bodies = [bus_body(order(f"shop-{n}", at, f"b{n}", ["sencha", "kyusu", "hojicha"])) for n in range(3)]
        for n in range(100):
            consent = {"id": f"u{n}", "type": "customer.updated", "occurred_at": at,
                       "customer": {"id": f"c{n}"}, "data": {"accepts_marketing": True}}  # fmt: skip
            bodies += [bus_body(consent), bus_body(order(f"o{n}", at, f"c{n}", ["sencha"]))]
        for start in range(0, len(bodies), 10):
            e.invoke("contacts", sqs_event(bodies[start : start + 10]))
        e.clock.set(e.clock.now() + timedelta(days=14, minutes=1))
        e.ddb_calls.reset()
        report = e.runtime.sweep.run()
        calls = dict(sorted(e.ddb_calls.calls.items()))
        return {
            "due": report.due,
            "crosssell_messages": report.campaigns.get("crosssell", 0),
            "not_asked": dict(report.not_asked),
            "calls": calls,
            "batch_get_per_due_contact": round(calls.get("BatchGetItem", 0) / max(report.due, 1), 2),
        }


def run() -> dict[str, Any]:
    return {
        "order path, cross-sell on (shipped)": order_path(),
        "order path, cross-sell off": order_path(OFF),
        "sweep of 100 cross-sells due": sweep_reads(),
    }
