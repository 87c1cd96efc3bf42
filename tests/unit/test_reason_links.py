"""One-click reason links: signed for their purpose only, and what a click records (fakes, no AWS)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest

from comeback.app.topology import INGEST_SOURCE
from comeback.aws.bus import BusEntry, PublishError
from comeback.domain import playbook
from comeback.domain.clock import FixedClock
from comeback.domain.events import FEEDBACK_REASONS, EventEnvelope, FeedbackReason, FeedbackSubmitted
from comeback.domain.playbook import Playbook
from comeback.domain.profile import Profile, empty, lww
from comeback.messaging.reason_links import ReasonAnswers, reason_links
from comeback.messaging.tokens import REASON, BadToken, TokenSigner

NOW = datetime(2026, 4, 6, 3, 0, tzinfo=UTC)
KEY = b"the-engine-key"
MESSAGE = "winback#1#2026-01-05"


class Contacts:
    def __init__(self, *profiles: Profile) -> None:
        self.profiles = {(p.shop_id, p.contact_id): p for p in profiles}

    def find(self, shop_id: str, customer: str) -> Profile | None:
        return self.profiles.get((shop_id, customer))


class Shops:
    def playbook(self, shop_id: str) -> Playbook:
        return playbook.default()


class Bus:
    def __init__(self, refuse: bool = False) -> None:
        self.entries: list[BusEntry] = []
        self.refuse = refuse

    def publish(self, entries: Sequence[BusEntry]) -> None:
        if self.refuse:
            raise PublishError(len(entries), {"ThrottlingException"})
        self.entries.extend(entries)


def person(contact_id: str = "c-42", customer_id: str | None = "c-42", locale: str = "en") -> Profile:
    profile = empty("demo", contact_id, customer_id)
    profile.email = lww("hanako@example.com", "2026-01-01T00:00:00.000000Z", "e1")
    profile.fields = {"locale": lww(locale, "2026-01-01T00:00:00.000000Z", "e1")}
    return profile


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(NOW)


@pytest.fixture
def signer(clock: FixedClock) -> TokenSigner:
    return TokenSigner(lambda: KEY, clock)


def answers(signer: TokenSigner, clock: FixedClock, bus: Bus, *profiles: Profile) -> ReasonAnswers:
    return ReasonAnswers(signer, Contacts(*(profiles or (person(),))), Shops(), bus, clock)


def token_and_reason(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    return parts.path.rsplit("/", 1)[1], parse_qs(parts.query)["reason"][0]


def recorded(bus: Bus) -> list[FeedbackSubmitted]:
    events = []
    for entry in bus.entries:
        assert (entry.source, entry.detail_type) == (INGEST_SOURCE, "feedback.submitted")
        event = EventEnvelope.model_validate(entry.detail).event
        assert isinstance(event, FeedbackSubmitted)
        events.append(event)
    return events


def test_there_is_one_link_per_reason_under_the_feedback_route(signer):
    links = reason_links(signer, "https://api.shop.example.com/", "demo", "c-42", MESSAGE)
    assert set(links) == set(FEEDBACK_REASONS) == {"price", "experience", "product", "forgot", "other"}
    for reason, url in links.items():
        parts = urlsplit(url)
        assert (parts.scheme, parts.netloc) == ("https", "api.shop.example.com")
        assert parts.path.startswith("/v1/feedback/") and "//" not in parts.path
        assert token_and_reason(url)[1] == reason


def test_the_reasons_are_the_literal_the_event_model_accepts():
    assert FeedbackReason.__args__ == FEEDBACK_REASONS  # type: ignore[attr-defined]


def test_a_reason_token_names_the_shop_contact_and_message(signer):
    token, _ = token_and_reason(reason_links(signer, "https://x", "demo", "c-42", MESSAGE)["price"])
    read = signer.read(token, REASON)
    assert (read.shop_id, read.contact_id, read.message_key) == ("demo", "c-42", MESSAGE)


def test_a_reason_token_cannot_unsubscribe_and_an_unsubscribe_token_cannot_answer(signer):
    reason_token, _ = token_and_reason(reason_links(signer, "https://x", "demo", "c-42", MESSAGE)["price"])
    unsubscribe_token = signer.issue("demo", "c-42", MESSAGE)
    with pytest.raises(BadToken, match="not a unsubscribe token"):
        signer.read(reason_token)
    with pytest.raises(BadToken, match="not a reason token"):
        signer.read(unsubscribe_token, REASON)
    assert signer.read(unsubscribe_token).contact_id == "c-42"  # what every email sent so far carries


def test_a_click_records_one_feedback_event_with_the_reason(signer, clock):
    bus = Bus()
    token, reason = token_and_reason(reason_links(signer, "https://x", "demo", "c-42", MESSAGE)["price"])
    page = answers(signer, clock, bus).answer(token, reason)
    assert page.status == 200 and "Thank you for telling us" in page.html and "Prices" in page.html
    (event,) = recorded(bus)
    assert event.data.reason == "price" and event.data.survey == "reason"
    assert event.customer.id == "c-42" and event.customer.email is None  # no address on the bus
    assert event.occurred_at == NOW
    assert event.data.attributes == {"message_key": MESSAGE}


def test_every_click_on_the_links_of_one_email_carries_the_same_event_id(signer, clock):
    bus = Bus()
    service = answers(signer, clock, bus)
    links = reason_links(signer, "https://x", "demo", "c-42", MESSAGE)
    for url in (links["price"], links["price"], links["forgot"]):
        clock.advance(timedelta(minutes=5))
        assert service.answer(*token_and_reason(url)).status == 200
    ids = {event.id for event in recorded(bus)}
    assert len(ids) == 1  # the contacts function keeps the first and ignores the others
    other_email = reason_links(signer, "https://x", "demo", "c-42", "winback#1#2026-09-01")["price"]
    service.answer(*token_and_reason(other_email))
    assert len({event.id for event in recorded(bus)}) == 2


def test_another_encoding_of_the_same_token_is_the_same_answer(signer, clock):
    bus = Bus()
    token, reason = token_and_reason(reason_links(signer, "https://x", "demo", "c-42", MESSAGE)["price"])
    body, mac = token.split(".")
    service = answers(signer, clock, bus)
    assert service.answer(token, reason).status == 200
    assert service.answer(f"{body}==.{mac}", reason).status == 200  # padding base64 accepts
    first, second = recorded(bus)
    assert first.id == second.id


def test_an_email_only_contact_is_named_by_its_address(signer, clock):
    bus = Bus()
    contact = person(contact_id="~abc", customer_id=None)
    token, reason = token_and_reason(reason_links(signer, "https://x", "demo", "~abc", MESSAGE)["product"])
    assert answers(signer, clock, bus, contact).answer(token, reason).status == 200
    (event,) = recorded(bus)
    assert event.customer.id is None and event.customer.email == "hanako@example.com"


def _forged(signer: TokenSigner) -> dict[str, str]:
    genuine, _ = token_and_reason(reason_links(signer, "https://x", "demo", "c-42", MESSAGE)["price"])
    body, mac = genuine.split(".")
    flipped = ("A" if body[3] != "A" else "B").join((body[:3], body[4:]))
    elsewhere = TokenSigner(lambda: b"another-key", FixedClock(NOW))
    return {
        "tampered payload": f"{flipped}.{mac}",
        "signed with another key": token_and_reason(
            reason_links(elsewhere, "https://x", "demo", "c-42", MESSAGE)["price"]
        )[0],
        "no signature": body,
        "garbage": "not-a-token",
        "unsubscribe token": signer.issue("demo", "c-42", MESSAGE),
    }


@pytest.mark.parametrize(
    "kind", ["tampered payload", "signed with another key", "no signature", "garbage", "unsubscribe token"]
)
def test_a_forged_token_is_the_invalid_link_page_and_records_nothing(signer, clock, kind):
    bus = Bus()
    page = answers(signer, clock, bus).answer(_forged(signer)[kind], "price")
    assert page.status == 404 and "This link is not valid" in page.html
    assert bus.entries == []


def test_an_expired_token_records_nothing(signer, clock):
    bus = Bus()
    token, reason = token_and_reason(reason_links(signer, "https://x", "demo", "c-42", MESSAGE)["price"])
    clock.advance(timedelta(days=366))
    assert answers(signer, clock, bus).answer(token, reason).status == 404
    assert bus.entries == []


@pytest.mark.parametrize("reason", [None, "", "PRICE", "cost", "price ", "price&reason=other"])
def test_an_unknown_reason_is_a_400_and_records_nothing(signer, clock, reason):
    bus = Bus()
    token, _ = token_and_reason(reason_links(signer, "https://x", "demo", "c-42", MESSAGE)["price"])
    page = answers(signer, clock, bus).answer(token, reason)
    assert page.status == 400 and "Nothing was recorded" in page.html
    assert bus.entries == []


def test_an_erased_or_unknown_contact_records_nothing(signer, clock):
    bus = Bus()
    erased = person()
    erased.erased_at = "2026-02-01T00:00:00.000000Z"
    token, reason = token_and_reason(reason_links(signer, "https://x", "demo", "c-42", MESSAGE)["price"])
    assert answers(signer, clock, bus, erased).answer(token, reason).status == 404
    stranger, _ = token_and_reason(reason_links(signer, "https://x", "demo", "c-nobody", MESSAGE)["price"])
    assert answers(signer, clock, bus).answer(stranger, reason).status == 404
    assert bus.entries == []


def test_the_page_speaks_the_contacts_language_unless_lang_says_otherwise(signer, clock):
    token, reason = token_and_reason(reason_links(signer, "https://x", "demo", "c-42", MESSAGE)["forgot"])
    service = answers(signer, clock, Bus(), person(locale="ja"))
    assert "ご回答ありがとうございました" in service.answer(token, reason, "en-US").html
    assert "忘れていただけ" in service.answer(token, reason).html
    assert "Thank you for telling us" in service.answer(token, reason, lang="en").html
    assert "このリンクは無効です" in service.answer("bogus", reason, "ja,en;q=0.5").html


def test_a_bus_that_refuses_is_a_503_asking_to_try_again(signer, clock):
    token, reason = token_and_reason(reason_links(signer, "https://x", "demo", "c-42", MESSAGE)["price"])
    page = answers(signer, clock, Bus(refuse=True)).answer(token, reason)
    assert page.status == 503 and "try again" in page.html.lower()
