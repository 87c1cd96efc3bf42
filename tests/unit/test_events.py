import json
from datetime import UTC, datetime

import pytest

from comeback.domain.events import EVENT_TYPES, InvalidEvent, parse_event
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


RECEIVED = datetime(2026, 11, 24, 1, 15, tzinfo=UTC)


@pytest.mark.parametrize(
    "at",
    [
        "9999-12-31T23:00:00-05:00",  # past year 9999 in UTC: was an OverflowError, a 500
        "0001-01-01T00:00:00+05:00",  # before year 1 in UTC
        "9999-12-31T23:59:59Z",
        "0001-01-01T00:00:00Z",
        "1969-12-31T23:59:59Z",
        "2036-11-24T00:00:00Z",  # an order ten years ahead would pin last_order_at
        "2026-11-25T01:15:01Z",  # one second past the 24 h allowance
    ],
)
def test_event_times_outside_1970_to_receipt_plus_a_day_are_refused(at):
    with pytest.raises(InvalidEvent, match="occurred_at"):
        parse_event(shop_event("order.placed", occurred_at=at), RECEIVED)


def test_an_event_a_day_ahead_of_receipt_is_still_accepted():
    assert parse_event(shop_event("order.placed", occurred_at="2026-11-25T01:15:00Z"), RECEIVED)


def test_other_times_in_an_event_have_the_same_window():
    data = {"signed_up_at": "2099-01-01T00:00:00Z"}
    with pytest.raises(InvalidEvent, match="signed_up_at"):
        parse_event(shop_event("customer.updated", data=data), RECEIVED)
    with pytest.raises(InvalidEvent, match="birthday"):
        parse_event(shop_event("customer.updated", data={"birthday": "0001-05-14"}), RECEIVED)


@pytest.mark.parametrize(
    ("field", "value"),
    [("total", "４９８０"), ("total", "٤٩٨٠"), ("total", "1_000"), ("quantity", True), ("quantity", "２")],
)
def test_full_width_digits_and_booleans_are_not_numbers(field, value):
    event = shop_event("order.placed")
    if field == "quantity":
        event["data"]["items"][0]["quantity"] = value
    else:
        event["data"][field] = value
    with pytest.raises(InvalidEvent):
        parse_event(event)


def test_an_internationalised_domain_is_kept_in_idna_form():
    event = parse_event(shop_event("order.placed", customer={"id": "c-1", "email": "User@例え.JP"}))
    assert event.customer.email == "user@xn--r8jz45g.jp"


def test_an_address_ses_cannot_deliver_to_is_refused_with_a_clear_error():
    with pytest.raises(InvalidEvent, match="deliver"):
        parse_event(shop_event("order.placed", customer={"id": "c-1", "email": "ユーザー@example.jp"}))


def test_bidi_controls_are_stripped_from_names():
    data = {"first_name": "\u202eHanako\u202c", "last_name": "\u2066Yamada\u2069\u200f"}
    event = parse_event(shop_event("customer.updated", data=data))
    assert (event.data.first_name, event.data.last_name) == ("Hanako", "Yamada")
