"""Every role grants what its function calls, proven from the calls the functions really make.

moto does not enforce IAM, so a missing grant passes every other test and fails only in AWS. Here
representative scenarios run the real handlers in-process on moto with a recorder on every client
(comeback.local.recording); each recorded call (function, IAM action, resource by run-time name)
is then evaluated against that function's role in the synthesized template. The calls that
earlier runs of the integration and e2e suites wrote to `$COMEBACK_AWS_CALLS_DIR` (when set) are
checked the same way. A grant no call uses is listed, and the list is pinned so it cannot grow.
"""

from __future__ import annotations

import copy
import json
import os
import warnings
from collections.abc import Iterator
from datetime import timedelta
from email import message_from_string, policy
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any

import pytest

from comeback.app.settings import Settings
from comeback.app.topology import BUS_NAME, DEFAULT_BUS, TOPOLOGY
from comeback.aws import clients as aws
from comeback.domain.messages import MessageRequest
from comeback.local import recording
from comeback.local.recording import AwsCall, Recorder, accesses
from tests.infra.helpers import Synth, as_list, flat, function_id, queue_id, ref_id, statements
from tests.support import load_json, order, shop_event, signed

SETTINGS = Settings()
ARN = "arn:<AWS::Partition>:{service}:<AWS::Region>:<AWS::AccountId>:{resource}"
# Granted by each queue's event source: Lambda's poller uses the role, the code never does.
EVENT_SOURCE_ACTIONS = {
    "sqs:ReceiveMessage",
    "sqs:DeleteMessage",
    "sqs:ChangeMessageVisibility",
    "sqs:GetQueueAttributes",
    "sqs:GetQueueUrl",
}
# What a function's runtime itself does with the role: its logs and its X-Ray segments.
RUNTIME_PREFIXES = ("logs:", "xray:")

# Grants no scenario uses, each kept for a reason (function, action, resource as described).
KNOWN_UNUSED: dict[tuple[str, str, str], str] = {
    ("sweep", "sqs:SendMessage", "<AWS::SQS::Queue comeback-sweep-invoke-dlq>"): (
        "Lambda itself sends a failed asynchronous invocation to its OnFailure destination, with "
        "the function's role (infra/constructs/schedules.py); the code never does"
    ),
}


# -- the template side ------------------------------------------------------------------------------
def role_of(synth: Synth, function: str) -> str:
    return ref_id(synth.props(function_id(synth, function))["Role"])


def _named(synth: Synth, kind: str, name_property: str, name: str) -> str | None:
    found = [k for k, r in synth.of_type(kind).items() if r["Properties"].get(name_property) == name]
    return found[0] if len(found) == 1 else None


def describe(synth: Synth, text: str) -> str:
    """`<QueuesoutboxBC51E645>` -> `<AWS::SQS::Queue comeback-outbox>`: readable and stable."""
    for logical_id, resource in synth.resources.items():
        if f"<{logical_id}>" in text:
            props = resource.get("Properties", {})
            name = next((props[k] for k in ("TableName", "QueueName", "Name") if k in props), logical_id)
            text = text.replace(f"<{logical_id}>", f"<{resource['Type']} {name}>")
    return text


class Requirement:
    """One IAM permission a call needs, as template text (`<LogicalId>` for a resource of the stack)."""

    def __init__(
        self, action: str, resource: str | None, via: str | None = None, parameter: str | None = None
    ) -> None:
        # via: the service that asks KMS on the caller's behalf; parameter: the ARN of the SSM
        # parameter it decrypts (its encryption context)
        self.action, self.resource, self.via, self.parameter = action, resource, via, parameter


def requirements(synth: Synth, call: AwsCall) -> list[Requirement]:
    """What `call` needs: the resource mapped from its run-time name to the template's; None when
    the name is of nothing the stack knows (the call then fails with that reason)."""
    kind, _, name = call.resource.partition("/")
    if kind == "parameter":
        return _parameter(synth, call.action, "/" + name)
    if kind == "table":
        table, _, index = name.partition("/index/")
        logical = _named(synth, "AWS::DynamoDB::Table", "TableName", table)
        if logical is None or table != SETTINGS.table_name:
            return [Requirement(call.action, None)]
        return [Requirement(call.action, f"<{logical}>" + (f"/index/{index}" if index else ""))]
    if kind == "queue":
        queues = {q.name for q in TOPOLOGY.queues} | {q.dlq_name for q in TOPOLOGY.queues}
        topology_name = name.removeprefix(f"{synth.context['stack_name']}-")
        if topology_name not in queues:
            return [Requirement(call.action, None)]
        return [Requirement(call.action, f"<{queue_id(synth, topology_name)}>")]
    if kind == "event-bus":
        if name == DEFAULT_BUS:
            return [Requirement(call.action, ARN.format(service="events", resource="event-bus/default"))]
        logical = _named(synth, "AWS::Events::EventBus", "Name", name) if name == BUS_NAME else None
        return [Requirement(call.action, f"<{logical}>" if logical else None)]
    if kind in ("identity", "configuration-set") and name:
        return [Requirement(call.action, ARN.format(service="ses", resource=call.resource))]
    if kind == "schedule":
        return [Requirement(call.action, ARN.format(service="scheduler", resource=call.resource))]
    if kind == "topic":
        # the task topic, `{stack}-tasks` (`comeback-tasks` in the local runtime and the scenarios)
        topics = [
            k
            for k, r in synth.of_type("AWS::SNS::Topic").items()
            if name.endswith("-tasks") and flat(r["Properties"].get("TopicName", "")).endswith("-tasks")
        ]
        return [Requirement(call.action, f"<{topics[0]}>" if len(topics) == 1 else None)]
    return [Requirement(call.action, None)]


def _parameter(synth: Synth, action: str, name: str) -> list[Requirement]:
    """A shop secret or the token key: SecureString parameters the operator CLI creates with the
    stack's secrets key; reading one needs kms:Decrypt on it, asked by Parameter Store for it."""
    if not (name == SETTINGS.token_key_secret or name.startswith(SETTINGS.shop_secret_prefix)):
        return [Requirement(action, None)]
    parameter = ARN.format(service="ssm", resource=f"parameter{name}")
    (key,) = [
        k for k, r in synth.of_type("AWS::KMS::Key").items() if "secrets" in r["Properties"]["Description"]
    ]
    return [Requirement(action, parameter), Requirement("kms:Decrypt", f"<{key}>", "ssm", parameter)]


def _condition_holds(statement: dict[str, Any], requirement: Requirement) -> bool:
    condition = statement.get("Condition")
    if not condition:
        return True
    # The only condition the stack uses: kms:ViaService, met when the decrypt is Parameter Store's,
    # and the parameter's ARN in the encryption context, met when it matches the statement's.
    if set(condition) != {"StringEquals", "StringLike"}:
        return False
    if list(condition["StringEquals"]) != ["kms:ViaService"]:
        return False
    if list(condition["StringLike"]) != ["kms:EncryptionContext:PARAMETER_ARN"]:
        return False
    via = flat(condition["StringEquals"]["kms:ViaService"])
    arn = flat(condition["StringLike"]["kms:EncryptionContext:PARAMETER_ARN"])
    return (
        requirement.via is not None
        and via.startswith(f"{requirement.via}.")
        and requirement.parameter is not None
        and fnmatchcase(requirement.parameter, arn)
    )


def grants(synth: Synth, function: str) -> list[tuple[dict[str, Any], str, str]]:
    """(statement, action pattern, resource pattern) of every Allow of the function's role."""
    found = []
    for statement in statements(synth, role_of(synth, function)):
        assert statement["Effect"] == "Allow", statement  # nothing here relies on a Deny
        for action in as_list(statement["Action"]):
            for resource in as_list(statement["Resource"]):
                found.append((statement, action, flat(resource)))
    return found


def evaluate(synth: Synth, calls: set[AwsCall]) -> tuple[list[str], set[tuple[str, str, str]]]:
    """One line per call the roles do not allow, and the (function, action, resource) grants used."""
    missing: list[str] = []
    used: set[tuple[str, str, str]] = set()
    by_function = {f.name: grants(synth, f.name) for f in TOPOLOGY.functions}
    for call in sorted(calls):
        if call.function not in by_function:
            missing.append(f"{call.function}: no such function in the topology ({call})")
            continue
        for need in requirements(synth, call):
            if need.resource is None:
                missing.append(
                    f"{call.function}: {call.operation} needs {need.action} on {call.resource}, "
                    "which is no resource of the stack"
                )
                continue
            matched = [
                (action, resource)
                for statement, action, resource in by_function[call.function]
                if fnmatchcase(need.action.lower(), action.lower())
                and fnmatchcase(need.resource, resource)
                and _condition_holds(statement, need)
            ]
            if not matched:
                missing.append(
                    f"{call.function}: {call.operation} needs {need.action} on "
                    f"{describe(synth, need.resource)} ({call.resource}), which its role does not grant"
                )
            used.update((call.function, action, resource) for action, resource in matched)
    return missing, used


def unused_grants(synth: Synth, used: set[tuple[str, str, str]]) -> dict[tuple[str, str, str], str]:
    """Grants no call needed (beyond the runtime's own and the event sources'), described."""
    unused = {}
    for function in (f.name for f in TOPOLOGY.functions):
        consumed = TOPOLOGY.queue_of(function)
        own_queue = f"<{queue_id(synth, consumed.name)}>" if consumed else None
        for _, action, resource in grants(synth, function):
            if action.startswith(RUNTIME_PREFIXES):
                continue
            if action in EVENT_SOURCE_ACTIONS and resource == own_queue:
                continue
            if (function, action, resource) not in used:
                unused[(function, action, describe(synth, resource))] = resource
    return unused


# -- the scenarios --------------------------------------------------------------------------------
HANAKO = {"id": "c-42", "email": "hanako@example.com"}


class Throttled:
    """SES answering 'slow down' once, then sending (the sender re-queues the throttled message)."""

    def __init__(self, inner: Any) -> None:
        self.inner, self.times = inner, 1

    def send(self, email: Any) -> Any:
        from comeback.aws.mailer import MailThrottled

        if self.times:
            self.times -= 1
            raise MailThrottled("TooManyRequestsException")
        return self.inner.send(email)


def _ingest_and_contacts(engine: Any) -> None:
    from tests.integration.test_ingest import apigw

    batch = load_json("batch.json")
    for event in batch["events"]:  # received now, so inside any window of plausible event times
        event["occurred_at"] = engine.clock.now().isoformat()
    body = json.dumps(batch).encode()
    assert apigw(engine, body, signed(body, at=int(engine.clock.now().timestamp())))["statusCode"] == 202
    engine.deliver("contacts")
    apply = _apply(engine)
    apply(order("o1", "2026-01-01T00:00:00Z", HANAKO), shop_event("customer.updated", customer=HANAKO))
    apply(order("o2", "2026-01-02T00:00:00Z", HANAKO))  # a known contact: the fast path
    visitor = {"email": "yui@example.com"}
    apply(shop_event("product.viewed", id="v1", occurred_at="2026-01-01T00:00:00Z", customer=visitor))
    signup = {"first_name": "Yui", "signed_up_at": "2026-01-02T00:00:00Z", "accepts_marketing": True}
    apply(shop_event("customer.updated", id="s1", customer={"id": "c-8", **visitor}, data=signup))  # merge
    apply(shop_event("customer.deleted", id="gdpr", occurred_at="2026-01-04T00:00:00Z", customer=HANAKO))
    apply(order("late", "2026-01-03T00:00:00Z", HANAKO))  # after the erasure


def _apply(engine: Any) -> Any:
    from tests.integration.test_contacts import apply_events

    return lambda *events: apply_events(engine, *events)


def _winback_throttled_then_feedback_and_preferences(engine: Any) -> None:
    from tests.integration.test_ses_events_and_preferences import feed, ses_event
    from tests.integration.test_sweep_and_send import lapsed_customer, sweep

    lapsed_customer(engine)
    engine.clock.advance(timedelta(days=91))
    sweep(engine)
    sender = engine.runtime.sender
    sender._mailer = Throttled(sender._mailer)
    engine.deliver("outbox")  # throttled: re-queued with a delay
    engine.let_delays_pass("outbox")
    engine.deliver("outbox")
    (sent,) = engine.sent_emails()
    feed(engine, *(ses_event(engine, sent, kind) for kind in ("Delivery", "Open", "Click", "Bounce")))
    # One runtime serves every function here; in Lambda the preferences container reads the token
    # key itself, so it must not find the sender's cached signer.
    for built in ("tokens", "preferences"):
        engine.runtime.__dict__.pop(built, None)
    mail = message_from_string(sent.raw_data, policy=policy.default)
    token = mail["List-Unsubscribe"].strip("<>").rsplit("/", 1)[1]
    for sample in ("lambda/preferences-apigw-get.json", "lambda/preferences-apigw-post.json"):
        event = copy.deepcopy(load_json(sample))
        event["pathParameters"] = {"token": token}
        event["rawPath"] = event["requestContext"]["http"]["path"] = f"/v1/unsubscribe/{token}"
        assert engine.invoke("preferences", event)["statusCode"] == 200
    # a one-click reason answer: the preferences function puts a feedback.submitted on the bus
    from tests.integration.test_reason_links import click, links

    assert click(engine, links(engine)["price"])["statusCode"] == 200
    # after the one-click unsubscribe (a complaint first would make it a no-op)
    feed(engine, ses_event(engine, sent, "Complaint"))


def _held_then_released_by_the_sweep(engine: Any) -> None:
    from tests.integration.test_caps_and_quiet_hours import NOON_TOKYO, customer, held, sweep

    engine.clock.set(NOON_TOKYO)
    customer(engine)

    def requests(*campaigns: str) -> list[MessageRequest]:
        now = engine.clock.now()
        return [MessageRequest(shop_id="demo", contact_id="c-1", campaign=c, period="p1", requested_at=now)
                for c in campaigns]  # fmt: skip

    engine.runtime.outbox.send(requests("reward", "survey"))
    engine.deliver("outbox")
    engine.clock.advance(timedelta(days=2))
    engine.runtime.outbox.send(requests("crosssell"))
    engine.deliver("outbox")  # the third email in a week waits for a free slot
    assert len(held(engine)) == 1
    engine.clock.advance(timedelta(days=5, hours=1))
    assert sweep(engine)["released"] == 1
    engine.deliver("outbox")
    assert held(engine) == [] and len(engine.sent_emails()) == 3


def _privacy_requests(engine: Any) -> None:
    """Shopify's data request (an export mailed to the team) and shop/redact (Scan, continuation)."""
    from comeback.app import privacy
    from comeback.aws.shops import ShopAdmin
    from tests.integration import test_privacy as p

    ShopAdmin(engine.settings).set_platform_secret("demo", "shopify", p.SHOPIFY_SECRET)
    p.seed_john(engine)
    request = p.fixture("shopify_customers_data_request.json")
    assert p.shopify(engine, "customers/data_request", request, "wh-iam-dr")["status"] == 202
    engine.deliver("contacts")
    assert len(p._sent(engine)) == 1
    # one page per message, so the job continues itself on the bus
    page_items, budget = privacy.PAGE_ITEMS, privacy.BUDGET_SECONDS
    privacy.PAGE_ITEMS, privacy.BUDGET_SECONDS = 2, 0.0
    try:
        assert (
            p.shopify(engine, "shop/redact", p.fixture("shopify_shop_redact.json"), "wh-iam-sr")["status"]
            == 202
        )
        assert len(engine.deliver("contacts", rounds=100)) > 1
    finally:
        privacy.PAGE_ITEMS, privacy.BUDGET_SECONDS = page_items, budget


def _rewards_issued_redeemed_and_expired(engine: Any) -> None:
    from tests.integration.test_winback_rewards import rewards_issued_redeemed_reminded_and_expired

    rewards_issued_redeemed_reminded_and_expired(engine)


def _segments_job_then_win_back_by_segment(engine: Any) -> None:
    from tests.integration.test_segments import (
        test_win_back_by_segment_writes_to_lapsed_regulars_and_leaves_lapsed_one_timers_alone as run,
    )

    run(engine)


def _crosssell_from_the_shops_orders(engine: Any) -> None:
    from tests.integration.test_product_store import crosssell_after_the_shops_orders

    crosssell_after_the_shops_orders(engine)


def _nps_detractor_task_opened_and_closed(engine: Any) -> None:
    """An NPS ask, a one-click score of 2 (preferences), the sweep opening the team's task (its
    email through SES, the SNS topic), then feedback.responded closing it (contacts)."""
    from tests.integration.test_nps import detractor_task_opened_and_closed

    detractor_task_opened_and_closed(engine)


SCENARIOS = (
    _ingest_and_contacts,
    _segments_job_then_win_back_by_segment,
    _rewards_issued_redeemed_and_expired,
    _winback_throttled_then_feedback_and_preferences,
    _held_then_released_by_the_sweep,
    _privacy_requests,
    _crosssell_from_the_shops_orders,
    _nps_detractor_task_opened_and_closed,
)


@pytest.fixture(scope="module")
def scenario_calls() -> Iterator[set[AwsCall]]:
    from tests.integration.conftest import running_engine

    recorder = Recorder().start()
    try:
        for scenario in SCENARIOS:
            with running_engine() as engine:
                scenario(engine)
    finally:
        recorder.stop()
    yield set(recorder.calls())


def suite_calls() -> set[AwsCall]:
    """What earlier integration and e2e runs recorded (`COMEBACK_AWS_CALLS_DIR=dir`), if any."""
    directory = os.environ.get(recording.CALLS_DIR_ENV)
    return recording.load(sorted(Path(directory).glob("*.jsonl"))) if directory else set()


# -- the tests --------------------------------------------------------------------------------------
def test_the_scenarios_exercise_every_function(scenario_calls: set[AwsCall]) -> None:
    assert {c.function for c in scenario_calls} == {f.name for f in TOPOLOGY.functions}
    actions = {(c.function, c.action) for c in scenario_calls}
    assert ("sweep", "dynamodb:DeleteItem") in actions, "the scenarios release a held message"
    assert ("sender", "sqs:SendMessage") in actions, "the scenarios re-queue a throttled send"
    assert ("ingest", "ssm:GetParameter") in actions, "Powertools Parameters are recorded"
    assert ("sender", "ssm:GetParameter") in actions, "the token key is read from Parameter Store"
    assert ("sweep", "sns:Publish") in actions, "the scenarios open a follow-up task"


def test_every_recorded_call_is_granted_by_its_functions_role(
    default: Synth, scenario_calls: set[AwsCall]
) -> None:
    missing, _ = evaluate(default, scenario_calls | suite_calls())
    assert not missing, "calls the roles do not allow:\n" + "\n".join(missing)


def test_grants_no_call_uses_are_only_the_known_ones(default: Synth, scenario_calls: set[AwsCall]) -> None:
    _, used = evaluate(default, scenario_calls)
    unused = unused_grants(default, used)
    # what the suite's records (when there are any) use is used: they may only shrink the list
    _, used_by_suite = evaluate(default, scenario_calls | suite_calls())
    assert set(unused_grants(default, used_by_suite)) <= set(unused)
    for function, action, resource in sorted(unused):
        warnings.warn(f"unused grant: {function} {action} on {resource}", stacklevel=1)
    grown = sorted(set(unused) - set(KNOWN_UNUSED))
    granted = {
        (f.name, a, describe(default, r)) for f in TOPOLOGY.functions for _, a, r in grants(default, f.name)
    }
    gone = sorted((set(KNOWN_UNUSED) & granted) - set(unused))  # a known one a scenario now uses
    assert not grown, "grants no call uses (remove them, or keep them with a reason):\n" + "\n".join(
        map(str, grown)
    )
    assert not gone, "known unused grants a call now uses (drop them from the list):\n" + "\n".join(
        map(str, gone)
    )


# -- the recorder itself ----------------------------------------------------------------------------
def test_a_transaction_needs_the_item_level_action_of_each_of_its_items() -> None:
    items = [
        {"Put": {"TableName": "comeback", "Item": {}}},
        {"Delete": {"TableName": "comeback", "Key": {}}},
        {"ConditionCheck": {"TableName": "comeback", "Key": {}}},
    ]
    assert accesses("dynamodb", "TransactWriteItems", {"TransactItems": items}) == [
        ("dynamodb:ConditionCheckItem", "table/comeback"),
        ("dynamodb:DeleteItem", "table/comeback"),
        ("dynamodb:PutItem", "table/comeback"),
    ]


def test_calls_are_named_by_the_resource_they_touch() -> None:
    url = "https://sqs.ap-northeast-1.amazonaws.com/123456789012/comeback-outbox"
    assert accesses("dynamodb", "Query", {"TableName": "comeback", "IndexName": "due"}) == [
        ("dynamodb:Query", "table/comeback/index/due")
    ]
    assert accesses("sqs", "SendMessageBatch", {"QueueUrl": url}) == [
        ("sqs:SendMessage", "queue/comeback-outbox")
    ]
    assert accesses("events", "PutEvents", {"Entries": [{"EventBusName": "comeback"}, {}]}) == [
        ("events:PutEvents", "event-bus/comeback"),
        ("events:PutEvents", "event-bus/default"),
    ]
    assert accesses(
        "sesv2",
        "SendEmail",
        {"FromEmailAddress": "Shop <news@Shop.example.com>", "ConfigurationSetName": "cs"},
    ) == [("ses:SendEmail", "identity/shop.example.com"), ("ses:SendEmail", "configuration-set/cs")]
    raw = {"FromEmailAddress": "news@shop.example.com", "Content": {"Raw": {"Data": b""}}}
    assert accesses("sesv2", "SendEmail", raw) == [
        ("ses:SendEmail", "identity/shop.example.com"),
        ("ses:SendRawEmail", "identity/shop.example.com"),
    ], "a raw send is authorised as SendRawEmail too"
    assert accesses("ssm", "GetParameter", {"Name": "/comeback/shops/demo", "WithDecryption": True}) == [
        ("ssm:GetParameter", "parameter/comeback/shops/demo")
    ]
    assert accesses("kms", "Encrypt", {"KeyId": "k"}) == [("kms:Encrypt", "?")], "unknown: never guessed"


def test_a_missing_grant_fails_with_one_line_naming_the_call(default: Synth) -> None:
    call = AwsCall("preferences", "sqs", "SendMessage", "sqs:SendMessage", "queue/outbox")
    missing, _ = evaluate(default, {call})
    assert missing == [
        "preferences: SendMessage needs sqs:SendMessage on <AWS::SQS::Queue comeback-outbox> "
        "(queue/outbox), which its role does not grant"
    ]
    unknown = AwsCall("sweep", "kms", "Encrypt", "kms:Encrypt", "?")
    assert evaluate(default, {unknown})[0] == [
        "sweep: Encrypt needs kms:Encrypt on ?, which is no resource of the stack"
    ]


def test_a_shop_secret_needs_the_path_grant_and_the_key_through_parameter_store_for_that_path(
    default: Synth,
) -> None:
    read = AwsCall("ingest", "ssm", "GetParameter", "ssm:GetParameter", "parameter/comeback/shops/demo")
    assert evaluate(default, {read})[0] == []
    # the sender reads the token key only: neither the parameter nor its decrypt is granted to it
    assert len(evaluate(default, {read._replace(function="sender")})[0]) == 2
    token = read._replace(function="sender", resource="parameter/comeback/unsubscribe-key")
    assert evaluate(default, {token})[0] == []
    # ingest reads the shops' path only, not the token key next to it
    assert len(evaluate(default, {token._replace(function="ingest")})[0]) == 2


def test_recording_is_off_unless_started_and_only_inside_a_function() -> None:
    from botocore.stub import Stubber

    settings = Settings(region="us-east-1", aws_endpoint_url="http://127.0.0.1:9")
    aws.reset()
    # another test module of this process (the integration suite's session recorder) may watch too
    others = list(aws._hooks)
    before = aws.client("sqs", settings)  # made before the recorder starts: watched from the start
    recorder = Recorder().start()
    after = aws.client("sqs", settings.model_copy(update={"aws_endpoint_url": "http://127.0.0.1:10"}))
    try:
        for client in (before, after):
            with Stubber(client) as stub:
                for _ in range(3):
                    stub.add_response("send_message", {"MessageId": "m", "MD5OfMessageBody": "x"})
                client.send_message(QueueUrl="http://127.0.0.1:9/123456789012/outbox", MessageBody="set-up")
                with recording.running("sweep"):
                    client.send_message(QueueUrl="http://127.0.0.1:9/123456789012/outbox", MessageBody="b")
                recorder.stop()
                with recording.running("sweep"):
                    client.send_message(QueueUrl="http://127.0.0.1:9/123456789012/outbox", MessageBody="c")
                recorder.start()
    finally:
        recorder.stop()
        aws.reset()
    assert recorder.calls() == {AwsCall("sweep", "sqs", "SendMessage", "sqs:SendMessage", "queue/outbox"): 2}
    assert aws._hooks == others  # off again: clients made from now on are not watched by it
