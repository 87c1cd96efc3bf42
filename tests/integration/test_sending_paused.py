"""SES refusals that are not throttling, through the real sender handler on moto: the SES v2
client itself raises the error codes; a pause holds every message (no DLQ, no loop) and each is sent
exactly once after it; a permanent refusal still fails that message alone."""

from collections import Counter
from datetime import timedelta

import pytest
from botocore.exceptions import ClientError

from comeback.aws import keys
from comeback.aws.pauses import PAUSE, SENDING
from tests.integration.test_sweep_and_send import lapsed_customer, sweep

CUSTOMERS = [{"id": f"c-{n}", "email": f"c{n}@example.com"} for n in (1, 2, 3)]  # outside the holdout


class Ses:
    """The sender's real SES v2 client, refusing with `code` until told to stop."""

    def __init__(self, engine, monkeypatch, code):
        self.client = engine.runtime.sender._mailer._ses
        self.real = self.client.send_email
        self.code, self.calls = code, Counter()
        monkeypatch.setattr(self.client, "send_email", self.send_email)

    def send_email(self, **kwargs):
        to = kwargs["Destination"]["ToAddresses"][0]
        if self.code:
            self.calls[self.code] += 1
            raise ClientError({"Error": {"Code": self.code, "Message": "refused"}}, "SendEmail")
        self.calls["sent"] += 1
        self.calls[to] += 1
        return self.real(**kwargs)


def three_messages_on_the_outbox(engine):
    for customer in CUSTOMERS:
        lapsed_customer(engine, customer=customer)
    engine.clock.advance(timedelta(days=91))
    sweep(engine)
    assert engine.queue_size("outbox") == 3


def held(engine):
    return [i for i in engine.table_items() if i[keys.SK]["S"].startswith("HOLD#")]


def deliver_all(engine):
    answers = engine.deliver("outbox")
    assert all(a == {"batchItemFailures": []} for a in answers)
    assert engine.queue_size("outbox") == 0


@pytest.mark.parametrize(
    "code", ["SendingPausedException", "AccountSuspendedException", "LimitExceededException"]
)
def test_an_account_pause_holds_every_message_and_each_is_sent_once_after_it(engine, monkeypatch, code):
    three_messages_on_the_outbox(engine)
    ses = Ses(engine, monkeypatch, code)

    deliver_all(engine)  # SES refuses the first; the others are held before any SES call
    assert ses.calls == {code: 1}
    assert len(held(engine)) == 3 and engine.sent_emails() == []
    (pause,) = [i for i in engine.table_items() if i[keys.PK]["S"] == SENDING and i[keys.SK]["S"] == PAUSE]
    assert code in pause["value"]["S"]

    ses.code = None  # the account is fine again
    engine.clock.advance(timedelta(minutes=30))
    sweep(engine)  # still inside the pause: nothing is back yet
    assert engine.queue_size("outbox") == 0 and len(held(engine)) == 3

    engine.clock.advance(timedelta(minutes=31))
    sweep(engine)
    deliver_all(engine)
    assert ses.calls["sent"] == 3 and all(ses.calls[c["email"]] == 1 for c in CUSTOMERS)
    engine.clock.advance(timedelta(hours=2))
    sweep(engine)
    deliver_all(engine)
    assert ses.calls["sent"] == 3 and len(engine.sent_emails()) == 3 and held(engine) == []
    for customer in CUSTOMERS:
        record = engine.runtime.messages.get("demo", customer["id"], "winback#1#2026-01-05")
        assert record["status"] == "sent"


def test_an_unverified_sender_domain_pauses_that_shop_only(engine, monkeypatch):
    three_messages_on_the_outbox(engine)
    Ses(engine, monkeypatch, "MailFromDomainNotVerifiedException")
    deliver_all(engine)
    assert len(held(engine)) == 3
    sender, now = engine.runtime.sender, engine.clock.now()
    assert sender._paused("demo", now).scope == "shop"
    assert sender._paused("other", now) is None  # other shops' senders are not the problem
    assert [i[keys.PK]["S"] for i in engine.table_items() if i[keys.SK]["S"] == PAUSE] == [keys.shop("demo")]


def test_throttling_still_retries_in_seconds_without_a_pause(engine, monkeypatch):
    three_messages_on_the_outbox(engine)
    ses = Ses(engine, monkeypatch, "TooManyRequestsException")
    (message, *_) = engine.receive("outbox")
    engine.invoke("sender", engine.sqs_event("outbox", [message]))
    assert ses.calls == {"TooManyRequestsException": 1}
    assert held(engine) == [] and not [i for i in engine.table_items() if i[keys.SK]["S"] == PAUSE]


def test_a_permanent_refusal_still_fails_that_message_and_pauses_nothing(engine, monkeypatch):
    three_messages_on_the_outbox(engine)
    Ses(engine, monkeypatch, "MessageRejected")
    deliver_all(engine)
    statuses = [
        engine.runtime.messages.get("demo", c["id"], "winback#1#2026-01-05")["status"] for c in CUSTOMERS
    ]
    assert statuses == ["failed"] * 3
    assert held(engine) == [] and not [i for i in engine.table_items() if i[keys.SK]["S"] == PAUSE]
