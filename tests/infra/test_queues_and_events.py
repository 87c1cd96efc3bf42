"""Queues, event sources and the event bus: the reliability settings DESIGN.md §3 asks for."""

from __future__ import annotations

from typing import Any

from comeback.app.topology import BATCHING_WINDOW_SECONDS, BUS_NAME, TOPOLOGY, sender_concurrency
from tests.infra.helpers import Synth, as_list, function_id, queue_id, ref_id


def _queue_policies(synth: Synth) -> dict[str, list[dict[str, Any]]]:
    policies: dict[str, list[dict[str, Any]]] = {}
    for policy in synth.of_type("AWS::SQS::QueuePolicy").values():
        for queue in policy["Properties"]["Queues"]:
            policies.setdefault(ref_id(queue), []).extend(policy["Properties"]["PolicyDocument"]["Statement"])
    return policies


def test_every_queue_is_encrypted_and_refuses_anything_but_tls(default: Synth) -> None:
    queues = default.of_type("AWS::SQS::Queue")
    policies = _queue_policies(default)
    # the topology's queues and DLQs, the event delivery DLQ, the schedules' DLQ and the sweep's
    # failed asynchronous invocations
    assert len(queues) == 2 * len(TOPOLOGY.queues) + 3
    for logical_id, queue in queues.items():
        assert queue["Properties"].get("SqsManagedSseEnabled") is True, logical_id
        denies = [
            s
            for s in policies[logical_id]
            if s["Effect"] == "Deny"
            and s["Action"] == "sqs:*"
            and s["Principal"] == {"AWS": "*"}
            and s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
        ]
        assert denies, f"{logical_id} accepts plain HTTP"


def _mapping(synth: Synth, queue: str) -> dict[str, Any]:
    (found,) = [
        m["Properties"]
        for m in synth.of_type("AWS::Lambda::EventSourceMapping").values()
        if ref_id(m["Properties"]["EventSourceArn"]) == queue_id(synth, queue)
    ]
    return found


def test_visibility_timeout_is_six_times_the_consumer_timeout_plus_the_batching_window(
    default: Synth,
) -> None:
    for spec in TOPOLOGY.queues:
        visibility = default.props(queue_id(default, spec.name))["VisibilityTimeout"]
        timeout = default.props(function_id(default, spec.consumer))["Timeout"]
        window = _mapping(default, spec.name).get("MaximumBatchingWindowInSeconds", 0)
        assert visibility >= 6 * timeout + window, spec.name


def test_the_queues_eventbridge_feeds_wait_to_fill_batches_of_ten(default: Synth) -> None:
    # one message per event: without a window a quiet stack's batches are one message each
    for name in ("contacts", "ses_events"):
        mapping = _mapping(default, name)
        assert mapping["BatchSize"] == 10, name
        assert mapping["MaximumBatchingWindowInSeconds"] == BATCHING_WINDOW_SECONDS == 5, name
    # the outbox is filled ten at a time by the sweep, and a window would delay every email
    assert "MaximumBatchingWindowInSeconds" not in _mapping(default, "outbox")


def test_dead_letter_queues_keep_messages_fourteen_days(default: Synth) -> None:
    for spec in TOPOLOGY.queues:
        assert default.props(queue_id(default, spec.dlq_name))["MessageRetentionPeriod"] == 14 * 24 * 3600


def test_every_event_source_reports_batch_item_failures(default: Synth) -> None:
    mappings = default.of_type("AWS::Lambda::EventSourceMapping")
    assert len(mappings) == len(TOPOLOGY.queues)
    for mapping in mappings.values():
        assert mapping["Properties"]["FunctionResponseTypes"] == ["ReportBatchItemFailures"]


def _sender_mapping(synth: Synth) -> dict[str, Any]:
    sender = function_id(synth, "sender")
    (found,) = [
        m["Properties"]
        for m in synth.of_type("AWS::Lambda::EventSourceMapping").values()
        if ref_id(m["Properties"]["FunctionName"]) == sender
    ]
    return found


def test_sender_concurrency_follows_the_ses_send_rate(default: Synth, variant: Synth) -> None:
    for synth, rate in ((default, 14.0), (variant, 100.0)):
        expected = sender_concurrency(rate)
        assert _sender_mapping(synth)["ScalingConfig"] == {"MaximumConcurrency": expected}
        env = synth.props(function_id(synth, "sender"))["Environment"]["Variables"]
        assert env["COMEBACK_SENDER_CONCURRENCY"] == str(expected)
    assert sender_concurrency(14.0) != sender_concurrency(100.0)  # the two cases differ


def test_only_the_sender_event_source_is_capped(default: Synth) -> None:
    sender = function_id(default, "sender")
    for mapping in default.of_type("AWS::Lambda::EventSourceMapping").values():
        if ref_id(mapping["Properties"]["FunctionName"]) != sender:
            assert "ScalingConfig" not in mapping["Properties"]


def test_eventbridge_may_send_to_a_rule_queue_only_on_behalf_of_that_rule(default: Synth) -> None:
    policies = _queue_policies(default)
    rules = {r["Properties"]["Name"]: k for k, r in default.of_type("AWS::Events::Rule").items()}
    for spec in TOPOLOGY.rules:
        rule_id = rules[f"{default.context['stack_name']}-{spec.name}"]
        grants = [
            s
            for s in policies[queue_id(default, spec.queue)]
            if s["Effect"] == "Allow" and s.get("Principal") == {"Service": "events.amazonaws.com"}
        ]
        assert grants, spec.name
        for grant in grants:
            assert "sqs:SendMessage" in as_list(grant["Action"])
            assert ref_id(grant["Condition"]["ArnEquals"]["aws:SourceArn"]) == rule_id
    # nobody else is allowed anything on any queue
    for statements in policies.values():
        for statement in statements:
            if statement["Effect"] == "Allow":
                assert statement["Principal"] == {"Service": "events.amazonaws.com"}
                assert "ArnEquals" in statement["Condition"]


def test_undeliverable_events_land_in_a_dead_letter_queue_after_retries(default: Synth) -> None:
    delivery_dlq = queue_id(default, "event-delivery-dlq")
    for rule in default.of_type("AWS::Events::Rule").values():
        (target,) = rule["Properties"]["Targets"]
        assert ref_id(target["DeadLetterConfig"]["Arn"]) == delivery_dlq
        assert target["RetryPolicy"]["MaximumEventAgeInSeconds"] == 24 * 3600


def test_the_shop_event_bus_is_archived_for_replay(default: Synth) -> None:
    (bus_id,) = [
        k for k, r in default.of_type("AWS::Events::EventBus").items() if r["Properties"]["Name"] == BUS_NAME
    ]
    (archive,) = default.of_type("AWS::Events::Archive").values()
    assert ref_id(archive["Properties"]["SourceArn"]) == bus_id
    assert archive["Properties"]["RetentionDays"] == default.context["archive_retention_days"]
