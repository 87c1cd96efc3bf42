"""The hourly sweep on a big table: items read per due contact against a Scan of the same table,
wall time, and the per-item figures the on-paper cost of an hourly sweep at 1M contacts uses.

The table is seeded directly in the stored format (bench/seed.py: contacts the engine built,
copied under other ids through `ContactStore.profile_item`), 1 % of them due in the last hour,
each with its email alias and an activity item per event of its history, as the contacts function
leaves them. The sweep runs as in AWS: one unit per shard (`Sweep.run_unit`), here one after the
other in this process; in AWS they run side by side, so the slowest unit is the sweep's wall time.
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from bench import seed
from bench.support import engine
from comeback.app.sweep import SweepReport, combined
from comeback.aws import clients as aws
from comeback.aws import dynamo, keys
from comeback.domain import playbook
from comeback.domain.clock import isoformat
from comeback.domain.profile import email_key
from comeback.local.emulator import REGION

# The tables each run seeds: contacts, share due, and whether each contact's activity items are
# there too. Moto scans some 1,500 items a second here, so the 100,000-contact table holds profiles
# and email aliases only (its Scan ratio is a lower bound); the 20,000 one is the whole picture.
SIZES = ((20_000, 0.01, True), (100_000, 0.01, False))


def attribute_bytes(value: dict[str, Any]) -> int:
    """A typed DynamoDB value's size by DynamoDB's rules (what read and write units are charged on)."""
    (kind, v), *_ = value.items()
    if kind == "S":
        return len(v.encode())
    if kind == "N":
        digits = len(v.lstrip("-").replace(".", "").lstrip("0")) or 1
        return math.ceil(digits / 2) + 1
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "M":
        return 3 + sum(len(k.encode()) + attribute_bytes(x) for k, x in v.items())
    if kind == "L":
        return 3 + sum(1 + attribute_bytes(x) for x in v)
    if kind in ("SS", "NS"):
        return sum(attribute_bytes({kind[0]: x}) for x in v)
    raise ValueError(f"no size rule for {kind}")


def item_bytes(item: dict[str, Any]) -> int:
    return sum(len(name.encode()) + attribute_bytes(value) for name, value in item.items())


@dataclass
class Timer:
    """Seconds spent inside AWS calls (moto, in this process), to tell them from our own code's."""

    seconds: float = 0.0
    _started: dict[int, float] = field(default_factory=dict)
    query_pages: list[int] = field(default_factory=list)  # bytes of the items of each Query page

    def before(self, **kwargs: Any) -> None:
        self._started[id(kwargs.get("context"))] = time.perf_counter()

    def after(self, model: Any, parsed: dict[str, Any], **kwargs: Any) -> None:
        began = self._started.pop(id(kwargs.get("context")), None)
        if began is not None:
            self.seconds += time.perf_counter() - began
        if model.name == "Query" and "Items" in parsed:
            self.query_pages.append(sum(item_bytes(i) for i in parsed["Items"]))


@contextmanager
def timed(e: Any, services: tuple[str, ...] = ("dynamodb", "sqs", "events")) -> Iterator[Timer]:
    timer = Timer()
    for service in services:
        events = aws.client(service, e.settings).meta.events
        events.register(f"before-call.{service}", timer.before)
        events.register(f"after-call.{service}", timer.after)
    try:
        yield timer
    finally:
        for service in services:
            events = aws.client(service, e.settings).meta.events
            events.unregister(f"before-call.{service}", timer.before)
            events.unregister(f"after-call.{service}", timer.after)


def _fill(e: Any, contacts: int, due_share: float, activity: bool) -> dict[str, Any]:
    pb = playbook.default()
    now = e.clock.now()
    built = time.perf_counter()
    templates = seed.templates(pb, now)
    store = e.runtime.contacts
    ddb = e.runtime.client("dynamodb")
    rng = random.Random(contacts)
    due = round(contacts * due_share)
    requests: list[dict[str, Any]] = []
    profile_bytes = 0
    written = 0

    def flush(force: bool = False) -> None:
        nonlocal requests, written
        while len(requests) >= 25 or (force and requests):
            batch, requests = requests[:25], requests[25:]
            answer = ddb.batch_write_item(RequestItems={"comeback": batch})
            assert not answer.get("UnprocessedItems"), "moto does not throttle"
            written += len(batch)

    for i in range(contacts):
        contact = f"c-{i}"
        template = rng.choice(templates.due if i < due else templates.calm)
        profile = seed.copy_of(template, contact)
        item = store.profile_item(profile, profile.events_count + 1, pb)
        profile_bytes += item_bytes(item)
        pk = keys.contact("demo", contact)
        requests.append({"PutRequest": {"Item": item}})
        alias = {keys.PK: keys.email_alias("demo", email_key(f"{contact}@example.com")), keys.SK: keys.ALIAS,
                 "contact_id": contact, "shop_id": "demo"}  # fmt: skip
        requests.append({"PutRequest": {"Item": dynamo.item(alias)}})
        # an activity item per event applied, as the contacts function writes it (without the seen
        # markers, which live under their own keys and only make a Scan longer still)
        for n in range(profile.events_count if activity else 0):
            at = isoformat(now)
            body = {
                keys.PK: pk,
                keys.SK: keys.event(f"{contact}-{n}"),
                "type": "order.placed",
                "occurred_at": at,
            }
            requests.append({"PutRequest": {"Item": dynamo.item(body)}})
        flush()
    flush(force=True)
    return {
        "due": due,
        "items_written": written,
        "due_templates": len(templates.due),
        "calm_templates": len(templates.calm),
        "profile_item_bytes_mean": round(profile_bytes / contacts),
        "seconds_seeding": round(time.perf_counter() - built, 1),
    }


def scan_by_pages(e: Any) -> tuple[int, int]:
    """Items and bytes a paged Scan of the whole table reads (through the API)."""
    items = size = 0
    for page in e.runtime.client("dynamodb").get_paginator("scan").paginate(TableName="comeback"):
        items += page["ScannedCount"]
        size += sum(item_bytes(i) for i in page["Items"])
    return items, size


def scan_by_walk() -> tuple[int, int]:
    """What a Scan reads (every item, whole), walked in moto's own table in this process.

    Moto's paged Scan walks the table from its start for every 1 MB page, so it takes quadratic
    time: some 15 minutes for 200,000 items here. A Scan reads every item of the table whole,
    so walking them once gives the same items and bytes (tests/integration/test_bench_scan.py
    checks the two agree)."""
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.dynamodb.models import dynamodb_backends

    table = dynamodb_backends[DEFAULT_ACCOUNT_ID][REGION].tables["comeback"]
    items = size = 0
    for item in table.all_items():
        items += 1
        size += item_bytes(item.to_json()["Attributes"])
    return items, size


def _scan(e: Any) -> tuple[int, int, float]:
    began = time.perf_counter()
    items, size = scan_by_walk()
    return items, size, time.perf_counter() - began


def measure(contacts: int, due_share: float, activity: bool, due_shards: int = 8) -> dict[str, Any]:
    with engine(due_shards=due_shards) as e:
        seeded = _fill(e, contacts, due_share, activity)
        sweep = e.runtime.sweep
        e.ddb_calls.reset()
        units: list[tuple[SweepReport, float]] = []
        now = isoformat(e.clock.now())
        with timed(e) as timer:
            began = time.perf_counter()
            for shard in keys.all_due_shards(due_shards):
                started = time.perf_counter()
                report = sweep.run_unit({"shard": shard, "now": now, "cursor": None})
                units.append((report, time.perf_counter() - started))
            seconds = time.perf_counter() - began
        report = combined([r for r, _ in units])
        calls = dict(e.ddb_calls.calls)
        aws_seconds = timer.seconds
        query_rru = sum(math.ceil(b / 4096) * 0.5 for b in timer.query_pages)  # eventually consistent
        scanned, scan_bytes, scan_seconds = _scan(e)
        scan_rru = math.ceil(scan_bytes / 4096) * 0.5
        per_due = report.items_read / max(report.due, 1)
        return {
            "contacts": contacts,
            "table_holds": "profiles, email aliases" + (", activity items" if activity else ""),
            "table_items": scanned,
            "due_contacts_seeded": seeded["due"],
            "due_contacts_swept": report.due,
            "advanced": report.advanced,
            "messages_requested": report.messages,
            "campaigns": report.campaigns,
            "rewards_issued": report.rewards_issued,
            "items_read_by_sweep": report.items_read,
            "items_read_per_due_contact": round(per_due, 3),
            "scan_items_read_per_due_contact": round(scanned / max(report.due, 1), 1),
            "scan_over_sweep_items_ratio": round(scanned / max(report.items_read, 1), 1),
            "query_pages": len(timer.query_pages),
            "query_rru": query_rru,
            "query_rru_per_due_contact": round(query_rru / max(report.due, 1), 3),
            "scan_rru": scan_rru,
            "profile_item_bytes_mean": seeded["profile_item_bytes_mean"],
            "due_item_bytes_mean": round(sum(timer.query_pages) / max(report.items_read, 1)),
            "dynamodb_calls": calls,
            "sweep_seconds_all_units_in_process": round(seconds, 2),
            "slowest_unit_seconds": round(max(s for _, s in units), 2),
            "seconds_inside_aws_calls (moto)": round(aws_seconds, 2),
            "own_code_ms_per_due_contact": round((seconds - aws_seconds) * 1000 / max(report.due, 1), 2),
            "scan_walk_seconds": round(scan_seconds, 1),
            "seconds_seeding": seeded["seconds_seeding"],
            "items_written_seeding": seeded["items_written"],
        }


def run() -> dict[str, Any]:
    return {
        f"{n:,} contacts, {share:.0%} due{'' if activity else ', no activity items'}": measure(
            n, share, activity
        )
        for n, share, activity in SIZES
    }
