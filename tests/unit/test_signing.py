import base64
from datetime import UTC, datetime

import pytest
from standardwebhooks import Webhook

from comeback.app.signing import SignatureError, new_secret, sign, signed_headers, verify

SECRET = "whsec_ZGVtby1zZWNyZXQ="
NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
TS = int(NOW.timestamp())
BODY = b'{"events":[{"id":"e1"}]}'


def test_the_demo_secret_is_the_bytes_demo_secret():
    assert base64.b64decode(SECRET.removeprefix("whsec_")) == b"demo-secret"


def test_accepts_what_the_official_standard_webhooks_library_signs():
    signature = Webhook(SECRET).sign("msg_1", NOW, BODY.decode())
    headers = {"Webhook-Id": "msg_1", "Webhook-Timestamp": str(TS), "Webhook-Signature": signature}
    assert verify([SECRET], headers, BODY, NOW) == "msg_1"


def test_the_official_library_accepts_what_we_sign():
    headers = signed_headers(SECRET, BODY, "msg_2", int(datetime.now(UTC).timestamp()))
    assert Webhook(SECRET).verify(BODY, headers) == {"events": [{"id": "e1"}]}


def test_any_of_several_signatures_and_any_of_several_secrets_will_do():
    old, new = new_secret(), SECRET
    header = f"v1,{base64.b64encode(b'x' * 32).decode()} {sign(old, 'm', TS, BODY)}"
    headers = {"webhook-id": "m", "webhook-timestamp": str(TS), "webhook-signature": header}
    assert verify([new, old], headers, BODY, NOW) == "m"
    with pytest.raises(SignatureError):
        verify([new], headers, BODY, NOW)


@pytest.mark.parametrize("skew", [-301, 301, -10_000])
def test_timestamps_more_than_300_seconds_away_are_refused(skew):
    headers = signed_headers(SECRET, BODY, "m", TS + skew)
    with pytest.raises(SignatureError, match="tolerance"):
        verify([SECRET], headers, BODY, NOW)


@pytest.mark.parametrize("skew", [-300, 0, 300])
def test_timestamps_within_300_seconds_pass(skew):
    assert verify([SECRET], signed_headers(SECRET, BODY, "m", TS + skew), BODY, NOW) == "m"


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"webhook-id": "m", "webhook-timestamp": str(TS)},
        {"webhook-id": "m", "webhook-timestamp": "soon", "webhook-signature": "v1,AAAA"},
        {"webhook-id": "m", "webhook-timestamp": str(TS), "webhook-signature": "garbage"},
        {"webhook-id": "m", "webhook-timestamp": str(TS), "webhook-signature": "v1,not*base64"},
        {"webhook-id": "m", "webhook-timestamp": str(TS), "webhook-signature": "v2,AAAA"},
    ],
)
def test_malformed_headers_are_refused_not_crashed_on(headers):
    with pytest.raises(SignatureError):
        verify([SECRET], headers, BODY, NOW)


def test_a_changed_body_id_or_timestamp_breaks_the_signature():
    headers = signed_headers(SECRET, BODY, "m", TS)
    with pytest.raises(SignatureError):
        verify([SECRET], headers, BODY + b" ", NOW)
    with pytest.raises(SignatureError):
        verify([SECRET], {**headers, "webhook-id": "other"}, BODY, NOW)
    with pytest.raises(SignatureError):
        verify([SECRET], {**headers, "webhook-timestamp": str(TS + 1)}, BODY, NOW)


def test_unknown_shop_has_no_secrets_and_is_refused():
    with pytest.raises(SignatureError):
        verify([], signed_headers(SECRET, BODY, "m", TS), BODY, NOW)


@pytest.mark.parametrize("skew", [-300, 300])
def test_the_window_is_symmetric_in_whole_seconds_whatever_the_fraction_of_now(skew):
    # a clock at .999 of a second used to refuse -300 s while accepting +300 s
    late_in_the_second = NOW.replace(microsecond=999_999)
    assert verify([SECRET], signed_headers(SECRET, BODY, "m", TS + skew), BODY, late_in_the_second) == "m"
