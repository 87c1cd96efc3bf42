from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy

import pytest

from comeback.clock import FixedClock
from comeback.mailer import Email, from_tag_value, tag_value
from comeback.tokens import BadToken, TokenSigner

NOW = datetime(2026, 11, 24, tzinfo=UTC)


def signer(key=b"k" * 32, clock=None):
    return TokenSigner(lambda: key, clock or FixedClock(NOW))


def test_tokens_round_trip_and_name_the_message():
    token = signer().issue("demo", "c-42", "winback#1#2026-08-25")
    read = signer().read(token)
    assert (read.shop_id, read.contact_id, read.message_key) == ("demo", "c-42", "winback#1#2026-08-25")


@pytest.mark.parametrize(
    "mangle",
    [lambda t: t[:-2] + "AA", lambda t: "x" + t, lambda t: t.split(".")[0], lambda t: "", lambda t: "a.b.c"],
)
def test_forged_or_damaged_tokens_are_refused(mangle):
    with pytest.raises(BadToken):
        signer().read(mangle(signer().issue("demo", "c-42")))


def test_a_token_from_another_key_is_refused():
    with pytest.raises(BadToken):
        signer(key=b"other" * 8).read(signer().issue("demo", "c-42"))


def test_tokens_work_for_a_year_at_least_30_days():
    clock = FixedClock(NOW)
    token = signer(clock=clock).issue("demo", "c-42")
    clock.advance(timedelta(days=364))
    assert signer(clock=clock).read(token).contact_id == "c-42"
    clock.advance(timedelta(days=2))
    with pytest.raises(BadToken, match="expired"):
        signer(clock=clock).read(token)


def test_tag_values_use_only_what_ses_allows_and_round_trip():
    value = tag_value("c-42/山田#1")
    assert set(value) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-")
    assert from_tag_value(value) == "c-42/山田#1"


def test_mime_has_both_parts_encoded_japanese_and_the_one_click_headers():
    email = Email(
        from_name="お茶の店",
        from_address="hello@shop.example.com",
        to="hanako@example.com",
        subject="山田 花子様、お久しぶりです",
        text="本文",
        html="<p>本文</p>",
        date=NOW,
        headers={
            "List-Unsubscribe": "<https://x/u/t>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        },
    )
    raw = email.mime()
    assert raw.isascii(), "headers and bodies are 7-bit on the wire (RFC 2047 / quoted-printable)"
    assert b"Subject: =?utf-8?" in raw
    parsed = message_from_bytes(raw, policy=policy.default)
    assert parsed["Subject"] == "山田 花子様、お久しぶりです"
    assert parsed["From"].addresses[0].display_name == "お茶の店"
    assert parsed["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert [p.get_content_type() for p in parsed.iter_parts()] == ["text/plain", "text/html"]
    assert parsed.get_body(("plain",)).get_content().strip() == "本文"
