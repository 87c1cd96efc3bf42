"""The topology declared in the package is what the stack deploys, and what the local runtime emulates."""

from __future__ import annotations

import json
from typing import Any

import pytest

from comeback.app.topology import DEFAULT_BUS, TOPOLOGY
from infra.constructs.events import bus_physical_name, stack_pattern
from tests.infra.helpers import Synth, flat, function_id, queue_id, ref_id


def test_every_function_of_the_topology_is_deployed_with_its_memory_and_timeout(default: Synth) -> None:
    assert len(default.of_type("AWS::Lambda::Function")) == len(TOPOLOGY.functions)
    for spec in TOPOLOGY.functions:
        props = default.props(function_id(default, spec.name))
        assert props["MemorySize"] == spec.memory_mb
        assert props["Timeout"] == spec.timeout_seconds
        assert props["Handler"] == spec.lambda_handler


def test_every_queue_has_its_dlq_redrive_and_visibility_from_the_topology(default: Synth) -> None:
    for spec in TOPOLOGY.queues:
        props = default.props(queue_id(default, spec.name))
        redrive = props["RedrivePolicy"]
        assert ref_id(redrive["deadLetterTargetArn"]) == queue_id(default, spec.dlq_name)
        assert redrive["maxReceiveCount"] == spec.max_receive_count
        assert props["VisibilityTimeout"] == TOPOLOGY.visibility_timeout(spec)


def test_each_queue_feeds_its_consumer_with_the_topology_batch_size(default: Synth) -> None:
    mappings = default.of_type("AWS::Lambda::EventSourceMapping").values()
    wiring = {
        (ref_id(m["Properties"]["EventSourceArn"]), ref_id(m["Properties"]["FunctionName"])): m["Properties"]
        for m in mappings
    }
    assert len(wiring) == len(TOPOLOGY.queues)
    for spec in TOPOLOGY.queues:
        props = wiring[(queue_id(default, spec.name), function_id(default, spec.consumer))]
        assert props["BatchSize"] == spec.batch_size


def _rule(synth: Synth, name: str) -> dict[str, Any]:
    wanted = f"{synth.context['stack_name']}-{name}"
    found = [
        r["Properties"]
        for r in synth.of_type("AWS::Events::Rule").values()
        if r["Properties"]["Name"] == wanted
    ]
    assert len(found) == 1, wanted
    return found[0]


def _topology_pattern(synth: Synth, spec: Any) -> dict[str, Any]:
    """The topology's pattern, plus the stack's configuration set on the shared default bus's SES rule."""
    (configuration_set,) = synth.of_type("AWS::SES::ConfigurationSet").values()
    return stack_pattern(spec, configuration_set["Properties"]["Name"])


@pytest.mark.parametrize("spec", TOPOLOGY.rules, ids=lambda r: r.name)
def test_every_rule_routes_its_pattern_from_its_bus_to_its_queue(default: Synth, spec: Any) -> None:
    props = _rule(default, spec.name)
    assert props["EventPattern"] == _topology_pattern(default, spec)
    if spec.bus == DEFAULT_BUS:
        assert props["EventBusName"] == "default"  # SES publishes to the account's default bus
    else:
        bus = default.props(ref_id(props["EventBusName"]))
        assert bus["Name"] == bus_physical_name(spec.bus, default.context["stack_name"])
    (target,) = props["Targets"]
    assert ref_id(target["Arn"]) == queue_id(default, spec.queue)


def test_every_route_of_the_topology_reaches_its_function(default: Synth) -> None:
    routes = {
        r["Properties"]["RouteKey"]: r["Properties"]
        for r in default.of_type("AWS::ApiGatewayV2::Route").values()
    }
    assert set(routes) == {f"{r.method} {r.path}" for r in TOPOLOGY.routes}
    for spec in TOPOLOGY.routes:
        target = flat(routes[f"{spec.method} {spec.path}"]["Target"])
        integration = default.props(target.removeprefix("integrations/").strip("<>"))
        assert integration["IntegrationType"] == "AWS_PROXY"
        assert integration["PayloadFormatVersion"] == "2.0"
        assert ref_id(integration["IntegrationUri"]) == function_id(default, spec.function)


def test_every_schedule_of_the_topology_invokes_its_function(default: Synth) -> None:
    schedules = {
        s["Properties"]["Name"]: s["Properties"] for s in default.of_type("AWS::Scheduler::Schedule").values()
    }
    assert len(schedules) == len(TOPOLOGY.schedules)
    for spec in TOPOLOGY.schedules:
        props = schedules[f"{default.context['stack_name']}-{spec.name}"]
        assert props["ScheduleExpression"] == spec.expression
        assert ref_id(props["Target"]["Arn"]) == function_id(default, spec.function)


def _moto_client(service: str) -> Any:
    import boto3

    return boto3.client(service, region_name="us-east-1")


def test_the_local_runtime_provisions_the_same_queues_and_rules_as_the_stack(default: Synth) -> None:
    """Same topology, same shape: redrive, visibility and rule patterns agree between laptop and cloud."""
    from moto import mock_aws

    from comeback.local.emulator import provision

    with mock_aws():
        local = provision(_moto_client, "comeback", "comeback", "/comeback/unsubscribe-key")
        sqs, events = _moto_client("sqs"), _moto_client("events")
        for spec in TOPOLOGY.queues:
            attributes = sqs.get_queue_attributes(
                QueueUrl=local.queue_urls[spec.name], AttributeNames=["All"]
            )["Attributes"]
            cloud = default.props(queue_id(default, spec.name))
            assert int(attributes["VisibilityTimeout"]) == cloud["VisibilityTimeout"]
            local_redrive = json.loads(attributes["RedrivePolicy"])
            assert int(local_redrive["maxReceiveCount"]) == cloud["RedrivePolicy"]["maxReceiveCount"]
            assert local_redrive["deadLetterTargetArn"].endswith(f":{spec.dlq_name}")
        for spec in TOPOLOGY.rules:
            local_rule = events.describe_rule(Name=spec.name, EventBusName=spec.bus)
            # the laptop runs one configuration set, so it needs no filter on it (test_stages.py)
            cloud = {k: v for k, v in _rule(default, spec.name)["EventPattern"].items()}
            if spec.bus == DEFAULT_BUS:
                cloud.pop("detail")
            assert json.loads(local_rule["EventPattern"]) == cloud
            (target,) = events.list_targets_by_rule(Rule=spec.name, EventBusName=spec.bus)["Targets"]
            assert target["Arn"] == local.queue_arns[spec.queue]
