"""Erasure and the fold of an email-only contact survive a crash at any step.

A Lambda can die between any two DynamoDB calls (timeout, out of memory, a deploy); SQS then
delivers the message again. `CrashAfter` is a DynamoDB client that dies right after its n-th call,
for every n up to the operation's last call; the redelivery goes through a healthy client, and the
table must end as if nothing had happened.
"""

from __future__ import annotations

import itertools
import json
from collections import deque
from datetime import UTC, datetime
from functools import reduce

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from comeback.aws.contact_store import ContactStore, Outcome
from comeback.domain import playbook
from comeback.domain.events import parse_event
from comeback.domain.profile import apply, email_contact_id, empty
from comeback.recipes import loyalty
from tests.support import merged, order, shop_event

HANAKO = {"id": "c-42", "email": "hanako@example.com"}
NEW_ADDRESS = "hanako.new@example.com"
TARO = "taro@example.com"
PERSONAL = ("hanako", "yamada", "jingumae", "shibuya", "150-0001", "gyokuro", "taro@")


class Crash(Exception):
    """The function died: nothing after this point ran."""


class CrashAfter:
    """A DynamoDB client that dies right after its n-th call has reached DynamoDB."""

    def __init__(self, client, n):
        self._client, self._n = client, n
        self.exceptions = client.exceptions
        self.calls = 0

    def __getattr__(self, name):
        method = getattr(self._client, name)

        def call(**kwargs):
            try:
                return method(**kwargs)
            finally:  # a call that DynamoDB answered with an error is a step too
                self.calls += 1
                if self.calls == self._n:
                    raise Crash(f"after call {self._n} ({name})")

        return call


def store(engine, client=None):
    return ContactStore(client or engine.ddb, engine.settings.table_name, engine.settings.due_shards)


def feed(engine, shop, *raw_events):
    outcomes = [store(engine).apply(shop, parse_event(e), playbook.default()) for e in raw_events]
    return [a.outcome for a in outcomes]


def shop_items(engine, shop):
    prefix = f"SHOP#{shop}#"
    return [i for i in engine.table_items() if i["pk"]["S"].startswith(prefix)]


def crash_then_redeliver(engine, shop, raw_event, n):
    """Apply with a crash after call n; True if it crashed. Then the redelivery, healthy."""
    client = CrashAfter(engine.ddb, n)
    try:
        store(engine, client).apply(shop, parse_event(raw_event), playbook.default())
    except Crash:
        crashed = True
    else:
        crashed = False
    store(engine).apply(shop, parse_event(raw_event), playbook.default())
    return crashed


def known_customer(engine, shop):
    """Hanako: seen first by email alone (folded in), with a name, an address and a later address."""
    feed(
        engine,
        shop,
        shop_event(
            "product.viewed", id="v1", occurred_at="2026-01-01T00:00:00Z", customer={"email": HANAKO["email"]}
        ),
        order("o1", "2026-01-02T00:00:00Z", HANAKO),
        shop_event("customer.updated", id="u1", occurred_at="2026-01-03T00:00:00Z", customer=HANAKO),
        shop_event(
            "customer.updated",
            id="u2",
            occurred_at="2026-01-04T00:00:00Z",
            customer={"id": "c-42", "email": NEW_ADDRESS},
            data={"email": NEW_ADDRESS},
        ),
    )


ERASURE = shop_event("customer.deleted", id="gdpr", occurred_at="2026-02-01T00:00:00Z", customer=HANAKO)


def assert_nothing_personal(engine, shop):
    items = shop_items(engine, shop)
    text = json.dumps(items).lower()
    assert not [word for word in PERSONAL if word in text]
    assert not [i for i in items if "event" in i], "an activity item kept the event's JSON"
    assert not [i for i in items if i["sk"]["S"] == "ALIAS"], "an alias still leads to the contact"
    kinds = sorted({i["sk"]["S"] for i in items})
    assert kinds == ["EVT#gdpr", "PROFILE", "SEEN"]


def test_erasure_interrupted_at_any_step_is_finished_by_the_redelivery(engine):
    steps = 0
    for n in itertools.count(1):
        shop = f"erase{n}"
        known_customer(engine, shop)
        if not crash_then_redeliver(engine, shop, ERASURE, n):
            break  # the erasure needs fewer than n calls: every step has had its crash
        steps = n
        assert_nothing_personal(engine, shop)
        profile = store(engine).get(shop, "c-42")
        assert profile.erased_at == "2026-02-01T00:00:00.000000Z" and profile.orders_count == 0
        assert feed(engine, shop, ERASURE) == [Outcome.DUPLICATE]
    assert steps >= 5  # marker check, read, history query, alias deletes, history deletes, transaction


def test_an_erasure_by_email_alone_interrupted_at_any_step_still_finds_its_contact(engine):
    by_email = {**ERASURE, "customer": {"email": NEW_ADDRESS}}
    for n in itertools.count(1):
        shop = f"byemail{n}"
        known_customer(engine, shop)
        if not crash_then_redeliver(engine, shop, by_email, n):
            break
        assert_nothing_personal(engine, shop)
        assert store(engine).get(shop, "c-42").erased_at


def test_erasure_removes_the_aliases_of_every_address_the_contact_had(engine):
    known_customer(engine, "demo")
    feed(engine, "demo", ERASURE)
    assert_nothing_personal(engine, "demo")
    assert store(engine).resolve_email("demo", HANAKO["email"]) is None
    assert store(engine).resolve_email("demo", NEW_ADDRESS) is None


# -- the fold of an email-only contact ---------------------------------------------------------------
def visitor_and_customer(engine, shop):
    """Taro: two visits known by email only, and an order known by customer id only."""
    visitor = {"email": TARO}
    feed(
        engine,
        shop,
        shop_event("product.viewed", id="v1", occurred_at="2026-01-01T00:00:00Z", customer=visitor),
        shop_event("site.visited", id="v2", occurred_at="2026-01-02T00:00:00Z", customer=visitor),
        order("o0", "2026-01-01T12:00:00Z", {"id": "c-7"}),
    )


FOLD = order("o1", "2026-01-03T00:00:00Z", {"id": "c-7", "email": TARO})


def test_a_fold_interrupted_at_any_step_is_finished_by_the_redelivery(engine):
    visitor_and_customer(engine, "reference")
    feed(engine, "reference", FOLD)
    expected = merged(store(engine).get("reference", "c-7"), "shop_id")
    visitor = email_contact_id(TARO)
    steps = 0
    for n in itertools.count(1):
        shop = f"fold{n}"
        visitor_and_customer(engine, shop)
        if not crash_then_redeliver(engine, shop, FOLD, n):
            break
        steps = n
        contacts = store(engine)
        assert merged(contacts.get(shop, "c-7"), "shop_id") == expected  # nothing lost or twice
        history = sorted(i["sk"] for i in contacts.story(shop, "c-7") if not i["sk"].startswith("N#"))
        assert history == ["EVT#o0", "EVT#o1", "EVT#v1", "EVT#v2", "PROFILE"]
        left = contacts.story(shop, visitor)
        assert [i["sk"] for i in left] == ["PROFILE"] and left[0]["merged_into"] == "c-7"
        assert contacts.resolve_email(shop, TARO) == "c-7"
        revisit = shop_event(
            "product.viewed", id="v1", occurred_at="2026-01-01T00:00:00Z", customer={"email": TARO}
        )
        assert feed(engine, shop, revisit, FOLD) == [Outcome.DUPLICATE, Outcome.DUPLICATE]
    assert steps >= 5  # reads, marker check, history query, copy, delete, transaction


# -- any deliveries, any crashes ------------------------------------------------------------------------
BASE = [
    order("o1", "2026-01-01T00:00:00Z", HANAKO, total="1000"),
    order("o2", "2026-02-01T00:00:00Z", HANAKO, total="2000"),
    shop_event("product.viewed", id="v1", occurred_at="2026-01-15T00:00:00Z", customer=HANAKO),
    shop_event(
        "customer.updated",
        id="u1",
        occurred_at="2026-01-20T00:00:00Z",
        customer=HANAKO,
        data={"first_name": "Hana", "accepts_marketing": False},
    ),
    shop_event(
        "order.refunded",
        id="r1",
        occurred_at="2026-02-05T00:00:00Z",
        customer=HANAKO,
        data={"order_id": "o2", "amount": "500", "currency": "JPY"},
    ),
]
_shops = itertools.count()


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    st.lists(
        st.tuples(st.sampled_from(range(len(BASE))), st.integers(min_value=0, max_value=5)),
        min_size=1,
        max_size=10,
    )
)
def test_duplicated_reordered_and_crashed_deliveries_change_the_contact_once_per_event(engine, plan):
    """Each delivery may crash after its k-th call (0: no crash); a crashed one comes back later."""
    shop = f"prop{next(_shops)}"
    queue = deque(plan)
    while queue:
        index, crash_at = queue.popleft()
        client = CrashAfter(engine.ddb, crash_at) if crash_at else engine.ddb
        try:
            store(engine, client).apply(shop, parse_event(BASE[index]), playbook.default())
        except Crash:
            queue.append((index, 0))  # SQS delivers it again, after the others
    distinct = [BASE[i] for i in dict.fromkeys(i for i, _ in plan)]
    fold = reduce(lambda p, e: apply(p, parse_event(e)), distinct, empty(shop, "c-42", "c-42"))
    stored = store(engine).get(shop, "c-42")
    assert stored is not None and merged(stored) == merged(fold)
    # the loyalty ledger too: each order and refund counted once, whatever the crashes and redeliveries
    later = datetime(2027, 1, 1, tzinfo=UTC)
    points = loyalty.standing(stored, playbook.default(), later)
    orders = [e for e in distinct if e["type"] == "order.placed"]
    refunded = any(e["type"] == "order.refunded" for e in distinct) and any(e["id"] == "o2" for e in orders)
    expected = sum(int(e["data"]["total"]) // 100 for e in orders) - (5 if refunded else 0)
    assert (points["points_balance"], points["points_pending"]) == (expected, 0)
