"""One-click reason links through the preferences handler on moto: a click becomes a feedback.submitted
on the bus, the bus rule takes it to the contacts function, and it is applied once."""

from __future__ import annotations

import copy
import json
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

from comeback.aws import keys
from comeback.messaging.reason_links import reason_links
from tests.integration.test_sweep_and_send import HANAKO, lapsed_customer
from tests.support import load_json, shop_event, signed

MESSAGE = "winback#1#2026-01-05"


def links(engine: Any, contact_id: str = HANAKO["id"], message_key: str = MESSAGE) -> dict[str, str]:
    return reason_links(
        engine.runtime.tokens, engine.settings.public_base_url, "demo", contact_id, message_key
    )


def click(engine: Any, url: str, method: str = "GET", path_prefix: str | None = None) -> dict[str, Any]:
    """The API Gateway (payload 2.0) event of opening `url`, as the HTTP API hands it to the function."""
    parts = urlsplit(url)
    token = parts.path.rsplit("/", 1)[1]
    path = f"{path_prefix}{token}" if path_prefix else parts.path
    route = "/v1/unsubscribe/{token}" if path_prefix else "/v1/feedback/{token}"
    sample = "lambda/preferences-apigw-get.json" if method == "GET" else "lambda/preferences-apigw-post.json"
    event = copy.deepcopy(load_json(sample))
    event["routeKey"] = event["requestContext"]["routeKey"] = f"{method} {route}"
    event["rawPath"] = event["requestContext"]["http"]["path"] = path
    event["pathParameters"] = {"token": token}
    event["rawQueryString"] = parts.query
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    event["queryStringParameters"] = query or None
    return engine.invoke("preferences", event)  # type: ignore[no-any-return]


def feedback_events(engine: Any) -> list[dict[str, Any]]:
    """The feedback events in the contact's history, as the contacts function stored them."""
    return [
        json.loads(item["event"])
        for item in engine.runtime.contacts.story("demo", HANAKO["id"])
        if item[keys.SK].startswith("EVT#") and item.get("type") == "feedback.submitted"
    ]


def test_a_click_is_applied_to_the_contact_once_with_its_reason(engine):
    lapsed_customer(engine)
    engine.clock.advance(timedelta(days=91))
    before = engine.runtime.contacts.find("demo", HANAKO["id"])
    answer = click(engine, links(engine)["price"])
    assert answer["statusCode"] == 200
    assert answer["headers"]["Content-Type"].startswith("text/html")
    assert answer["headers"]["Cache-Control"] == "no-store"
    assert "価格" in answer["body"]  # the contact has no locale: the page follows accept-language (ja)
    (message,) = engine.receive("contacts")  # the bus rule `shop-events` took it to the contacts queue
    bus_event = json.loads(message["Body"])
    assert (bus_event["source"], bus_event["detail-type"]) == ("comeback.ingest", "feedback.submitted")
    event = bus_event["detail"]["event"]
    assert event["customer"]["id"] == HANAKO["id"] and "email" not in event["customer"]  # no address
    data = event["data"]
    assert (data["survey"], data["reason"], data["attributes"]) == (
        "reason",
        "price",
        {"message_key": MESSAGE},
    )
    engine.let_delays_pass("contacts")
    engine.sqs.change_message_visibility(
        QueueUrl=engine.resources.queue_urls["contacts"],
        ReceiptHandle=message["ReceiptHandle"],
        VisibilityTimeout=0,
    )
    assert engine.deliver("contacts") == [{"batchItemFailures": []}]
    after = engine.runtime.contacts.find("demo", HANAKO["id"])
    assert after.events_count == before.events_count + 1
    assert after.last_activity_at == engine.clock.now().strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    (stored,) = feedback_events(engine)
    assert stored["data"]["reason"] == "price" and stored["id"] == event["id"]


def test_clicking_again_or_another_reason_of_the_same_email_changes_nothing(engine):
    lapsed_customer(engine)
    engine.clock.advance(timedelta(days=91))
    assert click(engine, links(engine)["forgot"])["statusCode"] == 200
    engine.deliver("contacts")
    first = engine.runtime.contacts.find("demo", HANAKO["id"])
    history = feedback_events(engine)
    for url, method in ((links(engine)["forgot"], "GET"), (links(engine)["price"], "POST")):
        engine.clock.advance(timedelta(hours=1))
        assert click(engine, url, method)["statusCode"] == 200
        engine.deliver("contacts")
    assert engine.runtime.contacts.find("demo", HANAKO["id"]) == first
    assert feedback_events(engine) == history
    assert [e["data"]["reason"] for e in history] == ["forgot"]  # the first answer is the one kept


def test_a_forged_link_is_refused_and_nothing_reaches_the_bus(engine):
    lapsed_customer(engine)
    before = engine.runtime.contacts.find("demo", HANAKO["id"])
    genuine = links(engine)["price"]
    token = urlsplit(genuine).path.rsplit("/", 1)[1]
    body, mac = token.split(".")
    forged = genuine.replace(
        token, f"{body}.{mac[:-2]}AA" if not mac.endswith("AA") else f"{body}.{mac[:-2]}BB"
    )
    unsubscribe = genuine.replace(token, engine.runtime.tokens.issue("demo", HANAKO["id"], MESSAGE))
    for url in (forged, unsubscribe):
        answer = click(engine, url)
        assert answer["statusCode"] == 404 and "text/html" in answer["headers"]["Content-Type"]
    bad_reason = click(engine, genuine.replace("reason=price", "reason=cheaper"))
    assert bad_reason["statusCode"] == 400
    assert engine.queue_size("contacts") == 0
    assert engine.runtime.contacts.find("demo", HANAKO["id"]) == before


def test_a_reason_link_cannot_unsubscribe(engine):
    lapsed_customer(engine)
    answer = click(engine, links(engine)["other"], "POST", path_prefix="/v1/unsubscribe/")
    assert answer["statusCode"] == 404
    assert not engine.runtime.contacts.find("demo", HANAKO["id"]).is_unsubscribed


def test_a_shop_event_with_a_reason_is_accepted_and_an_unknown_reason_is_rejected(engine):
    from tests.integration.test_ingest import apigw

    at = engine.clock.now().isoformat()
    told = shop_event("feedback.submitted", id="fb-told", occurred_at=at)
    unknown = shop_event("feedback.submitted", id="fb-unknown", occurred_at=at)
    unknown["data"] = {**unknown["data"], "reason": "shipping"}
    for events, status in (([told], 202), ([unknown], 422)):
        body = json.dumps({"events": events}).encode()
        answer = apigw(engine, body, signed(body, at=int(engine.clock.now().timestamp())))
        assert answer["statusCode"] == status, answer
    assert "reason" in json.loads(answer["body"])["rejected"][0]["error"]
    engine.deliver("contacts")
    assert [e["data"]["reason"] for e in feedback_events(engine)] == ["price"]  # the sample's
