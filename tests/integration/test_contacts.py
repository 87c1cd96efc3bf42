"""The contacts function: events become profiles, exactly once, whatever the delivery order."""

import copy
import json
import threading
from functools import reduce

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from comeback.aws.contact_store import ContactStore
from comeback.domain import playbook
from comeback.domain.events import parse_event
from comeback.domain.profile import apply, empty
from tests.support import load_json, merged, order, shop_event

HANAKO = {"id": "c-42", "email": "hanako@example.com"}


def bus(engine, *events, shop="demo"):
    # received when it happened: ingest refuses times more than a day after receipt
    return [
        engine.bus_event(e["type"], {"shop_id": shop, "received_at": e["occurred_at"], "event": e})
        for e in events
    ]


def apply_events(engine, *events):
    engine.send_to("contacts", bus(engine, *events))
    return engine.deliver("contacts")


def contact(engine, customer="c-42"):
    return engine.runtime.contacts.find("demo", customer)


def test_the_sample_sqs_event_updates_the_profile(engine):
    answer = engine.invoke("contacts", load_json("lambda/contacts-sqs.json"))
    assert answer == {"batchItemFailures": []}
    profile = contact(engine)
    assert (profile.orders_count, profile.total_spent_minor, profile.currency) == (1, 4980, "JPY")
    assert profile.first_order_at == profile.last_order_at == "2026-11-24T01:15:00.000000Z"
    assert profile.interests == {"tea": 2}


def test_duplicates_change_nothing(engine):
    first = order("o1", "2026-01-01T00:00:00Z", HANAKO)
    apply_events(engine, first, first)
    apply_events(engine, first)
    profile = contact(engine)
    assert (profile.orders_count, profile.total_spent_minor, profile.events_count) == (1, 4980, 1)


def test_an_older_event_arriving_late_never_moves_last_values_back(engine):
    apply_events(engine, order("new", "2026-03-01T00:00:00Z", HANAKO))
    apply_events(engine, order("old", "2025-12-01T00:00:00Z", HANAKO, total="1000"))
    profile = contact(engine)
    assert profile.last_order_at == "2026-03-01T00:00:00.000000Z"
    assert profile.first_order_at == "2025-12-01T00:00:00.000000Z"
    assert (profile.orders_count, profile.total_spent_minor) == (2, 5980)


def test_a_poisoned_record_fails_alone_and_reaches_the_dlq(engine):
    good = bus(engine, order("o1", "2026-01-01T00:00:00Z", HANAKO))[0]
    engine.send_to(
        "contacts", [good, "{not json", {**good, "detail": {"shop_id": "demo", "event": {"id": "x"}}}]
    )
    messages = engine.receive("contacts")
    answer = engine.invoke("contacts", engine.sqs_event("contacts", messages))
    assert len(answer["batchItemFailures"]) == 2
    assert contact(engine).orders_count == 1
    # the local runtime's pollers and AWS both redrive after max_receive_count: check the policy exists
    attributes = engine.sqs.get_queue_attributes(
        QueueUrl=engine.resources.queue_urls["contacts"], AttributeNames=["RedrivePolicy"]
    )["Attributes"]
    assert json.loads(attributes["RedrivePolicy"])["maxReceiveCount"] == 5


class Atomic:
    """DynamoDB applies each request atomically; moto does not lock, so threads can tear its
    read-check-write apart. This proxy gives each request moto's own atomicity back, and keeps
    everything between two requests (our read, our merge, our conditional write) racing."""

    def __init__(self, client):
        self._client, self._lock = client, threading.Lock()
        self.exceptions = client.exceptions

    def __getattr__(self, name):
        method = getattr(self._client, name)

        def call(**kwargs):
            with self._lock:
                return method(**kwargs)

        return call


def test_concurrent_events_for_one_contact_are_all_counted(engine):
    apply_events(
        engine, shop_event("customer.updated", id="u0", occurred_at="2025-12-01T00:00:00Z", customer=HANAKO)
    )
    pb = playbook.default()
    store = ContactStore(Atomic(engine.ddb), engine.settings.table_name, engine.settings.due_shards)
    events = [parse_event(order(f"o{i}", f"2026-01-{1 + i:02d}T00:00:00Z", HANAKO)) for i in range(8)]
    threads = [threading.Thread(target=store.apply, args=("demo", e, pb)) for e in events]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    profile = contact(engine)
    assert (profile.orders_count, profile.total_spent_minor) == (8, 8 * 4980)
    assert profile.last_order_at == "2026-01-08T00:00:00.000000Z"


def test_known_first_by_email_then_by_id_is_one_contact(engine):
    email_only = {"email": "taro@example.com"}
    apply_events(
        engine, shop_event("product.viewed", id="v1", occurred_at="2026-01-01T00:00:00Z", customer=email_only)
    )
    apply_events(engine, order("o1", "2026-01-02T00:00:00Z", {"id": "c-7", "email": "taro@example.com"}))
    apply_events(
        engine, shop_event("product.viewed", id="v2", occurred_at="2026-01-03T00:00:00Z", customer=email_only)
    )
    profile = contact(engine, "c-7")
    assert profile.events_count == 3 and profile.orders_count == 1
    assert contact(engine, "taro@example.com").contact_id == "c-7"
    story = engine.runtime.contacts.story("demo", "c-7")
    assert sorted(i["sk"] for i in story if not i["sk"].startswith("N#")) == [
        "EVT#o1",
        "EVT#v1",
        "EVT#v2",
        "PROFILE",
    ]


def test_known_first_by_id_then_by_email_alone_is_one_contact(engine):
    apply_events(engine, order("o1", "2026-01-02T00:00:00Z", {"id": "c-9", "email": "jiro@example.com"}))
    apply_events(
        engine,
        shop_event(
            "site.visited",
            id="s1",
            occurred_at="2026-01-03T00:00:00Z",
            customer={"email": "jiro@example.com"},
        ),
    )
    assert contact(engine, "c-9").events_count == 2


def test_consent_and_profile_fields_come_from_customer_updated(engine):
    apply_events(engine, shop_event("customer.updated", customer=HANAKO))
    profile = contact(engine)
    assert profile.accepts_marketing is True
    assert (profile.field("first_name"), profile.field("locale"), profile.field("timezone")) == (
        "Hanako",
        "ja",
        "Asia/Tokyo",
    )
    assert profile.field("attr.favourite_tea") == "gyokuro"


def test_erasure_removes_personal_data_and_later_old_events_stay_out(engine):
    apply_events(
        engine, order("o1", "2026-01-01T00:00:00Z", HANAKO), shop_event("customer.updated", customer=HANAKO)
    )
    apply_events(
        engine, shop_event("customer.deleted", id="gdpr", occurred_at="2026-12-10T00:00:00Z", customer=HANAKO)
    )
    apply_events(engine, order("late", "2026-06-01T00:00:00Z", HANAKO))
    text = json.dumps(engine.table_items())
    assert "hanako@example.com" not in text and "Hanako" not in text
    profile = engine.runtime.contacts.get("demo", "c-42")
    assert profile.erased_at and profile.orders_count == 0


@st.composite
def deliveries(draw):
    """A customer's events, some duplicated, delivered in any order."""
    base = [
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
            "customer.updated",
            id="u2",
            occurred_at="2026-02-10T00:00:00Z",
            customer=HANAKO,
            data={"first_name": "Hanako"},
        ),
        shop_event(
            "order.refunded",
            id="r1",
            occurred_at="2026-02-05T00:00:00Z",
            customer=HANAKO,
            data={"order_id": "o2", "amount": "500", "currency": "JPY"},
        ),
    ]
    chosen = draw(st.lists(st.sampled_from(base), min_size=1, max_size=10))
    return base, chosen


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(deliveries())
def test_any_order_and_duplication_gives_the_profile_of_the_distinct_events(engine, case):
    _, delivered = case
    # a fresh start: the contact's partition and the shop's markers of the ids used before
    for item in engine.table_items():
        if item["pk"]["S"].startswith(("SHOP#demo#C#c-42", "SHOP#demo#E#")):
            engine.ddb.delete_item(TableName="comeback", Key={"pk": item["pk"], "sk": item["sk"]})
    apply_events(engine, *[copy.deepcopy(e) for e in delivered])
    distinct = {e["id"]: e for e in delivered}.values()
    expected = reduce(lambda p, e: apply(p, parse_event(e)), distinct, empty("demo", "c-42", "c-42"))
    stored = contact(engine)
    assert merged(stored) == merged(expected)


def test_a_signup_of_a_visitor_known_by_email_is_one_contact(engine):
    visitor = {"email": "yui@example.com"}
    apply_events(
        engine, shop_event("product.viewed", id="v1", occurred_at="2026-01-01T00:00:00Z", customer=visitor)
    )
    signup = shop_event(
        "customer.updated", id="s1", occurred_at="2026-01-02T00:00:00Z", customer={"id": "c-8", **visitor},
        data={"first_name": "Yui", "signed_up_at": "2026-01-02T00:00:00Z", "accepts_marketing": True},
    )  # fmt: skip
    apply_events(engine, signup, signup)
    profile = contact(engine, "c-8")
    assert (profile.events_count, profile.field("first_name"), profile.accepts_marketing) == (2, "Yui", True)
    assert contact(engine, "yui@example.com").contact_id == "c-8"


def test_a_signup_for_a_contact_that_exists_merges_into_it(engine):
    apply_events(engine, order("o1", "2026-01-01T00:00:00Z", HANAKO))
    signup = shop_event(
        "customer.updated", id="s2", occurred_at="2026-01-02T00:00:00Z", customer=HANAKO,
        data={"first_name": "Hanako", "signed_up_at": "2026-01-02T00:00:00Z"},
    )  # fmt: skip
    apply_events(engine, signup)
    profile = contact(engine)
    assert (profile.orders_count, profile.events_count, profile.field("first_name")) == (1, 2, "Hanako")
