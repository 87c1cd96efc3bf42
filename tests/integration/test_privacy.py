"""Shopify's privacy topics end to end on moto: signed delivery -> ingest -> bus -> contacts function.

customers/redact erases the customer and the orders it names; shop/redact erases every contact of
the shop (and nothing of another shop), resumably; customers/data_request mails the customer's
export to the shop's team and keeps it. `comeback contacts export|erase` against the same state.
"""

from __future__ import annotations

import base64
import copy
import gzip
import hashlib
import hmac
import json
import time
from email import policy
from email.parser import BytesParser
from typing import Any

import boto3
import pytest
from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError

from comeback.app import privacy
from comeback.aws import keys
from comeback.aws.contact_store import ContactStore
from comeback.aws.mailer import Email, MailThrottled
from comeback.aws.shops import ShopAdmin
from comeback.cli.main import main
from comeback.cli.operator import Output
from comeback.local.emulator import REGION
from tests.integration.conftest import START, Engine
from tests.support import DEMO_SECRET, EVENTS, load_json, order, shop_event, signed

SHOPIFY_SECRET = "shpss_privacy-test-secret"
FIXTURES = str(EVENTS / "platforms")  # real payloads, kept in the repository
TEAM = "privacy-team@shop.example.com"
TEA_PLAYBOOK = f"""
shop:
  name: "Tea Shop"
  team_email: "{TEAM}"
"""


def fixture(name: str) -> dict[str, Any]:
    with open(f"{FIXTURES}/{name}", encoding="utf-8") as handle:
        return json.load(handle)  # type: ignore[no-any-return]


def shopify(
    engine: Engine, topic: str, payload: dict[str, Any], webhook_id: str, shop: str = "demo"
) -> dict[str, Any]:
    """A Shopify delivery as API Gateway hands it to the ingest function."""
    body = json.dumps(payload).encode()
    digest = base64.b64encode(hmac.new(SHOPIFY_SECRET.encode(), body, hashlib.sha256).digest()).decode()
    event = copy.deepcopy(load_json("lambda/ingest-apigw-http.json"))
    path = f"/v1/shops/{shop}/webhooks/shopify"
    event["rawPath"] = event["requestContext"]["http"]["path"] = path
    event["routeKey"] = event["requestContext"]["routeKey"] = "POST /v1/shops/{shop_id}/webhooks/shopify"
    event["pathParameters"] = {"shop_id": shop}
    event["headers"] = {
        "content-type": "application/json",
        "x-shopify-hmac-sha256": digest,
        "x-shopify-topic": topic,
        "x-shopify-webhook-id": webhook_id,
        "x-shopify-triggered-at": engine.clock.now().isoformat(),
        "x-shopify-shop-domain": "privacy-test.myshopify.com",
    }
    event["body"] = body.decode()
    event["isBase64Encoded"] = False
    answer = engine.invoke("ingest", event)
    return {"status": answer["statusCode"], "body": json.loads(answer["body"])}


def post_events(
    engine: Engine, events: list[dict[str, Any]], shop: str = "demo", secret: str = DEMO_SECRET
) -> None:
    body = json.dumps({"events": events}).encode()
    event = copy.deepcopy(load_json("lambda/ingest-apigw-http.json"))
    event["rawPath"] = event["requestContext"]["http"]["path"] = f"/v1/shops/{shop}/events"
    event["pathParameters"] = {"shop_id": shop}
    event["headers"] = signed(body, secret=secret, at=int(engine.clock.now().timestamp()))
    event["body"] = body.decode()
    event["isBase64Encoded"] = False
    assert engine.invoke("ingest", event)["statusCode"] == 202


def customer(event_id: str, customer_id: str, email: str, **data: Any) -> dict[str, Any]:
    return shop_event(
        "customer.updated",
        id=event_id,
        occurred_at="2026-01-04T10:00:00Z",
        customer={"id": customer_id},
        data={"email": email, "first_name": "John", "last_name": "Smith", "accepts_marketing": True, **data},
    )


def seed_john(engine: Engine, shop: str = "demo", secret: str = DEMO_SECRET) -> None:
    """Customer 191167 of the fixtures, with the three orders Shopify will ask us to redact."""
    events = [customer("c-john", "191167", "john@example.com")]
    events += [
        order(f"shopify:order:{o}", f"2026-01-0{i + 1}T09:00:00Z", {"id": "191167"}, order_id=str(o))
        for i, o in enumerate((299938, 280263, 220458))
    ]
    post_events(engine, events, shop, secret)
    engine.deliver("contacts")


def items_of(engine: Engine, prefix: str) -> list[dict[str, Any]]:
    items, kwargs = [], {"TableName": engine.settings.table_name}
    while True:
        page = engine.ddb.scan(**kwargs)
        items += [i for i in page["Items"] if i["pk"]["S"].startswith(prefix)]
        if "LastEvaluatedKey" not in page:
            return items
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


@pytest.fixture
def shops(engine: Engine) -> Engine:
    admin = ShopAdmin(engine.settings)
    admin.set_platform_secret("demo", "shopify", SHOPIFY_SECRET)
    admin.create("tea", "Tea Shop", START, secret="whsec_dGVhLXNlY3JldA==", playbook_yaml=TEA_PLAYBOOK)
    admin.set_platform_secret("tea", "shopify", SHOPIFY_SECRET)
    return engine


# -- customers/redact ---------------------------------------------------------------------------


def test_customers_redact_erases_the_customer_and_every_order_it_names(shops: Engine) -> None:
    engine = shops
    seed_john(engine)
    assert any("299938" in json.dumps(i) for i in items_of(engine, "SHOP#demo#C#191167"))

    answer = shopify(engine, "customers/redact", fixture("shopify_customers_redact.json"), "wh-redact-1")
    assert answer["status"] == 202
    engine.deliver("contacts")

    left = items_of(engine, "SHOP#demo#")
    text = json.dumps(left)
    for personal in ("john@example.com", "John", "Smith", "555-625-1199"):
        assert personal not in text
    for order_id in ("299938", "280263", "220458"):
        # nothing in the contact's partition names the orders (dedupe markers elsewhere hold ids only)
        assert order_id not in json.dumps(items_of(engine, "SHOP#demo#C#"))
    profile = ContactStore(engine.ddb, engine.settings.table_name, 4).get("demo", "191167")
    assert profile is not None and profile.erased_at and profile.email_address is None
    assert not [i for i in left if i["sk"]["S"] == keys.ALIAS]


# -- customers/data_request ---------------------------------------------------------------------


def _sent(engine: Engine) -> list[Any]:
    return [
        BytesParser(policy=policy.default).parsebytes(
            m.raw_data.encode() if isinstance(m.raw_data, str) else m.raw_data
        )
        for m in engine.sent_emails()
    ]


def _attachment(message: Any) -> dict[str, Any]:
    parts = [p for p in message.iter_attachments() if p.get_filename()]
    assert len(parts) == 1 and parts[0].get_content_type() == "application/json"
    return json.loads(parts[0].get_content())  # type: ignore[no-any-return]


def test_data_request_mails_every_item_held_to_the_team_address_and_keeps_it(shops: Engine) -> None:
    engine = shops
    seed_john(engine, "tea", "whsec_dGVhLXNlY3JldA==")
    held = items_of(engine, "SHOP#tea#C#191167")

    payload = fixture("shopify_customers_data_request.json")
    assert shopify(engine, "customers/data_request", payload, "wh-dr-1", shop="tea")["status"] == 202
    engine.deliver("contacts")

    [mail] = _sent(engine)
    assert mail["To"] == TEAM and mail["From"].addresses[0].addr_spec == "hello@shop.example.com"
    assert "List-Unsubscribe" not in mail  # not a campaign
    export = _attachment(mail)
    assert export["found"] and export["contact_id"] == "191167"
    assert sorted(i["sk"] for i in export["items"]) == sorted(i["sk"]["S"] for i in held)
    assert [a["email"] for a in export["aliases"]] == ["john@example.com"]
    assert export["request"]["orders_requested"] == ["299938", "280263", "220458"]
    orders = [i for i in export["items"] if i["sk"].startswith("EVT#shopify:order:")]
    assert {i["event"]["data"]["order_id"] for i in orders} == {"299938", "280263", "220458"}

    kept = privacy.PrivacyStore(engine.ddb, engine.settings.table_name).kept_export(
        "tea", "shopify:customers/data_request:9999"
    )
    assert kept is not None and kept.emailed_at
    assert json.loads(gzip.decompress(kept.data))["items"] == export["items"]
    [item] = items_of(engine, privacy.privacy_pk("tea"))
    expires = int(item[keys.TTL]["N"])
    assert expires == int((engine.clock.now() + privacy.EXPORT_LIFETIME).timestamp())

    # Shopify redelivers: the team is not mailed twice
    assert shopify(engine, "customers/data_request", payload, "wh-dr-1", shop="tea")["status"] == 202
    engine.deliver("contacts")
    assert len(engine.sent_emails()) == 1


def test_data_request_without_a_team_address_goes_to_the_sender_and_names_an_unknown_customer(
    shops: Engine,
) -> None:
    engine = shops
    payload = fixture("shopify_customers_data_request.json")
    assert shopify(engine, "customers/data_request", payload, "wh-dr-2")["status"] == 202
    engine.deliver("contacts")
    [mail] = _sent(engine)
    assert mail["To"] == "hello@shop.example.com"
    export = _attachment(mail)
    assert export["found"] is False and export["items"] == []


def test_a_data_request_whose_mail_failed_is_mailed_on_redelivery_once(
    shops: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = shops
    seed_john(engine, "tea", "whsec_dGVhLXNlY3JldA==")
    real = engine.runtime.mailer
    calls = {"n": 0}

    class Flaky:
        def send(self, email: Email) -> str:
            calls["n"] += 1
            if calls["n"] == 1:
                raise MailThrottled("Throttling")
            return real.send(email)

    monkeypatch.setattr(engine.runtime, "mailer_override", Flaky())
    engine.runtime.__dict__.pop("mailer", None)
    shopify(
        engine, "customers/data_request", fixture("shopify_customers_data_request.json"), "wh-3", shop="tea"
    )
    with pytest.raises(BatchProcessingError):  # the whole batch failed: Lambda hands it back
        engine.deliver("contacts")
    assert not engine.sent_emails()
    kept = privacy.PrivacyStore(engine.ddb, engine.settings.table_name).kept_export(
        "tea", "shopify:customers/data_request:9999"
    )
    assert kept is not None and kept.emailed_at is None  # kept before the mail, as the operator's copy

    _redeliver(engine)
    assert len(engine.sent_emails()) == 1 and calls["n"] == 2


def _redeliver(engine: Engine) -> None:
    """What the queue does after the visibility timeout: the failed message comes back."""
    from moto.sqs.models import sqs_backends

    from comeback.local.emulator import ACCOUNT

    for message in sqs_backends[ACCOUNT][REGION].queues["contacts"]._messages:
        message.change_visibility(0)
    engine.deliver("contacts")


# -- shop/redact --------------------------------------------------------------------------------


def seed_shop(engine: Engine, shop: str, secret: str, count: int) -> None:
    events = [customer(f"c-{n}", f"cust-{n}", f"person{n}@example.com") for n in range(count)]
    events += [order(f"o-{n}", "2026-01-04T11:00:00Z", {"id": f"cust-{n}"}) for n in range(count)]
    events.append(order("guest-1", "2026-01-04T12:00:00Z", {"email": "guest@example.com"}))
    for start in range(0, len(events), 100):
        post_events(engine, events[start : start + 100], shop, secret)
    engine.deliver("contacts", rounds=1000)
    # a message record and a held message, as the sweep and sender leave them
    for sk in ("MSG#winback#1#2026-01", "HOLD#winback#1#2026-02"):
        engine.ddb.put_item(
            TableName=engine.settings.table_name,
            Item={
                "pk": {"S": keys.contact(shop, "cust-0")},
                "sk": {"S": sk},
                "contact_id": {"S": "cust-0"},
                "campaign": {"S": "winback"},
            },
        )


def assert_shop_erased(engine: Engine, shop: str, contacts: int) -> None:
    left = items_of(engine, f"SHOP#{shop}#")
    text = json.dumps(left)
    assert "@example.com" not in text and "John" not in text
    by_kind: dict[str, int] = {}
    for item in left:
        pk, sk = item["pk"]["S"], item["sk"]["S"]
        if pk == privacy.privacy_pk(shop):
            kind = "job"
        elif pk.startswith(keys.contact(shop, "")):
            kind = "tombstone" if sk == keys.PROFILE else ("erasure" if sk.startswith("EVT#") else sk)
        else:
            kind = pk
        by_kind[kind] = by_kind.get(kind, 0) + 1
    # every contact (and the guest known by email) a tombstone and the marker of its erasure
    assert by_kind == {"tombstone": contacts + 1, "erasure": contacts + 1, "job": 1}, by_kind
    store = ContactStore(engine.ddb, engine.settings.table_name, 4)
    profile = store.get(shop, "cust-0")
    assert profile is not None and profile.erased_at and profile.email_address is None


def test_shop_redact_erases_every_contact_alias_and_message_of_the_shop_and_nothing_else(
    shops: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = shops
    seed_shop(engine, "demo", DEMO_SECRET, 30)
    seed_john(engine, "tea", "whsec_dGVhLXNlY3JldA==")
    tea_before = items_of(engine, "SHOP#tea#")
    # small pages and no time: each message does one page and queues the rest, as a big shop would
    monkeypatch.setattr(privacy, "PAGE_ITEMS", 25)
    monkeypatch.setattr(privacy, "BUDGET_SECONDS", 0.0)

    assert shopify(engine, "shop/redact", fixture("shopify_shop_redact.json"), "wh-shop-1")["status"] == 202
    started = time.perf_counter()
    answers = engine.deliver("contacts", rounds=1000)
    elapsed = time.perf_counter() - started

    assert_shop_erased(engine, "demo", 30)
    assert items_of(engine, "SHOP#tea#") == tea_before
    job = privacy.PrivacyStore(engine.ddb, engine.settings.table_name).job(
        "demo", "shopify:shop/redact:wh-shop-1", engine.clock.now()
    )
    assert job.done_at and job.erased >= 31 and len(answers) >= job.step > 1
    print(f"shop/redact: 31 contacts, {job.step} pages, {len(answers)} messages, {elapsed:.2f} s")

    # a redelivery of the finished request changes nothing
    before = items_of(engine, "SHOP#demo#")
    shopify(engine, "shop/redact", fixture("shopify_shop_redact.json"), "wh-shop-1")
    engine.deliver("contacts")
    assert items_of(engine, "SHOP#demo#") == before


def test_shop_redact_finishes_after_a_crash_in_the_middle_of_a_page(
    shops: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = shops
    seed_shop(engine, "demo", DEMO_SECRET, 20)
    monkeypatch.setattr(privacy, "PAGE_ITEMS", 30)
    monkeypatch.setattr(privacy, "BUDGET_SECONDS", 60.0)  # one message would do it all
    real_apply = ContactStore.apply
    calls = {"n": 0}

    def crash_on_the_eighth(self: ContactStore, *args: Any, **kwargs: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == 8:
            raise RuntimeError("the function's container died here")
        return real_apply(self, *args, **kwargs)

    monkeypatch.setattr(ContactStore, "apply", crash_on_the_eighth)
    shopify(engine, "shop/redact", fixture("shopify_shop_redact.json"), "wh-shop-2")
    with pytest.raises(BatchProcessingError):
        engine.deliver("contacts")
    store = privacy.PrivacyStore(engine.ddb, engine.settings.table_name)
    halfway = store.job("demo", "shopify:shop/redact:wh-shop-2", engine.clock.now())
    assert halfway.done_at is None
    # some people are already erased, others not yet: the state a crash leaves
    assert any("@example.com" in json.dumps(i) for i in items_of(engine, "SHOP#demo#"))

    _redeliver(engine)
    assert_shop_erased(engine, "demo", 20)
    assert store.job("demo", "shopify:shop/redact:wh-shop-2", engine.clock.now()).done_at


def test_shop_redact_from_a_worker_that_lost_the_job_stops_without_undoing_progress(shops: Engine) -> None:
    engine = shops
    store = privacy.PrivacyStore(engine.ddb, engine.settings.table_name)
    job = store.job("demo", "r-1", engine.clock.now())
    assert store.advance("demo", "r-1", job, {"pk": {"S": "x"}, "sk": {"S": "y"}}, 3, engine.clock.now())
    assert store.advance("demo", "r-1", job, None, 3, engine.clock.now()) is None  # stale step
    again = store.job("demo", "r-1", engine.clock.now())
    assert (again.step, again.erased, again.done_at) == (1, 3, None)


# -- the operator's commands --------------------------------------------------------------------


@pytest.fixture
def stack(shops: Engine, monkeypatch: pytest.MonkeyPatch) -> Engine:
    """The engine's resources, found by the CLI through a deployed stack's outputs."""
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    settings = shops.settings
    outputs = {
        Output.TABLE_NAME: settings.table_name,
        Output.BUS_NAME: settings.bus_name,
        Output.REGION: REGION,
        Output.SHOP_SECRET_PREFIX: settings.shop_secret_prefix,
        Output.SECRETS_KEY_ARN: "arn:aws:kms:us-east-1:123456789012:key/none",
        Output.PUBLIC_BASE_URL: settings.public_base_url,
        Output.TOKEN_KEY_SECRET: settings.token_key_secret,
        Output.SES_CONFIGURATION_SET: settings.ses_configuration_set,
        Output.STAGE: "prod",
    }
    template = {
        "Resources": {"Placeholder": {"Type": "AWS::SQS::Queue", "Properties": {"QueueName": "placeholder"}}},
        "Outputs": {str(k): {"Value": v} for k, v in outputs.items()},
    }
    boto3.client("cloudformation", region_name=REGION).create_stack(
        StackName="comeback", TemplateBody=json.dumps(template)
    )
    return shops


def test_contacts_export_prints_the_items_the_mailed_export_holds(
    stack: Engine, capsys: pytest.CaptureFixture[str]
) -> None:
    engine = stack
    seed_john(engine, "tea", "whsec_dGVhLXNlY3JldA==")
    shopify(
        engine, "customers/data_request", fixture("shopify_customers_data_request.json"), "wh-4", shop="tea"
    )
    engine.deliver("contacts")
    mailed = _attachment(_sent(engine)[0])

    for handle in ("191167", "john@example.com"):
        assert main(["contacts", "export", "tea", handle, "--stack", "comeback"]) == 0
        printed = json.loads(capsys.readouterr().out)
        assert printed["items"] == mailed["items"] and printed["aliases"] == mailed["aliases"]

    assert main(["contacts", "export", "tea", "nobody", "--stack", "comeback"]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err.count("\n") == 1 and "no contact 'nobody'" in captured.err


def test_contacts_erase_goes_the_way_of_a_shop_erasure_and_removes_the_customer(
    stack: Engine, capsys: pytest.CaptureFixture[str]
) -> None:
    engine = stack
    seed_john(engine)
    assert main(["contacts", "erase", "demo", "john@example.com", "--stack", "comeback"]) == 0
    assert "erasure of john@example.com in shop demo requested" in capsys.readouterr().out
    [message] = engine.receive("contacts")
    body = json.loads(message["Body"])
    assert (body["source"], body["detail-type"]) == ("comeback.ingest", "customer.deleted")
    engine.sqs.change_message_visibility(
        QueueUrl=engine.resources.queue_urls["contacts"],
        ReceiptHandle=message["ReceiptHandle"],
        VisibilityTimeout=0,
    )
    engine.deliver("contacts")
    assert "john@example.com" not in json.dumps(items_of(engine, "SHOP#demo#"))
    assert main(["contacts", "export", "demo", "191167", "--stack", "comeback"]) == 0
    items = json.loads(capsys.readouterr().out)["items"]
    [profile] = [i for i in items if i["sk"] == keys.PROFILE]
    assert profile["erased_at"] and "email" not in profile
