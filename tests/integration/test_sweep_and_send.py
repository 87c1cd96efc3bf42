"""Sweep -> outbox -> sender -> SES, exactly once, whatever replays, overlaps and crashes do."""

import copy
import json
import threading
from datetime import timedelta
from email import message_from_string, policy

import pytest
from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError

from comeback.aws.mailer import MailRejected, MailThrottled
from comeback.domain.messages import MessageRequest
from tests.integration.test_contacts import apply_events
from tests.support import load_json, order, shop_event

HANAKO = {"id": "c-42", "email": "hanako@example.com"}


def lapsed_customer(engine, customer=HANAKO, consent=True):
    """A customer whose last activity (an order) is the engine's now: 2026-01-05."""
    now = engine.clock.now().isoformat()
    apply_events(
        engine,
        shop_event(
            "customer.updated",
            id=f"u-{customer['id']}",
            occurred_at="2026-01-01T00:00:00Z",
            customer=customer,
            data={
                "first_name": "Hanako",
                "last_name": "Yamada",
                "locale": "ja",
                "accepts_marketing": consent,
            },
        ),
        order(f"o-{customer['id']}", now, customer),
    )


def sweep(engine):
    return engine.sweep(load_json("lambda/sweep-scheduled.json"))


def test_a_lapsed_customer_gets_one_winback_email_with_one_click_headers(engine):
    lapsed_customer(engine)
    engine.clock.advance(timedelta(days=89))
    assert sweep(engine)["messages"] == 0
    engine.clock.advance(timedelta(days=2))
    report = sweep(engine)
    assert (report["due"], report["messages"], report["items_read"]) == (1, 1, 1)
    engine.deliver("outbox")
    (sent,) = engine.sent_emails()
    mail = message_from_string(sent.raw_data, policy=policy.default)
    assert mail["List-Unsubscribe"].startswith("<https://api.shop.example.com/v1/unsubscribe/")
    assert mail["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert mail["To"] == "hanako@example.com"
    assert mail["Subject"] == "【Your Shop】Yamada Hanako 様、お久しぶりです"
    assert "1-2-3 Jingumae" in mail.get_body(("plain",)).get_content()  # the shop's postal address
    record = engine.runtime.messages.get("demo", "c-42", "winback#1#2026-01-05")
    assert record["status"] == "sent" and record["ses_message_id"] == sent.id
    # the sweep moved the contact on: nothing more until step 2 at 135 days
    assert sweep(engine)["due"] == 0


def test_overlapping_sweeps_and_replayed_requests_send_once(engine):
    lapsed_customer(engine)
    engine.clock.advance(timedelta(days=91))
    threads = [threading.Thread(target=sweep, args=(engine,)) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for message in engine.receive("outbox"):  # the queue delivers one of them again (at-least-once)
        engine.send_to("outbox", [message["Body"]])
        engine.sqs.change_message_visibility(
            QueueUrl=engine.resources.queue_urls["outbox"],
            ReceiptHandle=message["ReceiptHandle"],
            VisibilityTimeout=0,
        )
    engine.deliver("outbox")
    assert len(engine.sent_emails()) == 1


def test_no_email_without_consent_not_even_a_request(engine):
    lapsed_customer(engine, consent=False)
    engine.clock.advance(timedelta(days=91))
    report = sweep(engine)
    # (the first order's milestone and its cross-sell, due for a sweep that came 91 days later, are
    # stale by then)
    assert (report["messages"], report["not_asked"]) == (0, {"no_consent": 1, "stale": 2})
    assert engine.queue_size("outbox") == 0 and engine.sent_emails() == []
    state = engine.runtime.contacts.get("demo", "c-42").recipes["winback"]["v"]
    assert state["sent"] == 1  # the lapse moved on


def test_consent_withdrawn_between_selection_and_send_wins_and_is_recorded(engine):
    lapsed_customer(engine)
    engine.clock.advance(timedelta(days=91))
    sweep(engine)
    withdrawn = shop_event(
        "customer.updated",
        id="no-more",
        occurred_at="2026-01-06T00:00:00Z",
        customer=HANAKO,
        data={"accepts_marketing": False},
    )
    apply_events(engine, withdrawn)
    engine.deliver("outbox")
    assert engine.sent_emails() == []
    assert engine.runtime.messages.get("demo", "c-42", "winback#1#2026-01-05")["reason"] == "no_consent"


def test_a_customer_who_came_back_after_selection_gets_nothing(engine):
    lapsed_customer(engine)
    engine.clock.advance(timedelta(days=91))
    sweep(engine)
    apply_events(
        engine,
        shop_event("site.visited", id="back", occurred_at=engine.clock.now().isoformat(), customer=HANAKO),
    )
    engine.deliver("outbox")
    assert engine.sent_emails() == []


def test_suppression_landing_between_selection_and_send_wins(engine):
    from comeback.domain.profile import empty, lww

    lapsed_customer(engine)
    engine.clock.advance(timedelta(days=91))
    sweep(engine)
    change = empty("demo", "c-42")
    change.suppressed = lww("complaint", "2026-04-03T00:00:00.000000Z", "ses:x")
    engine.runtime.contacts.apply_delta(
        "demo", "c-42", change, "SES#x", engine.runtime.shops.playbook("demo"), "2026-04-03T00:00:00.000000Z"
    )
    engine.deliver("outbox")
    assert engine.sent_emails() == []


class Crash(Exception):
    pass


class CrashAfterSes:
    """SES accepts the email, then the process dies before the sender records it."""

    def __init__(self, inner):
        self.inner, self.sent = inner, []

    def send(self, email):
        self.sent.append(self.inner.send(email))
        raise Crash("killed after SES accepted")


def test_a_crash_after_ses_accepted_never_leads_to_a_second_email(engine):
    lapsed_customer(engine)
    engine.clock.advance(timedelta(days=91))
    sweep(engine)
    sender = engine.runtime.sender
    real_mailer = sender._mailer
    sender._mailer = CrashAfterSes(real_mailer)
    (message,) = engine.receive("outbox")
    with pytest.raises(BatchProcessingError):  # the invocation died: the queue will redeliver
        engine.invoke("sender", engine.sqs_event("outbox", [message]))
    sender._mailer = real_mailer
    engine.invoke("sender", engine.sqs_event("outbox", [message]))  # the redelivery
    assert len(engine.sent_emails()) == 1
    record = engine.runtime.messages.get("demo", "c-42", "winback#1#2026-01-05")
    assert record["status"] == "claimed", "left for an operator to review, never resent"


class Throttled:
    def __init__(self, inner, times, code="TooManyRequestsException"):
        self.inner, self.times, self.code = inner, times, code

    def send(self, email):
        if self.times > 0:
            self.times -= 1
            raise MailThrottled(self.code)
        return self.inner.send(email)


@pytest.mark.parametrize("code", ["TooManyRequestsException", "Throttling"])
def test_ses_throttling_delays_and_never_loses(engine, code):
    lapsed_customer(engine)
    engine.clock.advance(timedelta(days=91))
    sweep(engine)
    sender = engine.runtime.sender
    sender._mailer = Throttled(sender._mailer, times=2, code=code)
    for _ in range(3):
        messages = engine.receive("outbox")
        if not messages:
            # re-queued with a delay: make it visible now rather than waiting for real seconds
            attrs = engine.sqs.get_queue_attributes(
                QueueUrl=engine.resources.queue_urls["outbox"],
                AttributeNames=["ApproximateNumberOfMessagesDelayed"],
            )
            assert int(attrs["Attributes"]["ApproximateNumberOfMessagesDelayed"]) == 1
            engine.let_delays_pass("outbox")
            messages = engine.receive("outbox")
        answer = engine.invoke("sender", engine.sqs_event("outbox", messages))
        assert answer == {"batchItemFailures": []}
        engine.sqs.delete_message(
            QueueUrl=engine.resources.queue_urls["outbox"], ReceiptHandle=messages[0]["ReceiptHandle"]
        )
    assert len(engine.sent_emails()) == 1
    assert (
        json.loads(
            engine.sqs.get_queue_attributes(
                QueueUrl=engine.resources.queue_urls["outbox"], AttributeNames=["ApproximateNumberOfMessages"]
            )["Attributes"]["ApproximateNumberOfMessages"]
        )
        == 0
    )


def test_a_permanent_rejection_fails_that_message_alone(engine):
    # ids outside the win-back holdout (c-0 is in it: it would never be emailed)
    for n, email in enumerate(["a@example.com", "b@example.com", "c@example.com"], start=1):
        lapsed_customer(engine, customer={"id": f"c-{n}", "email": email})
    engine.clock.advance(timedelta(days=91))
    sweep(engine)
    sender = engine.runtime.sender
    inner = sender._mailer

    class RejectB:
        def send(self, email):
            if email.to == "b@example.com":
                raise MailRejected("MessageRejected")
            return inner.send(email)

    sender._mailer = RejectB()
    answers = engine.deliver("outbox")
    assert all(a == {"batchItemFailures": []} for a in answers)
    assert sorted(m.destinations[0] for m in engine.sent_emails()) == ["a@example.com", "c@example.com"]
    assert engine.runtime.messages.get("demo", "c-2", "winback#1#2026-01-05")["status"] == "failed"


def test_the_sample_sender_event_is_understood(engine):
    event = copy.deepcopy(load_json("lambda/sender-sqs.json"))
    request = MessageRequest.model_validate_json(event["Records"][0]["body"])
    assert engine.invoke("sender", event) == {"batchItemFailures": []}
    assert engine.runtime.messages.get("demo", request.contact_id, request.key)["reason"] == "no_contact"


def test_a_send_between_selection_and_advance_does_not_undo_the_sweeps_progress(engine, monkeypatch):
    """The sender takes a slot (the profile's version moves); the sweep must still store its step."""
    lapsed_customer(engine)
    engine.clock.advance(timedelta(days=91))
    sweep_service = engine.runtime.sweep
    outbox = sweep_service._outbox
    real_send = outbox.send

    def send_then_deliver(messages, **kwargs):
        real_send(messages, **kwargs)
        engine.deliver("outbox")  # the sender is quick: it claims before the sweep advances

    monkeypatch.setattr(outbox, "send", send_then_deliver)
    report = sweep(engine)
    assert (report["advanced"], report["contended"]) == (1, 0)
    monkeypatch.setattr(outbox, "send", real_send)
    assert sweep(engine)["messages"] == 0  # nothing asked twice
    assert len(engine.sent_emails()) == 1


def test_activity_between_selection_and_advance_wins(engine, monkeypatch):
    lapsed_customer(engine)
    engine.clock.advance(timedelta(days=91))
    outbox = engine.runtime.sweep._outbox
    real_send = outbox.send

    def send_then_order(messages, **kwargs):
        real_send(messages, **kwargs)
        apply_events(engine, order("o-back", engine.clock.now().isoformat(), HANAKO))

    monkeypatch.setattr(outbox, "send", send_then_order)
    assert sweep(engine)["contended"] == 1  # the new activity's due time stays
    monkeypatch.setattr(outbox, "send", real_send)
    engine.deliver("outbox")
    assert engine.sent_emails() == []  # and the sender sees the customer came back


def test_a_shops_own_template_is_used_and_a_broken_one_is_refused(engine):
    from comeback.aws.shops import ShopAdmin

    admin = ShopAdmin(engine.settings)
    config = admin.get("demo")
    own = (
        '{% extends "_layout.txt.j2" %}{% block subject %}新茶の季節です、{{ contact.name }} 様{% endblock %}'
        "{% block content %}また遊びに来てください。{% endblock %}"
    )
    playbook_yaml = "messaging:\n  templates:\n    ja/winback.txt.j2: " + json.dumps(own, ensure_ascii=False)
    admin.save_config(config.model_copy(update={"playbook_yaml": playbook_yaml}))
    lapsed_customer(engine)
    engine.clock.advance(timedelta(days=91))
    sweep(engine)
    engine.deliver("outbox")
    (sent,) = engine.sent_emails()
    mail = message_from_string(sent.raw_data, policy=policy.default)
    assert mail["Subject"] == "新茶の季節です、Yamada Hanako 様"
    assert "また遊びに来てください。" in mail.get_body(("plain",)).get_content()
    assert "<html" in mail.get_body(("html",)).get_content()  # the shipped HTML part still goes
    broken = "messaging:\n  templates:\n    ja/winback.txt.j2: '{% if %}'"
    with pytest.raises(ValueError, match=r"template ja/winback.txt.j2"):
        admin.save_config(config.model_copy(update={"playbook_yaml": broken}))
