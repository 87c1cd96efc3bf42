"""Loyalty: DynamoDB requests per order with loyalty on and off, orders/s in-process, replay cost.

`python -m bench loyalty`. The same orders (customers placing 1 to 12 orders each, a day apart,
fresh: the clock follows them) go through the contacts function in-process against moto, once
with the shipped playbook (loyalty on) and once with `loyalty.enabled: false`. Each order is its
own invocation so its requests are its own; orders that reach a milestone with an offer (the 5th,
the 10th) are counted apart (their reward and email are the next sweep's work, not the order's).
"""

from __future__ import annotations

import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

from bench.support import bus_body, engine, sqs_event
from comeback.aws import clients as aws
from comeback.domain import loyalty as ledger
from comeback.domain import playbook
from comeback.domain.clock import isoformat
from comeback.recipes import loyalty

START = datetime(2026, 1, 5, 3, 0, tzinfo=UTC)
OFF = '{"loyalty": {"enabled": false}}'


def _orders(customers: int) -> list[dict[str, Any]]:
    events = []
    for c in range(customers):
        who = {"id": f"c-{c}", "email": f"c{c}@example.com"}
        profile = {"accepts_marketing": True, "first_name": "Hana"}
        stamp = isoformat(START)
        events.append(
            {
                "id": f"u-{c}",
                "type": "customer.updated",
                "occurred_at": stamp,
                "customer": who,
                "data": profile,
            }
        )
        for n in range(1 + c % 12):
            at = isoformat(START + timedelta(days=n, minutes=c))
            item = {"product_id": "p1", "price": "4980", "quantity": 1}
            data = {"order_id": f"o-{c}-{n}", "total": "4980", "currency": "JPY", "items": [item]}
            events.append(
                {"id": f"o-{c}-{n}", "type": "order.placed", "occurred_at": at, "customer": who, "data": data}
            )
    return sorted(events, key=lambda e: (e["occurred_at"], e["id"]))


def _measure(playbook_yaml: str, customers: int) -> dict[str, Any]:
    events = _orders(customers)
    milestone_counts = {
        m.orders for m in loyalty.settings(playbook.load(playbook_yaml)).milestones if m.offer
    }
    sqs_calls: Counter[str] = Counter()
    with engine(playbook_yaml=playbook_yaml) as e:
        aws.client("sqs", e.settings).meta.events.register(
            "before-call.sqs", lambda model, **_: sqs_calls.update([model.name])
        )
        e.invoke("contacts", sqs_event([bus_body(events[0])]))  # warm the function up
        plain: Counter[str] = Counter()
        rewarded: Counter[str] = Counter()
        plain_n = rewarded_n = 0
        seconds = 0.0
        for body in events[1:]:
            e.clock.set(
                datetime.fromisoformat(body["occurred_at"].replace("Z", "+00:00")) + timedelta(minutes=1)
            )
            e.ddb_calls.reset()
            sqs_calls.clear()
            began = time.perf_counter()
            e.invoke("contacts", sqs_event([bus_body(body)]))
            seconds += time.perf_counter() - began
            if body["type"] != "order.placed":
                continue
            n = int(body["id"].rsplit("-", 1)[1]) + 1
            target, count = (rewarded, "r") if n in milestone_counts else (plain, "p")
            target.update({f"dynamodb.{k}": v for k, v in e.ddb_calls.calls.items()})
            target.update({f"sqs.{k}": v for k, v in sqs_calls.items()})
            if count == "r":
                rewarded_n += 1
            else:
                plain_n += 1
        orders = plain_n + rewarded_n
        return {
            "orders": orders,
            "orders_per_second_in_process": round(orders / seconds, 1) if seconds else None,
            "per_order": {k: round(v / plain_n, 3) for k, v in sorted(plain.items())},
            "per_order_reaching_a_milestone_with_a_reward": (
                {k: round(v / rewarded_n, 3) for k, v in sorted(rewarded.items())} if rewarded_n else {}
            ),
            "orders_reaching_a_rewarded_milestone": rewarded_n,
        }


def _replay(facts_count: int, repeats: int = 20) -> dict[str, Any]:
    rules = loyalty.settings(playbook.default())
    facts = dict(
        ledger.order_fact(f"o{i}", isoformat(START + timedelta(days=i)), 4980, "JPY")
        for i in range(facts_count)
    )
    now = START + timedelta(days=facts_count + 30)
    began = time.perf_counter()
    for _ in range(repeats):
        ledger.replay(facts, rules, now)
    return {"facts": facts_count, "replay_ms": round((time.perf_counter() - began) / repeats * 1000, 3)}


def run(customers: int = 60) -> dict[str, Any]:
    return {
        "loyalty on (shipped playbook)": _measure("", customers),
        "loyalty off": _measure(OFF, customers),
        "replay of one contact's ledger": [_replay(n) for n in (10, 100, 1000)],
    }
