"""NPS: who is asked and when, what each score calls for, one task per detractor, signed score links."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from comeback.app.effects import carry_out
from comeback.app.tasks import TaskDesk
from comeback.aws.bus import BusEntry
from comeback.aws.mailer import Email
from comeback.domain import playbook
from comeback.domain.clock import FixedClock, isoformat
from comeback.domain.events import ShopEvent, parse_event
from comeback.domain.profile import Profile, apply, empty
from comeback.messaging import score_links as links
from comeback.messaging.render import render
from comeback.messaging.tokens import SCORE, TokenSigner
from comeback.recipes import engine, nps
from tests.fakes.reward_store import InMemoryRewardStore
from tests.fakes.task_store import InMemoryTaskStore
from tests.support import order, shop_event

CUSTOMER = {"id": "c-1", "email": "hanako@example.com"}
BOOK = playbook.load(
    {
        "consent": "opt_out",
        "shop": {"team_email": "team@shop.example.com"},
        "nps": {
            "apology_offer": {"type": "amount_off", "value_minor": 500, "valid_days": 30},
            "review_url": "https://shop.example.com/reviews",
        },
    }
)
T0 = datetime(2026, 3, 1, 10, 0, tzinfo=UTC)


def feed(profile: Profile, raw: dict[str, Any], now: datetime | None = None) -> engine.Outcome:
    event: ShopEvent = parse_event(raw)  # type: ignore[assignment]
    after = apply(profile, event)
    return engine.on_event(profile, after, event, BOOK, now or event.occurred_at)


def two_orders() -> Profile:
    profile = empty("s", "c-1", "c-1")
    profile = feed(profile, order("o1", isoformat(T0), CUSTOMER)).profile
    return feed(profile, order("o2", isoformat(T0 + timedelta(days=20)), CUSTOMER)).profile


def answer(
    score: int, at: datetime, key: str = "nps#1#2026-04-04", comment: str | None = None, eid: str = "a1"
):
    data: dict[str, Any] = {"survey": "nps", "score": score, "attributes": {"message_key": key}}
    if comment:
        data["comment"] = comment
    return shop_event("feedback.submitted", id=eid, occurred_at=isoformat(at), customer=CUSTOMER, data=data)


class Mailbox:
    def __init__(self) -> None:
        self.sent: list[Email] = []

    def send(self, email: Email) -> str:
        self.sent.append(email)
        return f"m{len(self.sent)}"


class Topic:
    def __init__(self) -> None:
        self.published: list[tuple[str, str, dict[str, str]]] = []

    def publish(self, subject: str, message: str, attributes: dict[str, str]) -> None:
        self.published.append((subject, message, attributes))


# -- who is asked, and when ------------------------------------------------------------------------


def test_asked_14_days_after_the_second_order_and_not_after_the_first() -> None:
    one = feed(empty("s", "c-1", "c-1"), order("o1", isoformat(T0), CUSTOMER)).profile
    assert "nps" not in engine.due_times(one, BOOK)
    profile = two_orders()
    due = engine.due_times(profile, BOOK)["nps"]
    assert due == T0 + timedelta(days=34)
    outcome = engine.plan_due(profile, BOOK, due)
    (ask,) = [a for a in outcome.asks if a.message.campaign == "nps"]
    assert ask.message.key == "nps#1#2026-04-04" and ask.message.data["ask_score"] is True
    # asked once: a second sweep asks nothing, and nothing is due until another order
    assert [a for a in engine.plan_due(outcome.profile, BOOK, due + timedelta(hours=1)).asks] == []
    assert "nps" not in engine.due_times(outcome.profile, BOOK)


def test_at_most_once_per_180_days_and_only_about_a_new_order() -> None:
    profile = two_orders()
    asked_at = T0 + timedelta(days=34)
    profile = engine.plan_due(profile, BOOK, asked_at).profile
    later = feed(profile, order("o3", isoformat(asked_at + timedelta(days=30)), CUSTOMER)).profile
    # 14 days after the third order would be day 78; the 180 days since the ask win
    assert engine.due_times(later, BOOK)["nps"] == asked_at + timedelta(days=180)


def test_a_stale_ask_is_passed_over_until_the_next_order() -> None:
    profile = two_orders()
    outcome = engine.plan_due(profile, BOOK, T0 + timedelta(days=80))
    assert [a for a in outcome.asks if a.message.campaign == "nps"] == []
    assert ("nps", "stale") in outcome.skipped
    assert "nps" not in engine.due_times(outcome.profile, BOOK)


@pytest.mark.parametrize(
    ("score", "group"),
    [(0, "detractor"), (6, "detractor"), (7, "passive"), (8, "passive"), (9, "promoter"), (10, "promoter")],
)
def test_scores_fall_in_the_three_nps_groups(score: int, group: str) -> None:
    assert nps.group(score) == group


# -- what an answer calls for ------------------------------------------------------------------------


def answered(score: int, comment: str | None = None) -> tuple[Profile, datetime]:
    at = T0 + timedelta(days=34, hours=2)
    profile = engine.plan_due(two_orders(), BOOK, T0 + timedelta(days=34)).profile
    return feed(profile, answer(score, at, comment=comment), at).profile, at


def test_a_detractor_gets_an_apology_and_the_team_one_task_however_often_it_is_carried_out() -> None:
    profile, at = answered(3, comment="The tea arrived cold")
    due = engine.due_times(profile, BOOK)["nps"]
    assert due == at + timedelta(minutes=30)  # time for the comment the page offers
    outcome = engine.plan_due(profile, BOOK, due)
    (thanks,) = [a for a in outcome.asks if a.message.campaign == "feedback"]
    assert (thanks.message.variant, thanks.message.step, thanks.offer.value_minor) == ("detractor", 1, 500)  # type: ignore[union-attr]
    store, mailbox, topic = InMemoryTaskStore(), Mailbox(), Topic()
    desk = TaskDesk(store, mailbox, topic)
    rewards = InMemoryRewardStore()
    first = carry_out(outcome, BOOK, due, rewards, desk)
    # the sweep crashed before its write and runs again: the same outcome, carried out again
    again = carry_out(engine.plan_due(profile, BOOK, due), BOOK, due, rewards, desk)
    assert store.creates == 1 and len(mailbox.sent) == 1 and len(topic.published) == 1
    created = [e for e in first.entries if e.detail_type == "task.created"]
    assert len(created) == 1 and not [e for e in again.entries if e.detail_type == "task.created"]
    (task,) = store.list("s")
    assert (task.status, task.score, task.comment, task.summary.orders_count) == (
        "open",
        3,
        "The tea arrived cold",
        2,
    )
    assert task.summary.total_spent_minor == 9960
    team = mailbox.sent[0]
    assert team.to == "team@shop.example.com" and "The tea arrived cold" in team.text
    assert "hanako@example.com" in team.text and task.task_id in team.text
    assert "hanako@example.com" not in str(created[0].detail)  # no address on the bus
    assert topic.published[0][2] == {"shop_id": "s", "kind": "detractor"}


def test_a_redelivered_answer_changes_nothing_and_a_second_click_keeps_the_first_score() -> None:
    profile, at = answered(2)
    again = feed(profile, answer(2, at), at)
    other = feed(profile, answer(10, at + timedelta(minutes=1), eid="a2"), at)
    assert again.changed == [] and other.changed == []


def test_a_promoter_is_invited_to_review_and_no_task_is_opened() -> None:
    profile, at = answered(10)
    outcome = engine.plan_due(profile, BOOK, at + timedelta(minutes=30))
    (thanks,) = [a for a in outcome.asks if a.message.campaign == "feedback"]
    assert thanks.message.variant == "promoter" and thanks.offer is None and outcome.tasks == []
    context = nps.RECIPE.context(outcome.profile, thanks.message, BOOK)
    assert context["review_url"] == "https://shop.example.com/reviews"


def test_a_comment_brings_an_anything_else_follow_up_seven_days_later() -> None:
    profile, at = answered(8)
    # the comment comes from the thank-you page's form: the same answer, a second event
    profile = feed(
        profile, answer(8, at + timedelta(minutes=5), comment="More green tea", eid="a2"), at
    ).profile
    thanked = engine.plan_due(profile, BOOK, at + timedelta(minutes=30)).profile
    assert engine.due_times(thanked, BOOK)["nps"] == at + timedelta(minutes=5, days=7)
    follow = engine.plan_due(thanked, BOOK, at + timedelta(days=8))
    (ask,) = [a for a in follow.asks if a.message.campaign == "feedback"]
    assert ask.message.step == 2
    assert "nps" not in engine.due_times(follow.profile, BOOK)


def test_a_comment_after_the_task_joins_it_and_feedback_responded_closes_it() -> None:
    profile, at = answered(4)
    due = at + timedelta(minutes=30)
    outcome = engine.plan_due(profile, BOOK, due)
    store = InMemoryTaskStore()
    desk = TaskDesk(store)
    carry_out(outcome, BOOK, due, InMemoryRewardStore(), desk)
    later = feed(outcome.profile, answer(4, due + timedelta(hours=1), comment="Late parcel", eid="a2"))
    carry_out(later, BOOK, due, InMemoryRewardStore(), desk)
    (task,) = store.list("s")
    assert task.comment == "Late parcel"
    responded = shop_event(
        "feedback.responded",
        id="r1",
        occurred_at=isoformat(due + timedelta(hours=2)),
        customer=CUSTOMER,
        data={"task_id": task.task_id, "note": "Called her"},
    )
    closing = feed(later.profile, responded)
    carry_out(closing, BOOK, due + timedelta(hours=2), InMemoryRewardStore(), desk)
    (done,) = store.list("s")
    assert (done.status, done.done_by) == ("done", "feedback.responded")
    assert store.list("s", "open") == []


def test_an_imported_old_answer_calls_for_nothing() -> None:
    profile = two_orders()
    old = T0 + timedelta(days=21)
    outcome = feed(profile, answer(1, old, key="nps#0#2026-03-22"), now=old + timedelta(days=30))
    assert engine.plan_due(outcome.profile, BOOK, old + timedelta(days=30)).tasks == []


# -- the signed links ------------------------------------------------------------------------------


class Contacts:
    def __init__(self, profile: Profile) -> None:
        self.profile = profile

    def find(self, shop_id: str, customer: str) -> Profile | None:
        return self.profile if (shop_id, customer) == ("s", self.profile.contact_id) else None


class Shops:
    def playbook(self, shop_id: str) -> Any:
        return BOOK


class Bus:
    def __init__(self) -> None:
        self.entries: list[BusEntry] = []

    def publish(self, entries: Any) -> None:
        self.entries.extend(entries)


def answers() -> tuple[links.ScoreAnswers, TokenSigner, Bus]:
    clock = FixedClock(T0)
    signer = TokenSigner(lambda: b"k" * 32, clock)
    bus = Bus()
    return links.ScoreAnswers(signer, Contacts(two_orders()), Shops(), bus, clock), signer, bus


def test_each_link_signs_its_score_and_a_click_records_it_once() -> None:
    service, signer, bus = answers()
    found = links.score_links(signer, "https://api.example.com", "s", "c-1", "nps#1#2026-04-04")
    assert [link["score"] for link in found] == list(range(11))
    token = found[7]["url"].rpartition("/")[2]
    assert signer.read(token, SCORE).value == "7"
    first = service.answer(token)
    second = service.answer(found[2]["url"].rpartition("/")[2])
    assert first.status == second.status == 200 and "7 / 10" in first.html and "<form" in first.html
    ids = {e.detail["event"]["id"] for e in bus.entries}
    assert len(bus.entries) == 2 and len(ids) == 1  # the second click is a duplicate for dedupe
    event = bus.entries[0].detail["event"]
    assert event["data"]["score"] == 7 and event["data"]["attributes"]["message_key"] == "nps#1#2026-04-04"
    commented = service.answer(
        token, body="comment=Nice+tea", content_type="application/x-www-form-urlencoded"
    )
    assert commented.status == 200 and bus.entries[-1].detail["event"]["data"]["comment"] == "Nice tea"
    assert (
        service.answer(token, body="comment=", content_type="application/x-www-form-urlencoded").status == 400
    )


def test_a_forged_or_altered_link_records_nothing() -> None:
    service, signer, bus = answers()
    token = signer.issue("s", "c-1", "nps#1#2026-04-04", purpose=SCORE, value="9")
    body, _, mac = token.partition(".")
    payload = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    payload["v"] = "0"
    altered = (
        base64.urlsafe_b64encode(json.dumps(payload, separators=(",", ":")).encode()).rstrip(b"=").decode()
    )
    forged = TokenSigner(lambda: b"x" * 32, FixedClock(T0)).issue(
        "s", "c-1", "nps#1#x", purpose=SCORE, value="0"
    )
    unsubscribe = signer.issue("s", "c-1", "nps#1#x")
    for bad in (f"{altered}.{mac}", forged, unsubscribe, "garbage"):
        assert service.answer(bad).status == 404
    assert bus.entries == []


def test_the_nps_email_carries_the_eleven_links() -> None:
    signer = TokenSigner(lambda: b"k" * 32, FixedClock(T0))
    found = links.score_links(signer, "https://api.example.com", "s", "c-1", "nps#1#2026-04-04")
    context = {
        "shop": {"name": "Chanoma", "postal_address": "Tokyo", "url": "https://shop.example.com/"},
        "contact": {"first_name": "Hanako", "name": "Hanako"},
        "cta_url": "https://shop.example.com/",
        "unsubscribe_url": "https://api.example.com/v1/unsubscribe/t",
        "score_links": found,
        "locale": "ja",
    }
    for locale in ("ja", "en"):
        rendered = render("nps", locale, {**context, "locale": locale})
        for link in found:
            assert link["url"] in rendered.text and link["url"] in rendered.html


def test_a_detractors_thank_you_shows_the_apology_code() -> None:
    context = {
        "shop": {"name": "Chanoma", "postal_address": "Tokyo", "url": "https://shop.example.com/"},
        "contact": {"first_name": "Hanako", "name": "Hanako"},
        "cta_url": "https://shop.example.com/",
        "unsubscribe_url": "https://api.example.com/v1/unsubscribe/t",
        "group": "detractor",
        "code": "SORRY500",
        "discount": "¥500",
    }
    for locale in ("ja", "en"):
        assert "SORRY500" in render("feedback", locale, {**context, "locale": locale}).text
