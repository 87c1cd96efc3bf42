"""DynamoDB requests per applied event (by case and over a whole shop), and events/s in-process."""

from __future__ import annotations

import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, cast

from bench import recipes
from bench.support import bus_body, engine, sqs_event
from comeback.aws import clients as aws
from comeback.aws import dynamo
from comeback.demo.generator import generate
from comeback.domain import playbook
from comeback.domain.clock import isoformat, parse_iso
from comeback.domain.events import ShopEvent, parse_event
from comeback.domain.playbook import Playbook
from comeback.recipes import engine as recipe_engine
from comeback.recipes import registry

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


def signal(event_type: str, event_id: str, at: str, customer: dict[str, Any] = HANAKO) -> dict[str, Any]:
    """A product view, a site visit or a reply: one of the engagement score's counters."""
    data = {"product_id": "p1", "category": "tea"} if event_type == "product.viewed" else {}
    return {"id": event_id, "type": event_type, "occurred_at": at, "customer": customer, "data": data}


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
            # the engagement score's signals are counters: its due time (the next morning) goes in the
            # same update. The first view makes the stage `engaged`, which the slow path announces.
            "first product view (the stage becomes engaged)": _case(
                e, signal("product.viewed", "v1", "2026-01-04T01:00:00Z")
            ),
            "product view (the usual case)": _case(e, signal("product.viewed", "v2", "2026-01-04T01:05:00Z")),
            "site visit (the usual case)": _case(e, signal("site.visited", "s1", "2026-01-04T01:10:00Z")),
            "reply to an email (the usual case)": _case(
                e, signal("message.replied", "r1", "2026-01-04T01:15:00Z")
            ),
            "duplicate product view": _case(e, signal("product.viewed", "v2", "2026-01-04T01:05:00Z")),
        }
    return results


def view(event_id: str, at: str, product: str = "p7") -> dict[str, Any]:
    return {"id": event_id, "type": "product.viewed", "occurred_at": at, "customer": HANAKO,
            "data": {"product_id": product, "name": "Tokoname kyusu", "category": "teaware", "price": "6800",
                     "currency": "JPY", "url": "https://shop.example.com/products/" + product}}  # fmt: skip


def cart(event_id: str, at: str, quantity: int = 1) -> dict[str, Any]:
    items = (
        [{"product_id": "p7", "name": "Tokoname kyusu", "price": "6800", "quantity": quantity}]
        if quantity
        else []
    )
    return {"id": event_id, "type": "cart.updated", "occurred_at": at, "customer": HANAKO,
            "data": {"cart_id": "k1", "currency": "JPY", "total": str(6800 * quantity),
                     "url": "https://shop.example.com/cart/k1", "items": items}}  # fmt: skip


def abandonment() -> dict[str, Any]:
    """DynamoDB requests per product.viewed and cart.updated of a known contact, every shipped recipe
    on (browse and cart among them): the browse and cart due times move in the event's one write."""
    with engine() as e:
        e.invoke("contacts", sqs_event([bus_body(order("warm-up", "2025-12-01T00:00:00Z", {"id": "c-0"}))]))
        _case(e, order("o1", "2026-01-01T00:00:00Z"))  # the contact exists
        return {
            "product.viewed, the first (the stage moves to engaged: announced on the slow path)": _case(
                e, view("v1", "2026-01-02T10:00:00Z")
            ),
            "product.viewed (second view: the browse reminder's due time moves)": _case(
                e, view("v2", "2026-01-02T10:05:00Z")
            ),
            "product.viewed of another product": _case(e, view("v3", "2026-01-02T10:07:00Z", "p9")),
            "cart.updated (first change)": _case(e, cart("k1-1", "2026-01-02T10:10:00Z")),
            "cart.updated (a later change restarts the timing)": _case(
                e, cart("k1-2", "2026-01-02T10:12:00Z", 2)
            ),
            "cart.updated emptying the cart (the browse reminder is due before the new due time)": _case(
                e, cart("k1-3", "2026-01-02T10:13:00Z", 0)
            ),
            "cart.updated again": _case(e, cart("k1-4", "2026-01-02T10:14:00Z")),
            "product.viewed while the cart reminder is due earlier than its own": _case(
                e, view("v4", "2026-01-02T10:20:00Z")
            ),
        }


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
    return {
        "cases": cases(),
        "replay of a generated shop (in order, batches of 10)": whole_shop(),
        "five recipes enabled: replay of the same shop, one event per invocation": five_recipes(),
    }


# -- five recipes enabled ------------------------------------------------------------------------
@dataclass
class Cancellations:
    """The cancellation reasons of every failed TransactWriteItems (what made a write a second one)."""

    seen: list[list[dict[str, Any]]] = field(default_factory=list)

    def __call__(self, model: Any, parsed: dict[str, Any], **_: Any) -> None:
        if model.name == "TransactWriteItems" and "CancellationReasons" in parsed:
            self.seen.append(parsed["CancellationReasons"])


def why_not_fast(body: dict[str, Any], reasons: list[dict[str, Any]], pb: Playbook) -> str:
    """Which condition of the one-write fast path the stored profile failed, in words."""
    codes = [r.get("Code") for r in reasons]
    if codes and codes[0] == "ConditionalCheckFailed":
        return "duplicate event id"
    if len(codes) <= 2 or codes[2] != "ConditionalCheckFailed":
        return f"another item's condition: {codes}"
    old = reasons[2].get("Item")
    if not old:
        return "new contact (no profile yet)"
    stored = dynamo.plain(old)
    event = cast(ShopEvent, parse_event(body))
    if stored.get("merged_into") or stored.get("erased_at"):
        return "merged or erased contact"
    if stored.get("last_seen_at", "") >= isoformat(event.occurred_at):
        return "not newer than the newest event seen (late, or the same instant)"
    if event.customer.email and (stored.get("email") or {}).get("v") != event.customer.email:
        return "a new email address (its alias is the slow path's)"
    fast = recipe_engine.fast_plan(event, pb)
    assert fast is not None  # a plan of None reads first, it does not try and fail
    for name, required in fast.requires.items():
        state = (stored.get("recipes", {}).get(name) or {}).get("v", {})
        for key, allowed in required.items():
            if state.get(key) not in allowed:
                return f"{name}: stored {key} {state.get(key)!r}, the event changes it (slow path decides)"
    candidate = fast.candidate
    for name in fast.kept:
        kept = stored.get("dues", {}).get(name)
        if candidate is not None and kept is not None and kept < isoformat(candidate):
            return f"{name} is due before the event's new due time"
    return "a profile bound (a growing field at its limit)"


def five_recipes(customers: int = 400, days: int = 365) -> dict[str, Any]:
    """Write requests per event of a generated shop's history, with five recipes enabled.

    One event per invocation, so each event's requests are its own (the first event warms the
    function up). The clock follows the events and the sweep runs once a day in between (its
    requests are not counted), so each event meets the stages and due times a live system would
    have stored; at a single clock instant a year's history would look lapsed to every event."""
    shop = generate(seed=11, customers=customers, days=days)
    events = list(shop.all_events())
    with recipes.registered(), engine(playbook_yaml=recipes.PLAYBOOK) as e:
        pb = playbook.load(recipes.PLAYBOOK)
        enabled = [r.name for r in registry.enabled(pb)]
        cancelled = Cancellations()
        aws.client("dynamodb", e.settings).meta.events.register("after-call.dynamodb", cancelled)
        known: set[str] = set()
        by_type: dict[str, Counter[int]] = defaultdict(Counter)
        usual: Counter[int] = Counter()
        reads: Counter[int] = Counter()
        reasons: Counter[str] = Counter()
        reasons_usual: Counter[str] = Counter()
        next_sweep = parse_iso(events[0]["occurred_at"]).replace(hour=3, minute=0, second=0) + timedelta(
            days=1
        )
        sweeps = 0
        for body in events:
            at = parse_iso(body["occurred_at"])
            while next_sweep <= at:
                e.clock.set(next_sweep)
                e.runtime.sweep.run()
                sweeps += 1
                next_sweep += timedelta(days=1)
            e.clock.set(max(at, e.clock.now()))
            customer = body["customer"].get("id") or body["customer"].get("email")
            first = customer not in known
            known.add(customer)
            e.ddb_calls.reset()
            cancelled.seen.clear()
            e.invoke("contacts", sqs_event([bus_body(body)]))
            writes = e.ddb_calls.writes
            by_type[body["type"]][writes] += 1
            reads[e.ddb_calls.reads] += 1
            is_usual = not first and body["type"] != "customer.deleted" and bool(body["customer"].get("id"))
            if is_usual:
                usual[writes] += 1
            for failed in cancelled.seen[:1]:  # the fast path's: what made this event slow
                why = why_not_fast(body, failed, pb)
                reasons[why] += 1
                if is_usual:
                    reasons_usual[why] += 1
        n = len(events)
        total_writes = sum(w * c for counts in by_type.values() for w, c in counts.items())
        usual_n = sum(usual.values())
        at_most_2 = sum(c for w, c in usual.items() if w <= 2)
        return {
            "recipes_enabled": enabled,
            "daily_sweeps_in_between": sweeps,
            "events": n,
            "mix": {
                t: sum(c.values()) for t, c in sorted(by_type.items(), key=lambda kv: -sum(kv[1].values()))
            },
            "write_requests_per_event": round(total_writes / n, 3),
            "usual_events (known contact, customer id, not a deletion)": usual_n,
            "write_requests_per_usual_event": round(
                sum(w * c for w, c in usual.items()) / max(usual_n, 1), 3
            ),
            "usual_events_by_write_requests": {str(w): c for w, c in sorted(usual.items())},
            "usual_events_with_at_most_2_writes": f"{at_most_2 / max(usual_n, 1):.1%}",
            "events_by_read_requests": {str(r): c for r, c in sorted(reads.items())},
            "write_requests_by_type": {
                t: {str(w): c for w, c in sorted(counts.items())} for t, counts in sorted(by_type.items())
            },
            "why_the_fast_path_failed (all events)": dict(reasons.most_common()),
            "why_the_fast_path_failed (usual events)": dict(reasons_usual.most_common()),
        }
