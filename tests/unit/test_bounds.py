"""Hostile input stays bounded: safe JSON, bounded attributes, profiles under DynamoDB's item limit."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from comeback.app.ingest import Ingest
from comeback.aws import dynamo
from comeback.domain import jsonsafe
from comeback.domain.clock import FixedClock
from comeback.domain.events import MAX_ATTRIBUTES, MAX_ATTRIBUTES_BYTES, InvalidEvent, parse_event
from comeback.domain.profile import (
    MAX_FIELDS,
    MAX_INTERESTS,
    MAX_MONTHS,
    MAX_PRODUCTS,
    apply,
    delta,
    empty,
    growth_limits,
    merge,
)
from tests.support import DEMO_SECRET, shop_event, signed

NOW = datetime(2026, 11, 24, 1, 15, tzinfo=UTC)
WIDE = "𠮷"  # four bytes in UTF-8: the worst case for a character-counted limit
DYNAMODB_ITEM_LIMIT = 400 * 1024


def dynamodb_size(typed: dict[str, Any]) -> int:
    """An item's size as DynamoDB counts it: names and values in UTF-8 bytes, numbers by digits,
    3 bytes per list or map plus 1 per element (docs: 'Item sizes and formats')."""
    return sum(len(name.encode()) + _value_size(value) for name, value in typed.items())


def _value_size(typed: dict[str, Any]) -> int:
    ((kind, value),) = typed.items()
    if kind == "S":
        return len(value.encode())
    if kind == "N":
        digits = Decimal(value).normalize().as_tuple().digits
        return (len(digits) + 1) // 2 + 1
    if kind == "B":
        return len(value)
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "SS":
        return sum(len(v.encode()) for v in value)
    if kind == "NS":
        return sum(_value_size({"N": v}) for v in value)
    if kind == "L":
        return 3 + sum(_value_size(v) + 1 for v in value)
    if kind == "M":
        return 3 + sum(len(k.encode()) + _value_size(v) + 1 for k, v in value.items())
    raise AssertionError(kind)


# -- safe JSON ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("[" * 300 + "]" * 300, "nested deeper"),
        ('{"a":' * 100_000 + "1" + "}" * 100_000, "nested deeper"),
        ('{"n": ' + "9" * 4000 + "}", "digits"),
        ('{"n": ' + "1" * 39 + "}", "digits"),
        ('{"n": 1e400}', "range"),
        ('{"n": 1e-200}', "range"),
        ('{"n": NaN}', "NaN"),
        ('{"n": -Infinity}', "Infinity"),
        ('{"a": 1, "a": 2}', "duplicate"),
        ("{'a': 1}", "not JSON"),
    ],
)
def test_json_beyond_the_limits_is_refused_with_the_reason(text, why):
    with pytest.raises(jsonsafe.UnsafeJson, match=why):
        jsonsafe.loads(text.encode())


def test_json_within_the_limits_reads_as_the_standard_module_does():
    text = json.dumps(
        {"a": [1, -2.5, "x[{", "]]]}"], "n": 10**37, "z": 0.1, "deep": [[[[[[[[[[]]]]]]]]]], "u": "例"}
    )
    assert jsonsafe.loads(text.encode()) == json.loads(text)


def test_brackets_inside_strings_do_not_count_as_depth():
    assert jsonsafe.loads(json.dumps({"s": "[" * 1000 + '\\"{'}).encode()) == {"s": "[" * 1000 + '\\"{'}


def test_a_body_that_is_not_utf8_is_refused():
    with pytest.raises(jsonsafe.UnsafeJson, match="UTF-8"):
        jsonsafe.loads(b'{"a": "\xff"}')


class Secrets:
    def signing_secrets(self, shop_id):
        return [DEMO_SECRET]

    def platform_secret(self, shop_id, platform):
        return None


class Bus:
    def __init__(self):
        self.published = []

    def publish(self, entries):
        self.published.extend(entries)


def receive(body: bytes, bus: Bus | None = None):
    clock = FixedClock(NOW)
    ingest = Ingest(Secrets(), bus or Bus(), clock, max_body_bytes=256 * 1024, tolerance_seconds=300)
    return ingest.receive("demo", signed(body, at=int(NOW.timestamp())), body)


@pytest.mark.parametrize(
    "value",
    [
        "[" * 300 + "]" * 300,  # pydantic's serialiser: "Maximum serialization depth exceeded"
        '{"a":' * 2000 + "1" + "}" * 2000,
        "9" * 5000,  # beyond Python's own 4,300-digit limit: a ValueError json did not wrap
        "1e400",
    ],
)
def test_hostile_json_inside_an_event_is_a_400_not_a_500(value):
    event = json.dumps(shop_event("customer.updated", data={"first_name": "Hanako", "x": "HOLE"}))
    body = ('{"events": [' + event.replace('"HOLE"', value) + "]}").encode()
    bus = Bus()
    answer = receive(body, bus)
    assert answer.status == 400 and bus.published == []


# -- what one event may carry ---------------------------------------------------------------


def customer_updated(data: dict[str, Any], event_id: str = "u1", at: datetime = NOW) -> dict[str, Any]:
    return shop_event("customer.updated", id=event_id, occurred_at=at.isoformat(), data=data)


@pytest.mark.parametrize(
    ("attributes", "why"),
    [
        ({f"k{i}": i for i in range(MAX_ATTRIBUTES + 1)}, "at most"),
        ({"note": "x" * MAX_ATTRIBUTES_BYTES}, "bytes"),
        ({"k" * 65: 1}, "longer than"),
        ({"a": {"b": {"c": {"d": {"e": 1}}}}}, "deeper"),
        ({"tags": [WIDE * 500] * 5}, "tags take"),
    ],
)
def test_unknown_fields_beyond_the_bounds_refuse_the_event(attributes, why):
    with pytest.raises(InvalidEvent, match=why):
        parse_event(customer_updated({"first_name": "Hanako", **attributes}))


def test_unknown_fields_within_the_bounds_are_kept():
    event = parse_event(customer_updated({"plan": {"tier": ["gold"]}, "n": 3}))
    assert event.data.attributes == {"plan": {"tier": ["gold"]}, "n": 3}


# -- what a profile keeps -------------------------------------------------------------------


def hostile_stream(count: int, seed: int = 7) -> list[dict[str, Any]]:
    """Events built to grow a profile as far as each accepted event allows."""
    rng = random.Random(seed)
    events: list[dict[str, Any]] = []
    for n in range(count):
        at = (NOW - timedelta(days=count) + timedelta(hours=n)).isoformat()
        kind = n % 3
        if kind == 0:
            attributes = {f"a{n}-{i}-{WIDE * 50}"[:64]: WIDE * 250 for i in range(6)}
            data = {
                "first_name": WIDE * 512,
                "last_name": WIDE * 512,
                "tags": [f"{i}{WIDE * 250}" for i in range(8)],
                "address": {"line1": WIDE * 512, "city": WIDE * 512, "region": WIDE * 512},
                **attributes,
            }
            events.append(customer_updated(data, f"u{n}", datetime.fromisoformat(at)))
        elif kind == 1:
            items = [
                {
                    "product_id": f"{n:03d}-{i:03d}-{WIDE * 119}",
                    "category": f"{rng.random():.6f}{WIDE * 500}",
                    "price": "1",
                    "quantity": rng.randint(1, 5),
                }
                for i in range(100)
            ]
            order = {"order_id": f"o{n}", "total": "100", "currency": "JPY", "items": items}
            events.append(shop_event("order.placed", id=f"o{n}", occurred_at=at, data=order))
        else:
            product = {"product_id": f"v{n}", "name": WIDE * 512, "category": f"{n}{WIDE * 500}"}
            events.append(shop_event("product.viewed", id=f"v{n}", occurred_at=at, data=product))
    return events


def profile_size(profile) -> int:
    return dynamodb_size(dynamo.item(profile.model_dump(mode="python")))


def test_a_hostile_stream_leaves_the_profile_bounded_and_under_dynamodbs_item_limit():
    profile = empty("demo", "c-42", "c-42")
    for raw in hostile_stream(150):
        profile = apply(profile, parse_event(raw, NOW))
    assert len(profile.fields) <= MAX_FIELDS
    assert len(profile.products) == MAX_PRODUCTS
    assert len(profile.interests) == MAX_INTERESTS
    size = profile_size(profile)
    assert size < DYNAMODB_ITEM_LIMIT * 0.75, size


def test_the_newest_unknown_fields_are_the_ones_kept():
    profile = empty("demo", "c-42", "c-42")
    for n in range(100):
        at = NOW - timedelta(minutes=100 - n)
        profile = apply(profile, parse_event(customer_updated({f"k{n}": n}, f"u{n}", at)))
    kept = sorted(int(name.removeprefix("attr.k")) for name in profile.fields)
    assert kept == list(range(100 - MAX_FIELDS, 100))


def test_cut_profiles_still_merge_in_any_order():
    deltas = [delta(parse_event(raw, NOW), "demo", "c-42") for raw in hostile_stream(60, seed=3)]
    forward = empty("demo", "c-42", "c-42")
    for change in deltas:
        forward = merge(forward, change)
    shuffled = list(deltas)
    random.Random(1).shuffle(shuffled)
    backward = empty("demo", "c-42", "c-42")
    for change in shuffled:
        backward = merge(change, backward)
    assert forward.products == backward.products and forward.fields == backward.fields


def test_the_fast_path_limits_leave_room_for_exactly_what_the_event_adds():
    change = delta(parse_event(hostile_stream(2)[1], NOW), "demo", "c-42")
    limits = growth_limits(change)
    assert limits == {
        "products": MAX_PRODUCTS - len(change.products),
        "interests": MAX_INTERESTS - len(change.interests),
        "order_months": MAX_MONTHS - 1,  # an order adds one month of orders and one of spend
        "spent_months": MAX_MONTHS - 1,
    }
    assert all(most >= 0 for most in limits.values())
