"""Alarms reach the operator; the dashboard graphs the metrics the functions really emit."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from typing import Any

import pytest

from comeback.app.topology import TOPOLOGY
from infra.constructs.monitoring import BUSINESS_METRICS
from tests.infra.helpers import ROOT, Synth, flat, function_id, ref_id


def _alarms(synth: Synth) -> dict[str, dict[str, Any]]:
    return {
        a["Properties"]["AlarmName"]: a["Properties"]
        for a in synth.of_type("AWS::CloudWatch::Alarm").values()
    }


def _topic(synth: Synth) -> str:
    """The alarm topic (the other one carries follow-up tasks: test_functions_and_iam.py)."""
    (topic,) = [
        k
        for k, r in synth.of_type("AWS::SNS::Topic").items()
        if r["Properties"].get("DisplayName") == "comeback alarms"
    ]
    return topic


def test_every_alarm_notifies_the_topic_when_it_fires_and_clears(default: Synth) -> None:
    topic = _topic(default)
    for name, alarm in _alarms(default).items():
        assert [ref_id(a) for a in alarm["AlarmActions"]] == [topic], name
        assert [ref_id(a) for a in alarm["OKActions"]] == [topic], name


def test_any_message_in_any_dead_letter_queue_raises_an_alarm(default: Synth) -> None:
    dlqs = {
        k
        for k, q in default.of_type("AWS::SQS::Queue").items()
        if q["Properties"]["QueueName"].endswith("-dlq")
    }
    watched = set()
    for alarm in _alarms(default).values():
        if (
            alarm.get("MetricName") == "ApproximateNumberOfMessagesVisible"
            and alarm["Namespace"] == "AWS/SQS"
        ):
            assert alarm["Threshold"] == 1
            assert alarm["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"
            (dimension,) = alarm["Dimensions"]
            watched.add(ref_id(dimension["Value"]))
    assert watched == dlqs
    assert len(dlqs) == len(TOPOLOGY.queues) + 2


def test_every_function_error_and_throttle_raises_an_alarm(default: Synth) -> None:
    for metric in ("Errors", "Throttles"):
        watched = {
            ref_id(a["Dimensions"][0]["Value"])
            for a in _alarms(default).values()
            if a.get("MetricName") == metric and a["Namespace"] == "AWS/Lambda" and a["Threshold"] == 1
        }
        assert watched == {function_id(default, f.name) for f in TOPOLOGY.functions}, metric


@pytest.mark.parametrize(
    ("metric", "threshold"), [("Reputation.BounceRate", 0.02), ("Reputation.ComplaintRate", 0.001)]
)
def test_ses_reputation_alarms_fire_before_ses_reviews_the_account(
    default: Synth, metric: str, threshold: float
) -> None:
    (alarm,) = [a for a in _alarms(default).values() if a.get("MetricName") == metric]
    assert alarm["Namespace"] == "AWS/SES"
    assert alarm["Threshold"] == threshold
    assert alarm["ComparisonOperator"] == "GreaterThanThreshold"
    assert "Dimensions" not in alarm  # the account's reputation


def test_api_server_errors_raise_an_alarm(default: Synth) -> None:
    (alarm,) = [a for a in _alarms(default).values() if a.get("MetricName") == "5xx"]
    assert alarm["Namespace"] == "AWS/ApiGateway"
    (api,) = default.of_type("AWS::ApiGatewayV2::Api")
    assert [(d["Name"], ref_id(d["Value"])) for d in alarm["Dimensions"]] == [("ApiId", api)]


def test_the_alarm_topic_is_encrypted_with_a_key_cloudwatch_may_use_and_tls_only(default: Synth) -> None:
    topic = default.props(_topic(default))
    key = default.resources[ref_id(topic["KmsMasterKeyId"])]["Properties"]
    assert key["EnableKeyRotation"] is True
    cloudwatch = [
        s
        for s in key["KeyPolicy"]["Statement"]
        if s.get("Principal") == {"Service": "cloudwatch.amazonaws.com"}
    ]
    assert cloudwatch and set(cloudwatch[0]["Action"]) == {"kms:Decrypt", "kms:GenerateDataKey*"}
    # both topics (alarms, follow-up tasks) refuse plain HTTP
    policies = list(default.of_type("AWS::SNS::TopicPolicy").values())
    assert len(policies) == 2
    for policy in policies:
        (deny,) = policy["Properties"]["PolicyDocument"]["Statement"]
        assert deny["Effect"] == "Deny"
        assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


def test_alarm_email_is_subscribed_only_when_given(default: Synth, variant: Synth) -> None:
    assert default.of_type("AWS::SNS::Subscription") == {}
    (subscription,) = variant.of_type("AWS::SNS::Subscription").values()
    assert subscription["Properties"]["Protocol"] == "email"
    assert subscription["Properties"]["Endpoint"] == variant.context["alarm_email"]


def _dashboard_metrics(synth: Synth) -> list[list[Any]]:
    (dashboard,) = synth.of_type("AWS::CloudWatch::Dashboard").values()
    body = json.loads(re.sub(r"<[^>]+>", "token", flat(dashboard["Properties"]["DashboardBody"])))
    return [m for widget in body["widgets"] for m in widget["properties"].get("metrics", [])]


def _emitted(function: str, metric: str) -> dict[str, Any]:
    """The EMF document Powertools writes when `function` counts `metric`, with the env the stack sets."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("POWERTOOLS_")}
    env.update({"POWERTOOLS_SERVICE_NAME": function, "POWERTOOLS_METRICS_NAMESPACE": "Comeback"})
    code = (
        f"from comeback.app.observability import count, metrics\ncount({metric!r})\nmetrics.flush_metrics()\n"
    )
    answer = subprocess.run(
        [sys.executable, "-c", code],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return next(
        json.loads(line) for line in answer.stdout.splitlines() if line.startswith("{") and "_aws" in line
    )


@pytest.mark.parametrize(("function", "metric"), [("sender", "EmailsSent"), ("ses_events", "EmailsBounced")])
def test_dashboard_graphs_the_metrics_as_powertools_emits_them(
    default: Synth, function: str, metric: str
) -> None:
    emf = _emitted(function, metric)
    (directive,) = emf["_aws"]["CloudWatchMetrics"]
    dimensions = {name: emf[name] for names in directive["Dimensions"] for name in names}
    graphed = [m for m in _dashboard_metrics(default) if m[1] == metric]
    assert graphed, metric
    namespace, _, *pairs = graphed[0][:-1]
    assert namespace == directive["Namespace"]
    assert dict(zip(pairs[::2], pairs[1::2], strict=True)) == dimensions


def test_dashboard_has_every_business_metric(default: Synth) -> None:
    graphed = {m[1] for m in _dashboard_metrics(default) if m[0] == "Comeback"}
    wanted = {
        name
        for per_function in BUSINESS_METRICS.values()
        for names in per_function.values()
        for name in names
    }
    assert wanted <= graphed
    assert {
        "EventsAccepted",
        "EventsRejected",
        "EventsApplied",
        "EventsDuplicate",
        "ContactsDue",
        "MessagesRequested",
        "EmailsSent",
        "WinbackEmailsSent",
        "MessagesSkipped",
        "MessagesThrottled",
        "MessagesFailed",
        "MessagesNeedReview",
        "EmailsBounced",
    } <= graphed
