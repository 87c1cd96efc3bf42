"""The ingest function: signed batches onto the bus; refused requests write nothing anywhere."""

import base64
import copy
import json
from datetime import UTC, datetime

import pytest

from tests.support import DEMO_SECRET, load_json, shop_event, signed


def apigw(engine, body: bytes, headers=None, shop="demo", base64_body=False):
    event = copy.deepcopy(load_json("lambda/ingest-apigw-http.json"))
    event["rawPath"] = event["requestContext"]["http"]["path"] = f"/v1/shops/{shop}/events"
    event["pathParameters"] = {"shop_id": shop}
    event["headers"] = {"content-type": "application/json", **(headers or {})}
    event["body"] = base64.b64encode(body).decode() if base64_body else body.decode()
    event["isBase64Encoded"] = base64_body
    return engine.invoke("ingest", event)


@pytest.fixture(autouse=True)
def _received_after_the_samples(engine):
    # the samples of events/ happen on 2026-11-24; events later than receipt + 24 h are refused
    engine.clock.set(datetime(2026, 11, 24, 2, 0, tzinfo=UTC))


def now_ts(engine):
    return int(engine.clock.now().timestamp())


def test_the_sample_request_goes_through_the_bus_rule_to_the_contacts_queue(engine):
    body = json.dumps(load_json("batch.json")).encode()
    answer = apigw(engine, body, signed(body, at=now_ts(engine)))
    assert answer["statusCode"] == 202
    assert json.loads(answer["body"]) == {"accepted": 2, "rejected": []}
    bodies = [json.loads(m["Body"]) for m in engine.receive("contacts")]
    assert sorted(b["detail-type"] for b in bodies) == ["customer.updated", "order.placed"]
    assert all(b["source"] == "comeback.ingest" and b["detail"]["shop_id"] == "demo" for b in bodies)


def test_a_base64_encoded_body_is_verified_on_its_decoded_bytes(engine):
    body = json.dumps({"events": [shop_event("order.placed")]}).encode()
    assert apigw(engine, body, signed(body, at=now_ts(engine)), base64_body=True)["statusCode"] == 202


@pytest.mark.parametrize(
    ("case", "status"),
    [
        ("bad_signature", 401),
        ("stale", 401),
        ("unknown_shop", 401),
        ("too_big", 413),
        ("not_json", 400),
        ("no_events", 400),
        ("all_invalid", 422),
    ],
)
def test_refusals_answer_per_the_contract_and_write_nothing(engine, case, status):
    items_before = len(engine.table_items())
    body = json.dumps({"events": [shop_event("order.placed")]}).encode()
    headers = signed(body, at=now_ts(engine))
    shop = "demo"
    if case == "bad_signature":
        headers = signed(body, secret="whsec_" + base64.b64encode(b"wrong").decode(), at=now_ts(engine))
    elif case == "stale":
        headers = signed(body, at=now_ts(engine) - 301)
    elif case == "unknown_shop":
        shop = "nobody"
    elif case == "too_big":
        body = json.dumps({"events": [shop_event("order.placed")], "pad": "x" * 300_000}).encode()
        headers = signed(body, at=now_ts(engine))
    elif case == "not_json":
        body = b"<xml/>"
        headers = signed(body, at=now_ts(engine))
    elif case == "no_events":
        body = b'{"event": []}'
        headers = signed(body, at=now_ts(engine))
    elif case == "all_invalid":
        body = json.dumps({"events": [{"id": "x", "type": "order.placed"}]}).encode()
        headers = signed(body, at=now_ts(engine))
    answer = apigw(engine, body, headers, shop=shop)
    assert answer["statusCode"] == status
    assert engine.queue_size("contacts") == 0
    assert len(engine.table_items()) == items_before


def test_a_rotated_secret_and_the_previous_one_both_work_until_dropped(engine):
    from comeback.aws.shops import ShopAdmin

    admin = ShopAdmin(engine.settings)
    new = admin.rotate_secret("demo")
    body = json.dumps({"events": [shop_event("order.placed")]}).encode()
    for secret in (new, DEMO_SECRET):
        assert apigw(engine, body, signed(body, secret=secret, at=now_ts(engine)))["statusCode"] == 202
    admin.rotate_secret("demo", drop_previous=True)
    assert apigw(engine, body, signed(body, secret=new, at=now_ts(engine)))["statusCode"] == 401


def test_put_events_partial_failures_are_retried_then_answered_503(engine, monkeypatch):
    from comeback.app import runtime

    events_client = runtime.current().publisher._client
    real = events_client.put_events
    calls = []

    refusals = {"order.placed": 2}

    def refuse_orders_twice(Entries):
        calls.append([e["DetailType"] for e in Entries])
        results = []
        for entry in Entries:
            if refusals.get(entry["DetailType"], 0) > 0:
                refusals[entry["DetailType"]] -= 1
                results.append({"ErrorCode": "ThrottlingException", "ErrorMessage": "Rate exceeded"})
            else:
                results.append(real(Entries=[entry])["Entries"][0])
        return {"FailedEntryCount": sum("ErrorCode" in r for r in results), "Entries": results}

    monkeypatch.setattr(events_client, "put_events", refuse_orders_twice)
    monkeypatch.setattr("time.sleep", lambda s: None)
    body = json.dumps({"events": [shop_event("order.placed"), shop_event("product.viewed")]}).encode()
    assert apigw(engine, body, signed(body, at=now_ts(engine)))["statusCode"] == 202
    assert calls == [["order.placed", "product.viewed"], ["order.placed"], ["order.placed"]]
    assert engine.queue_size("contacts") == 2  # both arrived, once each

    monkeypatch.setattr(
        events_client,
        "put_events",
        lambda Entries: {
            "FailedEntryCount": len(Entries),
            "Entries": [{"ErrorCode": "InternalFailure"} for _ in Entries],
        },
    )
    answer = apigw(engine, body, signed(body, at=now_ts(engine)))
    assert answer["statusCode"] == 503
