import json
from datetime import UTC, datetime

import pytest

from comeback.events import EVENT_TYPES, InvalidEvent, parse_event
from tests.support import EVENTS, shop_event


@pytest.mark.parametrize("event_type", EVENT_TYPES)
def test_every_sample_in_events_is_valid(event_type):
    event = parse_event(json.loads((EVENTS / "shop" / f"{event_type}.json").read_text()))
    assert event.type == event_type


def test_offsets_are_normalised_to_utc():
    event = parse_event(shop_event("order.placed", occurred_at="2026-11-24T10:15:00+09:00"))
    assert event.occurred_at == datetime(2026, 11, 24, 1, 15, tzinfo=UTC)


def test_a_timestamp_without_offset_is_refused():
    with pytest.raises(InvalidEvent, match="occurred_at"):
        parse_event(shop_event("order.placed", occurred_at="2026-11-24T10:15:00"))


def test_money_is_read_as_minor_units_of_the_currency():
    usd = shop_event("order.placed")
    usd["data"].update(total="49.80", currency="USD", items=[])
    assert parse_event(usd).data.total_minor == 4980
    jpy = shop_event("order.placed")
    jpy["data"].update(total="4980.5", items=[])
    with pytest.raises(InvalidEvent, match=r"data: total.*JPY"):
        parse_event(jpy)


def test_unknown_fields_are_kept_in_attributes_at_every_level():
    raw = shop_event("order.placed", channel="pos")
    raw["data"]["gift_wrap"] = True
    raw["data"]["items"][0]["engraving"] = "花子"
    event = parse_event(raw)
    assert event.attributes == {"channel": "pos"}
    assert event.data.attributes == {"gift_wrap": True}
    assert event.data.items[0].attributes == {"engraving": "花子"}
    assert event.model_dump(mode="json")["data"]["attributes"]["gift_wrap"] is True


def test_customer_needs_an_id_or_an_email_and_emails_are_lowercased():
    with pytest.raises(InvalidEvent, match="customer"):
        parse_event(shop_event("site.visited", customer={}))
    event = parse_event(shop_event("site.visited", customer={"email": "Hanako@Example.COM"}))
    assert event.customer.email == "hanako@example.com" and event.customer.id is None


def test_errors_say_where_and_what():
    with pytest.raises(InvalidEvent) as error:
        parse_event(
            {
                "id": "x",
                "type": "order.shipped",
                "occurred_at": "2026-01-01T00:00:00Z",
                "customer": {"id": "a"},
            }
        )
    assert "unknown event type 'order.shipped'" in str(error.value)
    with pytest.raises(InvalidEvent, match="type: required"):
        parse_event({"id": "x"})


@pytest.mark.parametrize(
    ("given", "stored"), [("--05-14", "1904-05-14"), ("05-14", "1904-05-14"), ("1990-05-14", "1990-05-14")]
)
def test_birthdays_may_come_without_a_year(given, stored):
    event = parse_event(shop_event("customer.updated", data={"birthday": given}))
    assert event.data.birthday.isoformat() == stored


def test_scores_timezones_and_control_characters_are_checked():
    with pytest.raises(InvalidEvent, match="score"):
        parse_event(shop_event("feedback.submitted", data={"survey": "nps", "score": 11}))
    with pytest.raises(InvalidEvent, match="timezone"):
        parse_event(shop_event("customer.updated", data={"timezone": "Mars/Olympus"}))
    with pytest.raises(InvalidEvent, match="id"):
        parse_event(shop_event("site.visited", id="a\nb"))
