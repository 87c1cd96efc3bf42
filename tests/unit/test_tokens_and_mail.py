from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy

import pytest

from comeback.aws.mailer import Email, from_tag_value, tag_value
from comeback.domain.clock import FixedClock
from comeback.messaging.tokens import BadToken, TokenSigner

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


def idn_email(to: str) -> Email:
    return Email("Shop", "hello@shop.example.com", to, "Hi", "text", "<p>html</p>", NOW)


def test_an_internationalised_domain_goes_out_in_its_idna_form():
    raw = idn_email("user@例え.jp").mime()
    assert b"To: user@xn--r8jz45g.jp\r\n" in raw
    assert b"=?utf-8?" not in raw.split(b"\r\n\r\n")[0].split(b"To:")[1].split(b"\r\n")[0]


class Ses:
    def __init__(self):
        self.sent = []

    def send_email(self, **kwargs):
        self.sent.append(kwargs)
        return {"MessageId": "m-1"}


def test_ses_gets_the_ascii_destination_and_refuses_nothing_it_cannot_deliver():
    from comeback.aws.mailer import MailRejected, SesMailer

    ses = Ses()
    SesMailer(ses, "cs").send(idn_email("User@Bücher.de"))
    assert ses.sent[0]["Destination"] == {"ToAddresses": ["User@xn--bcher-kva.de"]}
    with pytest.raises(MailRejected, match="undeliverable"):
        SesMailer(ses, "cs").send(idn_email("ユーザー@example.jp"))
    assert len(ses.sent) == 1


@pytest.mark.parametrize(
    "address",
    ["user@例え.jp", "ユーザー@example.jp", "a.b+c@bücher.de", "\\u30e6@\\u4f8b.jp", "a@b.example.com"],
)
def test_log_redaction_covers_addresses_in_any_script(address):
    from comeback.app.observability import redact

    assert redact(f'{{"to":"{address}","n":1}}') == '{"to":"<redacted-email>","n":1}'


def test_bidi_controls_never_reach_a_subject():
    from comeback.messaging.render import render

    overrides = {
        "en/winback.txt.j2": "{% block subject %}Hello {{ shop_name }}{% endblock %}body",
        "en/winback.html.j2": "<p>body</p>",
    }
    shop_name = "\u202eevil\u202c \u2067x\u2069\u200f"  # a shop name is not cleaned at ingest
    subject = render("winback", "en", {"shop_name": shop_name}, overrides).subject
    assert subject == "Hello evil x"
