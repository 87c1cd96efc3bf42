"""Bad input through the real route: a clear 4xx or a per-event rejection, never a 5xx, never a
202 whose event later dies in a dead-letter queue; good events of the same batch still count."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.support import order, shop_event, signed


def now(local) -> datetime:
    return datetime.fromisoformat(local.get("/_local/clock")["now"].replace("Z", "+00:00"))


def post(local, body: bytes) -> tuple[int, Any]:
    return local.call("POST", "/v1/shops/demo/events", body, signed(body, at=int(time.time())))


def send(local, events: list[dict[str, Any]]) -> tuple[int, Any]:
    return post(local, json.dumps({"events": events}, ensure_ascii=False).encode())


def customer(n: str) -> dict[str, str]:
    return {"id": f"bad-{n}", "email": f"bad-{n}@example.com"}


def no_dead_letters(local) -> None:
    local.post("/_local/drain")
    assert all(not letters for letters in local.get("/_local/dead-letters").values())


def good(local, n: str) -> dict[str, Any]:
    return order(f"good-{n}", now(local).isoformat(), customer(n), total="1000")


BAD_TIMES = {
    "offset past year 9999": "9999-12-31T23:30:00-01:00",
    "offset before year 1": "0001-01-01T00:30:00+01:00",
    "year 1 in UTC": "0001-01-01T00:00:00Z",
    "year 9999 in UTC": "9999-12-31T00:00:00Z",
    "ten years ahead": "2036-01-05T12:00:00+09:00",
    "before 1970": "1969-12-31T23:59:59Z",
}


@pytest.mark.parametrize("case", BAD_TIMES)
def test_an_implausible_event_time_is_rejected_alone_and_the_good_event_counts(local, case):
    n = case.replace(" ", "-")
    bad = order(f"bad-time-{n}", BAD_TIMES[case], customer(n), total="1000")
    status, answer = send(local, [bad, good(local, n)])
    assert status == 202 and answer["accepted"] == 1, answer
    assert [r["index"] for r in answer["rejected"]] == [0] and "occurred_at" in answer["rejected"][0]["error"]
    no_dead_letters(local)
    contact = local.get(f"/_local/contacts/demo/bad-{n}")
    assert contact["orders_count"] == 1 and contact["last_order_at"] < "2027"  # not pinned in the future


@pytest.mark.parametrize(
    ("body", "words"),
    [
        (b'{"events": ' + b"[" * 400 + b"]" * 400 + b"}", "nested"),
        (b'{"events": [{"id": ' + b"9" * 4000 + b"}]}", "digits"),
        (b'{"events": [{"id": 1e400}]}', ""),
        (b'{"events": [NaN]}', ""),
        (b'{"events": [], "events": []}', ""),
        (b"\xff\xfe{}", ""),
    ],
)
def test_hostile_json_is_a_400_and_writes_nothing(local, body, words):
    status, answer = post(local, body)
    assert status == 400, answer
    assert words in answer["error"]
    no_dead_letters(local)


def with_data(event: dict[str, Any], **data: Any) -> dict[str, Any]:
    return {**event, "data": {**event["data"], **data}}


def test_numbers_that_are_not_ascii_digits_and_boolean_quantities_are_rejected(local):
    base = good(local, "numbers")
    full_width = with_data({**base, "id": "fw"}, total="４９８０")
    boolean = with_data(
        {**base, "id": "bool"}, items=[{"product_id": "p1", "price": "1000", "quantity": True}]
    )
    status, answer = send(local, [full_width, boolean, base])
    assert status == 202 and answer["accepted"] == 1, answer
    assert [r["index"] for r in answer["rejected"]] == [0, 1]
    no_dead_letters(local)
    assert local.get("/_local/contacts/demo/bad-numbers")["total_spent_minor"] == 1000


def test_unbounded_attributes_are_rejected_and_a_hostile_stream_keeps_the_profile_small(local):
    huge = with_data(good(local, "attrs"), **{"blob": "x" * 20_000})
    status, answer = send(local, [huge])
    assert status == 422 and "attributes" in json.dumps(answer), answer
    # many events each at the limits: the profile keeps what it may, and every write succeeds
    at = now(local)
    events = []
    for i in range(60):
        fields = {f"f{i}-{k}": "値" * 40 for k in range(40)}
        events.append(
            shop_event(
                "customer.updated",
                id=f"hostile-{i}",
                occurred_at=(at - timedelta(minutes=60 - i)).isoformat(),
                customer=customer("hostile"),
                data={"first_name": "Hostile", **fields},
            )
        )
    for start in range(0, len(events), 20):
        status, answer = send(local, events[start : start + 20])
        assert status == 202 and answer["accepted"] == 20, answer
    no_dead_letters(local)
    contact = local.get("/_local/contacts/demo/bad-hostile")
    assert contact["events_count"] == 60
    assert len(json.dumps(contact, ensure_ascii=False).encode()) < 400_000


def test_a_refund_larger_than_what_was_spent_never_makes_the_total_negative(local):
    placed = good(local, "refund")
    refund = shop_event(
        "order.refunded",
        id="refund-too-much",
        occurred_at=(now(local) + timedelta(minutes=1)).isoformat(),
        customer=customer("refund"),
        data={"order_id": placed["data"]["order_id"], "amount": "5000", "currency": "JPY"},
    )
    assert send(local, [placed, refund])[0] == 202
    no_dead_letters(local)
    assert local.get("/_local/contacts/demo/bad-refund")["total_spent_minor"] == 0


def test_addresses_ses_cannot_deliver_are_rejected_and_idn_domains_kept_in_idna_form(local):
    at = now(local).isoformat()
    idn = shop_event(
        "customer.updated",
        id="idn",
        occurred_at=at,
        customer={"id": "bad-idn", "email": "hanako@例え.jp"},
        data={"email": "hanako@例え.jp"},
    )
    local_part = shop_event(
        "customer.updated",
        id="smtputf8",
        occurred_at=at,
        customer={"id": "bad-u"},
        data={"email": "ユーザー@example.jp"},
    )
    bidi = shop_event(
        "customer.updated",
        id="bidi",
        occurred_at=at,
        customer={"id": "bad-bidi", "email": "bidi@example.com"},
        data={"email": "bidi@example.com", "first_name": "Ali\u202ece"},
    )
    status, answer = send(local, [idn, local_part, bidi])
    assert status == 202 and answer["accepted"] == 2, answer
    assert [r["index"] for r in answer["rejected"]] == [1]
    no_dead_letters(local)
    assert local.get("/_local/contacts/demo/bad-idn")["email"] == "hanako@xn--r8jz45g.jp"
    assert local.get("/_local/contacts/demo/bad-bidi")["first_name"] == "Alice"


def test_the_window_is_measured_from_receipt_in_business_time(local):
    # a day ahead of the simulated clock is the allowance; a little more is refused
    ahead = now(local) + timedelta(hours=23)
    too_far = now(local) + timedelta(hours=25)
    ok = order("ahead-ok", ahead.astimezone(UTC).isoformat(), customer("ahead"), total="1000")
    late = order("ahead-no", too_far.astimezone(UTC).isoformat(), customer("ahead"), total="1000")
    status, answer = send(local, [ok, late])
    assert status == 202 and [r["index"] for r in answer["rejected"]] == [1], answer


def test_a_shop_id_of_a_bad_shape_is_400_and_an_unknown_shop_401_as_documented(local):
    body = json.dumps({"events": [good(local, "shape")]}).encode()
    headers = signed(body, at=int(time.time()))
    status, answer = local.call("POST", "/v1/shops/Not_A_Shop/events", body, headers)
    assert status == 400 and "shop id" in answer["error"]
    status, answer = local.call("POST", "/v1/shops/nobody-here/events", body, headers)
    assert (status, answer) == (401, {"error": "unauthorized"})
