"""The ses_events and preferences functions in-process on moto, with the event shapes AWS delivers."""

from __future__ import annotations

import copy
from datetime import timedelta
from email import message_from_string, policy

from comeback.aws import keys
from comeback.aws.mailer import tag_value
from comeback.local.mailbox import entry
from comeback.local.server import ses_eventbridge_event
from tests.integration.test_sweep_and_send import HANAKO, lapsed_customer, sweep
from tests.support import load_json


def one_winback(engine):
    lapsed_customer(engine)
    engine.clock.advance(timedelta(days=91))
    sweep(engine)
    engine.deliver("outbox")
    (sent,) = engine.sent_emails()
    return sent


def ses_event(engine, sent, event_type):
    tags = {
        "shop": "demo", "campaign": "winback", "step": "1",
        "period": tag_value("2026-01-05"), "contact": tag_value(HANAKO["id"]),
    }  # fmt: skip
    return ses_eventbridge_event(entry(sent, tags), event_type, engine.clock.now())


def feed(engine, *events):
    engine.send_to("ses_events", list(events))
    return engine.deliver("ses_events")


def contact(engine):
    return engine.runtime.contacts.find("demo", HANAKO["id"])


def test_the_sample_sqs_event_of_ses_events_is_understood(engine):
    answer = engine.invoke("ses_events", copy.deepcopy(load_json("lambda/ses-events-sqs.json")))
    assert answer == {"batchItemFailures": []}  # a message we never sent: nothing to change


def test_a_permanent_bounce_suppresses_once_however_often_it_is_delivered(engine):
    sent = one_winback(engine)
    bounce = ses_event(engine, sent, "Bounce")
    assert feed(engine, bounce, bounce) == [{"batchItemFailures": []}]
    assert contact(engine).suppression == "bounce"
    record = engine.runtime.messages.get("demo", HANAKO["id"], "winback#1#2026-01-05")
    assert record["bounce_at"] and record["bounce_type"] == "Permanent"
    (marker,) = [i for i in engine.table_items() if i[keys.SK]["S"].startswith("SES#")]
    expires = int(marker[keys.TTL]["N"])  # the dedupe marker leaves with the table's TTL
    assert expires == int((engine.clock.now() + timedelta(days=90)).timestamp())


def test_a_complaint_suppresses_and_unsubscribes(engine):
    sent = one_winback(engine)
    feed(engine, ses_event(engine, sent, "Complaint"))
    profile = contact(engine)
    assert profile.suppression == "complaint" and profile.is_unsubscribed


def test_opens_and_clicks_count_once_each_and_a_click_ends_the_winback(engine):
    sent = one_winback(engine)
    click = ses_event(engine, sent, "Click")
    feed(engine, ses_event(engine, sent, "Open"), click, click)
    profile = contact(engine)
    assert (profile.email_opens, profile.email_clicks) == (1, 1)
    assert profile.last_click["v"]["campaign"] == "winback" and profile.last_engaged_at
    engine.clock.advance(timedelta(days=45))  # step 2 is due: the click ended the sequence
    assert sweep(engine)["messages"] == 0


def test_the_one_click_post_and_the_preference_page_through_the_handler(engine):
    sent = one_winback(engine)
    mail = message_from_string(sent.raw_data, policy=policy.default)
    token = mail["List-Unsubscribe"].strip("<>").rsplit("/", 1)[1]
    get = copy.deepcopy(load_json("lambda/preferences-apigw-get.json"))
    get["pathParameters"] = {"token": token}
    get["rawPath"] = get["requestContext"]["http"]["path"] = f"/v1/unsubscribe/{token}"
    page = engine.invoke("preferences", get)
    assert page["statusCode"] == 200 and "rewards" in page["body"]
    post = copy.deepcopy(load_json("lambda/preferences-apigw-post.json"))
    post["pathParameters"] = {"token": token}
    post["rawPath"] = post["requestContext"]["http"]["path"] = f"/v1/unsubscribe/{token}"
    answer = engine.invoke("preferences", post)
    assert answer["statusCode"] == 200 and "location" not in {k.lower() for k in answer.get("headers", {})}
    assert contact(engine).is_unsubscribed


def test_a_forged_token_changes_nothing(engine):
    one_winback(engine)
    post = copy.deepcopy(load_json("lambda/preferences-apigw-post.json"))
    forged = "eyJzIjoiZGVtbyIsImMiOiJjLTQyIn0.AAAAAAAAAAAAAAAAAAAAAA"
    post["pathParameters"] = {"token": forged}
    post["rawPath"] = post["requestContext"]["http"]["path"] = f"/v1/unsubscribe/{forged}"
    answer = engine.invoke("preferences", post)
    assert 400 <= answer["statusCode"] < 500
    assert not contact(engine).is_unsubscribed
    assert answer["headers"]["Content-Type"].startswith("text/html")  # our page, not a stack trace


def test_delivery_delays_and_rejects_are_recorded_on_the_message_and_change_no_contact(engine):
    sent = one_winback(engine)
    delayed = ses_event(engine, sent, "Delivery")
    delayed["detail-type"], delayed["detail"]["eventType"] = "Email Delivery Delayed", "DeliveryDelay"
    delayed["detail"]["deliveryDelay"] = {
        "timestamp": delayed["detail"]["delivery"].pop("timestamp"),
        "delayType": "TransientCommunicationFailure",
        "delayedRecipients": [{"emailAddress": HANAKO["email"], "status": "4.4.1"}],
    }
    del delayed["detail"]["delivery"]
    rejected = ses_event(engine, sent, "Delivery")
    rejected["detail-type"], rejected["detail"]["eventType"] = "Email Rejected", "Reject"
    rejected["detail"]["reject"] = {"reason": "Bad content"}
    del rejected["detail"]["delivery"]
    assert feed(engine, delayed, rejected) == [{"batchItemFailures": []}]
    record = engine.runtime.messages.get("demo", HANAKO["id"], "winback#1#2026-01-05")
    assert record["delivery_delayed_at"] and record["reject_at"]
    profile = contact(engine)
    assert profile.suppression is None and not profile.is_unsubscribed


def _ses_event_calls(engine, event) -> list[str]:
    """The DynamoDB operations the ses_events function makes for one SES event (each once per call)."""
    from collections import Counter

    from comeback.local import recording

    recorder = recording.Recorder().start()
    try:
        assert feed(engine, event) == [{"batchItemFailures": []}]
    finally:
        recorder.stop()
    operations: Counter[str] = Counter()
    for call, n in recorder.calls().items():
        if call.function == "ses_events" and call.service == "dynamodb":
            # a transaction is recorded once per item it holds: count the call, not the items
            operations[call.operation] = max(operations[call.operation], n)
    return sorted(operations.elements())


def test_the_cost_models_shapes_of_ses_events_are_the_calls_the_function_makes(engine):
    """bench/cost.py prices a delivery as the message's UpdateItem alone and an open (any event that
    changes the contact) as a strong GetItem, a transaction and that UpdateItem."""
    sent = one_winback(engine)
    engine.runtime.shops.playbook("demo")  # the shop's config is cached per container
    assert _ses_event_calls(engine, ses_event(engine, sent, "Delivery")) == ["UpdateItem"]
    opened = _ses_event_calls(engine, ses_event(engine, sent, "Open"))
    assert [op for op in opened if op != "Query"] == ["GetItem", "TransactWriteItems", "UpdateItem"]
