"""Issue 2's end-to-end story, over HTTP only, against `comeback local serve`."""

from __future__ import annotations

import base64
import json
import time
from datetime import datetime

import pytest

from tests.support import DEMO_SECRET, order, shop_event, signed

pytestmark = pytest.mark.e2e

HANAKO = {"id": "c-42", "email": "hanako@example.com"}


def now(local) -> datetime:
    return datetime.fromisoformat(local.get("/_local/clock")["now"].replace("Z", "+00:00"))


def send(local, events=None, raw=None, secret=DEMO_SECRET, shop="demo", skew=0, headers=None):
    body = raw if raw is not None else json.dumps({"events": events}, ensure_ascii=False).encode()
    sent_headers = headers if headers is not None else signed(body, secret=secret, at=int(time.time()) + skew)
    return local.call("POST", f"/v1/shops/{shop}/events", body, sent_headers)


def nothing_written(local):
    queues = local.get("/_local/queues")
    assert all(not any(q.values()) for q in queues.values()), queues
    assert local.call("GET", "/_local/contacts/demo/refused-1")[0] == 404
    assert local.get("/_local/outbox") == []


def test_signed_events_become_a_profile(local):
    at = now(local).isoformat()
    status, answer = send(
        local,
        [
            shop_event(
                "customer.updated",
                id="u1",
                occurred_at=at,
                customer=HANAKO,
                data={
                    "first_name": "Hanako",
                    "last_name": "Yamada",
                    "locale": "ja",
                    "accepts_marketing": True,
                },
            ),
            order("o2", at, HANAKO, total="6800"),
            {"id": "broken", "type": "order.placed"},
        ],
    )
    assert status == 202 and answer["accepted"] == 2 and [r["index"] for r in answer["rejected"]] == [2]
    local.post("/_local/drain")
    contact = local.get("/_local/contacts/demo/c-42")
    assert (contact["orders_count"], contact["total_spent_minor"], contact["currency"]) == (1, 6800, "JPY")
    assert contact["subscribed"] is True and contact["suppressed"] is False and contact["stage"] == "active"
    assert local.get("/_local/contacts/demo/hanako@example.com")["contact_id"] == "c-42"


@pytest.mark.parametrize(
    ("case", "status"),
    [
        ("not_json", 400),
        ("no_events", 400),
        ("bad_signature", 401),
        ("stale", 401),
        ("future", 401),
        ("unknown_shop", 401),
        ("unsigned", 401),
        ("oversized", 413),
        ("all_invalid", 422),
        ("bus_down", 503),
    ],
)
def test_every_refusal_answers_per_the_contract_and_writes_nothing(local, case, status):
    local.post("/_local/drain")
    before = local.get("/_local/contacts/demo/c-42")
    refused = [
        order("refused-order", now(local).isoformat(), {"id": "refused-1", "email": "nobody@example.com"})
    ]
    if case == "not_json":
        answer = send(local, raw=b"{nope")
    elif case == "no_events":
        answer = send(local, raw=b'{"evnts": []}')
    elif case == "bad_signature":
        answer = send(local, refused, secret="whsec_" + base64.b64encode(b"guess").decode())
    elif case == "stale":
        answer = send(local, refused, skew=-301)
    elif case == "future":
        answer = send(local, refused, skew=301)
    elif case == "unknown_shop":
        answer = send(local, refused, shop="someone-else")
    elif case == "unsigned":
        answer = send(local, refused, headers={"content-type": "application/json"})
    elif case == "oversized":
        answer = send(local, raw=json.dumps({"events": refused, "pad": "x" * (256 * 1024)}).encode())
    elif case == "all_invalid":
        answer = send(local, [{"id": "x", "type": "order.placed", "customer": {"id": "refused-1"}}])
    else:
        local.post("/_local/faults", {"bus_refusals": 100})
        answer = send(local, refused)
        local.post("/_local/faults", {"bus_refusals": 0})
    assert answer[0] == status, answer
    local.post("/_local/drain")
    nothing_written(local)
    assert local.get("/_local/contacts/demo/c-42") == before


def test_a_replayed_duplicate_changes_nothing(local):
    before = local.get("/_local/contacts/demo/c-42")
    replay = order("o2", "2026-01-05T03:00:00Z", HANAKO, total="6800")
    assert send(local, [replay, replay])[0] == 202
    local.post("/_local/drain")
    assert local.get("/_local/contacts/demo/c-42") == before


def test_out_of_order_events_never_move_last_values_back(local):
    contact = local.get("/_local/contacts/demo/c-42")
    assert send(local, [order("o1", "2025-12-01T10:00:00+09:00", HANAKO, total="1200")])[0] == 202
    local.post("/_local/drain")
    after = local.get("/_local/contacts/demo/c-42")
    assert after["last_order_at"] == contact["last_order_at"]
    assert after["last_activity_at"] == contact["last_activity_at"]
    assert after["first_order_at"] == "2025-12-01T01:00:00.000000Z"
    assert (after["orders_count"], after["total_spent_minor"]) == (2, 8000)


def test_91_days_later_two_sweeps_send_exactly_one_winback_with_one_click_headers(local):
    assert local.get("/_local/outbox") == []
    local.post("/_local/clock", {"advance_days": 91})
    first = local.post("/_local/sweep")
    second = local.post("/_local/sweep")
    assert first["drained"] and second["drained"]
    outbox = local.get("/_local/outbox")
    assert len(outbox) == 1, outbox
    (email,) = outbox
    assert (email["to"], email["campaign"], email["step"]) == ("hanako@example.com", "winback", 1)
    assert email["headers"]["List-Unsubscribe"].startswith(f"<{local.base}/v1/unsubscribe/")
    assert email["headers"]["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert "Hanako" in email["subject"] and email["text"] and email["html"]
    assert local.get("/_local/contacts/demo/c-42")["winback_steps_sent"] == 1


def test_signatures_are_judged_on_real_time_after_the_simulated_clock_moves(local):
    # a shop's signer stamps with real time: moving business time must not make its requests stale
    local.post("/_local/clock", {"advance_days": 30})
    at = now(local).isoformat()
    event = order("after-clock-move", at, {"id": "clock-1", "email": "clock@example.com"})
    assert send(local, [event])[0] == 202
    assert send(local, [event], skew=-301)[0] == 401
    assert send(local, [event], skew=300)[0] == 202
