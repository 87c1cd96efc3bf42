"""Items the sweep reads per due contact, against a Scan of the same table, at two table sizes."""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

from bench.support import engine
from comeback.aws import dynamo, keys
from comeback.domain import playbook
from comeback.domain.clock import isoformat
from comeback.domain.profile import empty


def _fill(e: Any, contacts: int, due_share: float, activity_per_contact: int) -> int:
    """Profiles (a share of them lapsed 91 days ago, so due) and their activity items."""
    ddb = e.runtime.client("dynamodb")
    store = e.runtime.contacts
    pb = playbook.default()
    now = e.clock.now()
    requests = []
    due = 0
    for i in range(contacts):
        lapsed = i < contacts * due_share
        due += lapsed
        at = isoformat(now - timedelta(days=91 if lapsed else 10))
        profile = empty("demo", f"c-{i}", f"c-{i}").model_copy(
            update={"orders_count": 1, "last_activity_at": at, "last_seen_at": at, "first_seen_at": at,
                    "email": {"v": f"c{i}@example.com", "at": at, "id": "e"}, "spent": {"JPY": 4980},
                    "consent": {"v": True, "at": at, "id": "e"}}
        )  # fmt: skip
        requests.append({"PutRequest": {"Item": store.profile_item(profile, 1, pb)}})
        for n in range(activity_per_contact):
            body = {
                keys.PK: keys.contact("demo", f"c-{i}"),
                keys.SK: keys.event(f"e{i}-{n}"),
                "type": "site.visited",
            }
            requests.append({"PutRequest": {"Item": dynamo.item(body)}})
    for start in range(0, len(requests), 25):
        ddb.batch_write_item(RequestItems={"comeback": requests[start : start + 25]})
    return due


def _measure(contacts: int, activity_per_contact: int) -> dict[str, Any]:
    with engine(due_shards=8) as e:
        due = _fill(e, contacts, 0.2, activity_per_contact)
        e.ddb_calls.reset()
        began = time.perf_counter()
        report = e.runtime.sweep.run()
        seconds = time.perf_counter() - began
        queries = e.ddb_calls.calls.get("Query", 0)
        scanned = 0
        pages = e.runtime.client("dynamodb").get_paginator("scan").paginate(TableName="comeback")
        for page in pages:
            scanned += page["ScannedCount"]
        return {
            "table_items": scanned,
            "due_contacts": due,
            "items_read_by_sweep": report.items_read,
            "items_read_per_due_contact": round(report.items_read / max(report.due, 1), 3),
            "scan_items_read_per_due_contact": round(scanned / max(due, 1), 1),
            "query_requests": queries,
            "messages_requested": report.messages,
            "seconds_in_process": round(seconds, 2),
        }


def run() -> dict[str, Any]:
    return {
        "1,000 contacts, 5 activity items each": _measure(1_000, 5),
        "1,000 contacts, 20 activity items each": _measure(1_000, 20),
    }
