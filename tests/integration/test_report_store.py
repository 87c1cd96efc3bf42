"""`DynamoCampaignRecords` on moto: it reads back what the producers wrote, as the fake does.

The records are written by the real producers (the contacts store applies the orders, the message
store claims, sends, skips and notes), so a change to their item format breaks this test rather
than the report.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import boto3
import pytest
from moto import mock_aws

from comeback.aws import keys
from comeback.aws.contact_store import ContactStore
from comeback.aws.message_store import MessageStore
from comeback.aws.report_store import DynamoCampaignRecords
from comeback.domain.campaign_report import MessageRecord, Order, Records, build_report
from comeback.domain.events import parse_event
from comeback.domain.messages import MessageRequest
from tests.fakes.campaign_records import InMemoryCampaignRecords
from tests.support import order

TABLE = "comeback-report"
T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
DAY = timedelta(days=1)


@pytest.fixture
def ddb() -> Iterator[Any]:
    with mock_aws():
        client: Any = boto3.client("dynamodb", region_name="us-east-1")
        client.create_table(**keys.table_definition(TABLE))
        yield client


def _request(
    contact: str, step: int, at: datetime, campaign: str = "winback", shop: str = "acme"
) -> MessageRequest:
    return MessageRequest(
        shop_id=shop, contact_id=contact, campaign=campaign, step=step, period="2025-12-01", requested_at=at
    )


def _send(messages: MessageStore, request: MessageRequest) -> None:
    assert messages.claim(request, request.requested_at).won
    messages.mark_sent(request, f"ses-{request.contact_id}-{request.step}", request.requested_at)


def _order(contacts: ContactStore, shop: str, customer: str, event_id: str, at: datetime, total: str) -> str:
    """The event's history item exactly as the contacts store writes it (its own Put), without the
    profile update around it: the report reads the history only."""
    event: Any = parse_event(order(event_id, at.isoformat(), {"id": customer}, total))
    put = contacts._activity_put(keys.contact(shop, customer), event)["Put"]
    contacts._ddb.put_item(TableName=put["TableName"], Item=put["Item"])
    return customer


def _write_scenario(ddb: Any) -> tuple[list[MessageRecord], list[Order]]:
    """Producers write a small campaign; returns what the report should read back."""
    messages = MessageStore(ddb, TABLE)
    contacts = ContactStore(ddb, TABLE, 4)
    expected_messages, expected_orders = [], []
    for contact, shop in (("t1", "acme"), ("t2", "acme"), ("o1", "other")):
        request = _request(contact, 1, T0, shop=shop)
        _send(messages, request)
        expected_messages.append(
            MessageRecord(shop, contact, "winback", 1, "2025-12-01", "sent", T0, sent_at=T0)
        )
    # SES feedback on t1's message, first time only
    messages.note("acme", "t1", "winback#1#2025-12-01", {"delivered_at": "2026-03-01T09:05:00.000000Z"})
    messages.note("acme", "t1", "winback#1#2025-12-01", {"opened_at": "2026-03-02T10:00:00.000000Z"})
    messages.note("acme", "t1", "winback#1#2025-12-01", {"clicked_at": "2026-03-02T10:01:00.000000Z"})
    expected_messages[0] = MessageRecord(
        "acme",
        "t1",
        "winback",
        1,
        "2025-12-01",
        "sent",
        T0,
        sent_at=T0,
        delivered_at=datetime(2026, 3, 1, 9, 5, tzinfo=UTC),
        opened_at=datetime(2026, 3, 2, 10, 0, tzinfo=UTC),
        clicked_at=datetime(2026, 3, 2, 10, 1, tzinfo=UTC),
    )
    # the step-2 message of t1 carries a variant (the recipe writes it with the record)
    step2 = _request("t1", 2, T0 + 45 * DAY)
    _send(messages, step2)
    ddb.update_item(
        TableName=TABLE,
        Key={"pk": {"S": keys.contact("acme", "t1")}, "sk": {"S": keys.message(step2.key)}},
        UpdateExpression="SET variant = :v",
        ExpressionAttributeValues={":v": {"S": "price"}},
    )
    expected_messages.append(
        MessageRecord(
            "acme",
            "t1",
            "winback",
            2,
            "2025-12-01",
            "sent",
            T0 + 45 * DAY,
            variant="price",
            sent_at=T0 + 45 * DAY,
        )
    )
    for contact, reason in (("h1", "holdout"), ("u1", "unsubscribed")):
        assert messages.skip(_request(contact, 1, T0), reason, T0)
        expected_messages.append(
            MessageRecord("acme", contact, "winback", 1, "2025-12-01", "skipped", T0, reason)
        )
    # another campaign's message: not this report's
    _send(messages, _request("t2", 1, T0, campaign="birthday"))
    # orders (and a visit, which is not one)
    for shop, customer, event_id, at, total, minor in (
        ("acme", "t1", "o-1", T0 + 10 * DAY, "4980", 4980),
        ("acme", "h1", "o-2", T0 + 20 * DAY, "1200", 1200),
        ("other", "o1", "o-3", T0 + 5 * DAY, "700", 700),
        ("acme", "t2", "o-old", datetime(2025, 6, 1, tzinfo=UTC), "300", 300),
    ):
        contact_id = _order(contacts, shop, customer, event_id, at, total)
        expected_orders.append(Order(shop, contact_id, at, minor, "JPY"))
    visit: Any = parse_event(
        {
            "id": "v-1",
            "type": "site.visited",
            "occurred_at": T0.isoformat(),
            "customer": {"id": "t2"},
            "data": {},
        }
    )
    put = contacts._activity_put(keys.contact("acme", "t2"), visit)["Put"]
    ddb.put_item(TableName=TABLE, Item=put["Item"])
    # a profile item and a shop's config share the table and are not the report's
    ddb.put_item(TableName=TABLE, Item={"pk": {"S": keys.contact("acme", "t1")}, "sk": {"S": keys.PROFILE}})
    ddb.put_item(TableName=TABLE, Item={"pk": {"S": keys.shop("acme")}, "sk": {"S": keys.CONFIG}})
    return expected_messages, expected_orders


def _same(found: Records, expected: Records) -> None:
    key = lambda m: (m.shop_id, m.contact_id, m.step)  # noqa: E731
    assert sorted(found.messages, key=key) == sorted(expected.messages, key=key)
    assert sorted(found.orders, key=lambda o: o.occurred_at) == sorted(
        expected.orders, key=lambda o: o.occurred_at
    )


@pytest.mark.parametrize(
    ("shop_id", "since"),
    [(None, None), ("acme", None), ("other", None), ("acme", date(2026, 3, 1)), (None, date(2026, 4, 1))],
)
def test_the_adapter_reads_what_the_producers_wrote_as_the_fake_does(
    ddb: Any, shop_id: str | None, since: date | None
) -> None:
    messages, orders = _write_scenario(ddb)
    fake = InMemoryCampaignRecords(messages, orders)
    found = DynamoCampaignRecords(ddb, TABLE).records(shop_id, "winback", since)
    _same(found, fake.records(shop_id, "winback", since))
    as_of = T0 + 400 * DAY
    assert build_report(found, shop_id=shop_id, since=since, as_of=as_of) == build_report(
        fake.records(shop_id, "winback", since), shop_id=shop_id, since=since, as_of=as_of
    )


def test_another_campaign_reads_its_own_records(ddb: Any) -> None:
    _write_scenario(ddb)
    found = DynamoCampaignRecords(ddb, TABLE).records("acme", "birthday", None)
    assert [(m.contact_id, m.campaign) for m in found.messages] == [("t2", "birthday")]


def test_a_small_page_size_reads_every_page_and_returns_only_the_campaigns_items(ddb: Any) -> None:
    messages, orders = _write_scenario(ddb)
    store = DynamoCampaignRecords(ddb, TABLE, page_size=3)
    found = store.records(None, "winback", None)
    _same(found, Records(tuple(messages), tuple(orders)))
    total = ddb.scan(TableName=TABLE, Select="COUNT")["Count"]
    assert store.pages > total // 3
    assert store.scanned == total
    assert store.returned == len(messages) + len(orders) < total


def test_the_scan_projects_only_the_attributes_the_report_reads(ddb: Any) -> None:
    _write_scenario(ddb)
    calls: list[dict[str, Any]] = []

    class Recording:
        def scan(self, **kwargs: Any) -> Any:
            calls.append(kwargs)
            answer = ddb.scan(**kwargs)
            for item in answer["Items"]:
                # neither the profile's nor the message's other attributes (ses id, topic ...) come back
                assert set(item) <= {
                    "pk", "sk", "shop_id", "contact_id", "campaign", "step", "period", "status", "reason",
                    "requested_at", "sent_at", "variant", "timing", "delivered_at", "opened_at",
                    "clicked_at", "type", "occurred_at", "event",
                }  # fmt: skip
            return answer

    DynamoCampaignRecords(Recording(), TABLE).records("acme", "winback", None)
    assert calls and all("ProjectionExpression" in c and "FilterExpression" in c for c in calls)


def test_an_order_kept_without_its_event_is_counted_as_unreadable_not_guessed(ddb: Any) -> None:
    ddb.put_item(
        TableName=TABLE,
        Item={
            "pk": {"S": keys.contact("acme", "gone")},
            "sk": {"S": keys.event("o-9")},
            "type": {"S": "order.placed"},
            "occurred_at": {"S": "2026-03-05T00:00:00.000000Z"},
        },
    )
    found = DynamoCampaignRecords(ddb, TABLE).records("acme", "winback", None)
    assert found.orders == () and found.unreadable_orders == 1


def test_the_timing_of_a_message_is_read_back_and_an_item_without_one_reads_as_none(ddb: Any) -> None:
    # Given the win-back's messages of a compare experiment, as the sender records them
    messages = MessageStore(ddb, TABLE)
    for contact, timing in (("p1", "predictive"), ("f1", "fixed"), ("n1", "no_model")):
        _send(messages, _request(contact, 1, T0).model_copy(update={"timing": timing}))
    assert messages.skip(_request("p2", 1, T0).model_copy(update={"timing": "predictive"}), "holdout", T0)
    _send(messages, _request("old", 1, T0))  # written before timings were recorded
    # When the report reads them back
    found = DynamoCampaignRecords(ddb, TABLE).records("acme", "winback", None)
    # Then each keeps its timing, the holdout's too, and the old item has none
    assert {m.contact_id: m.timing for m in found.messages} == {
        "p1": "predictive",
        "f1": "fixed",
        "n1": "no_model",
        "p2": "predictive",
        "old": None,
    }
    report = build_report(found, shop_id="acme", as_of=T0 + 40 * DAY)
    labels = [r.label for r in report.rows]
    assert "step 1 / predictive" in labels and "all steps / no_model" in labels
    predicted = next(r for r in report.rows if r.step == 1 and r.timing == "predictive")
    assert (predicted.treated.contacts, predicted.holdout.contacts) == (1, 1)
    assert predicted.median_days_from_last_activity == 90  # 2025-12-01 to 2026-03-01
