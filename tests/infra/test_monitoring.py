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
from infra.constructs.monitoring import BUSINESS_METRICS, OLDEST_MESSAGE_SECONDS
from tests.infra.helpers import ROOT, Synth, flat, function_id, queue_id, ref_id


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
        if r["Properties"].get("DisplayName") == f"{synth.context['stack_name']} alarms"
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
    assert len(dlqs) == len(TOPOLOGY.queues) + 3  # + event delivery, schedules, sweep invocations


def test_every_function_failure_raises_an_alarm_and_a_throttle_shows_where_it_hurts(default: Synth) -> None:
    def watched(metric: str) -> set[str]:
        return {
            ref_id(a["Dimensions"][0]["Value"])
            for a in _alarms(default).values()
            if a.get("MetricName") == metric and a["Namespace"] == "AWS/Lambda" and a["Threshold"] == 1
        }

    api_only = TOPOLOGY.api_only_functions()
    assert api_only == {"ingest", "preferences"}
    # a queue's or a schedule's function has its own errors alarm ...
    queued = {function_id(default, f.name) for f in TOPOLOGY.functions if f.name not in api_only}
    assert watched("Errors") == queued
    # ... an API-only one fails only as a 5xx answer, which pages at the first one
    (five_xx,) = [a for a in _alarms(default).values() if a.get("MetricName") == "5xx"]
    assert five_xx["Threshold"] == 1 and five_xx["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"
    # no throttle alarms: each function's throttle has an alarmed consequence instead
    assert watched("Throttles") == set()
    ages = {
        ref_id(a["Dimensions"][0]["Value"])
        for a in _alarms(default).values()
        if a.get("MetricName") == "ApproximateAgeOfOldestMessage"
    }
    for spec in TOPOLOGY.functions:
        queue = TOPOLOGY.queue_of(spec.name)
        if spec.name in api_only:
            continue  # the 5xx alarm above
        if spec.name in {s.function for s in TOPOLOGY.schedules}:
            # a throttled scheduled invocation is retried for an hour, then sent to the failure
            # queue, whose every message raises an alarm (and the heartbeat misses)
            (config,) = [
                c["Properties"]
                for c in default.of_type("AWS::Lambda::EventInvokeConfig").values()
                if ref_id(c["Properties"]["FunctionName"]) == function_id(default, spec.name)
            ]
            assert config["MaximumEventAgeInSeconds"] == 3600
            failures = config["DestinationConfig"]["OnFailure"]["Destination"]
            assert any(
                a.get("MetricName") == "ApproximateNumberOfMessagesVisible"
                and ref_id(a["Dimensions"][0]["Value"]) == ref_id(failures)
                for a in _alarms(default).values()
            ), spec.name
        assert queue is not None, spec.name
        assert queue_id(default, queue.name) in ages, spec.name


@pytest.mark.parametrize(
    ("metric", "threshold"), [("Reputation.BounceRate", 0.02), ("Reputation.ComplaintRate", 0.0005)]
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
    assert alarm["Threshold"] == 1  # every 5xx: it is ingest's and preferences' error alarm too


def test_the_alarm_topic_is_under_the_secrets_key_cloudwatch_may_use_for_it_only(default: Synth) -> None:
    topic = default.props(_topic(default))
    prefix = default.context["stack_name"]
    assert topic["TopicName"] == f"{prefix}-alarms"
    (key_id,) = default.of_type("AWS::KMS::Key")  # one key: the secrets key
    assert ref_id(topic["KmsMasterKeyId"]) == key_id
    key = default.resources[key_id]["Properties"]
    assert "secrets" in key["Description"] and key["EnableKeyRotation"] is True
    (cloudwatch,) = [
        s
        for s in key["KeyPolicy"]["Statement"]
        if s.get("Principal") == {"Service": "cloudwatch.amazonaws.com"}
    ]
    assert set(cloudwatch["Action"]) == {"kms:Decrypt", "kms:GenerateDataKey*"}
    # only for what SNS encrypts for this topic (a parameter's context is its own ARN) ...
    equals = cloudwatch["Condition"]["StringEquals"]
    assert flat(equals["kms:EncryptionContext:aws:sns:topicArn"]).endswith(f":{prefix}-alarms")
    assert "AWS::AccountId" in flat(equals["aws:SourceAccount"])
    # ... and on behalf of this stack's alarms, whose names all match the pattern
    pattern = flat(cloudwatch["Condition"]["ArnLike"]["aws:SourceArn"])
    assert pattern.endswith(f":alarm:{prefix}-*")
    assert all(name.startswith(f"{prefix}-") for name in _alarms(default))
    # no other service may use the key (the functions' grants are in their roles, via Parameter Store)
    statements = key["KeyPolicy"]["Statement"]
    services = [s["Principal"]["Service"] for s in statements if "Service" in s["Principal"]]
    assert services == ["cloudwatch.amazonaws.com"]
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


def _dashboard_queries(synth: Synth) -> list[str]:
    (dashboard,) = synth.of_type("AWS::CloudWatch::Dashboard").values()
    body = json.loads(re.sub(r"<[^>]+>", "token", flat(dashboard["Properties"]["DashboardBody"])))
    return [w["properties"]["query"] for w in body["widgets"] if w["type"] == "log"]


def _written(function: str, metric: str) -> dict[str, Any]:
    """The log line Powertools writes when `function` counts `metric`, with the env the stack sets."""
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
    return next(json.loads(line) for line in answer.stdout.splitlines() if line.startswith("{"))


@pytest.mark.parametrize(
    ("function", "metric"), [("sender", "EmailsSent"), ("ses_events", "EmailsBounced"), ("sweep", "SweepRan")]
)
def test_dashboard_sums_the_log_fields_powertools_writes(default: Synth, function: str, metric: str) -> None:
    from comeback.app.observability import CLOUDWATCH_METRICS

    line = _written(function, metric)
    assert line.get("service") == function
    if metric in CLOUDWATCH_METRICS:  # a metric: graphed as one, with the dimensions EMF gave it
        (directive,) = line["_aws"]["CloudWatchMetrics"]
        dimensions = {name: line[name] for names in directive["Dimensions"] for name in names}
        graphed = [m for m in _dashboard_metrics(default) if m[1] == metric]
        assert graphed, metric
        namespace, _, *pairs = graphed[0][:-1]
        assert namespace == directive["Namespace"]
        assert dict(zip(pairs[::2], pairs[1::2], strict=True)) == dimensions
        return
    assert line[f"count_{metric}"] == 1
    assert any(f"sum(count_{metric})" in query for query in _dashboard_queries(default)), metric


def test_alarmed_custom_metrics_are_the_ones_the_code_makes_metrics(default: Synth) -> None:
    """An alarm on a Comeback metric the code writes only to its logs would wait for data forever."""
    from comeback.app.observability import CLOUDWATCH_METRICS

    watched = {
        (a["MetricName"], a["Dimensions"][0]["Value"])
        for a in _alarms(default).values()
        if a.get("Namespace") == "Comeback"
    }
    assert watched, "no alarm on the engine's own metrics"
    for name, service in watched:
        assert name in CLOUDWATCH_METRICS and service in CLOUDWATCH_METRICS[name].functions, name
        assert CLOUDWATCH_METRICS[name].dimension is None  # the alarm names service only
    # and the dashboard graphs no Comeback metric the code does not make (it would stay empty)
    graphed = {m[1] for m in _dashboard_metrics(default) if m[0] == "Comeback"}
    assert graphed == set(CLOUDWATCH_METRICS)


def test_dashboard_has_every_business_metric(default: Synth) -> None:
    queries = "\n".join(_dashboard_queries(default))
    from comeback.app.observability import CLOUDWATCH_METRICS

    graphed = set(re.findall(r"sum\(count_(\w+)\)", queries)) | set(CLOUDWATCH_METRICS)
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
    # each graphed name is one the code counts (a typo here would graph nothing, silently)
    code = [*(ROOT / "shared" / "comeback").rglob("*.py"), *(ROOT / "functions").rglob("*.py")]
    sources = "\n".join(p.read_text(encoding="utf-8") for p in code)
    # the sender counts `<Campaign>EmailsSent` for each campaign (WinbackEmailsSent ...)
    per_campaign = 'count(f"{request.campaign.capitalize()}EmailsSent")' in sources
    missing = [
        n for n in wanted if f'"{n}"' not in sources and not (per_campaign and n.endswith("EmailsSent"))
    ]
    assert not missing


def _slug(heading: str) -> str:
    """The anchor GitHub gives a Markdown heading."""
    text = heading.lstrip("#").strip().lower().replace("`", "")
    return re.sub(r"[^a-z0-9 _-]", "", text).replace(" ", "-")


def test_every_alarm_says_what_to_do_and_links_its_runbook_section(default: Synth) -> None:
    runbook = (ROOT / "docs" / "runbook.md").read_text(encoding="utf-8")
    anchors = {_slug(line) for line in runbook.splitlines() if line.startswith("#")}
    prefix = f"{default.context['stack_name']}-"
    for name, alarm in _alarms(default).items():
        assert name.startswith(prefix), name
        description = alarm["AlarmDescription"]
        assert "Do: " in description, name
        link = re.fullmatch(r".*\. Runbook: docs/runbook\.md#([a-z0-9_-]+)", description)
        assert link, description
        assert link[1] in anchors, f"docs/runbook.md has no section {link[1]} ({name})"
        # the section is the alarm's own, or the one of every function's (queue's) alarm of its kind
        short = name.removeprefix(prefix)
        assert link[1] == short or short.endswith(link[1].split("-", 1)[1]), name


def _only(synth: Synth, metric: str, **dimensions: str) -> dict[str, Any]:
    found = [
        a
        for a in _alarms(synth).values()
        if a.get("MetricName") == metric
        and all(
            any(d["Name"] == k and d["Value"] == v for d in a.get("Dimensions", []))
            for k, v in dimensions.items()
        )
    ]
    assert len(found) == 1, (metric, dimensions, len(found))
    return found[0]


def test_the_oldest_message_of_each_work_queue_raises_an_alarm(default: Synth) -> None:
    for spec in TOPOLOGY.queues:
        (alarm,) = [
            a
            for a in _alarms(default).values()
            if a.get("MetricName") == "ApproximateAgeOfOldestMessage"
            and ref_id(a["Dimensions"][0]["Value"]) == queue_id(default, spec.name)
        ]
        assert alarm["Threshold"] == OLDEST_MESSAGE_SECONDS[spec.name]
        assert alarm["ComparisonOperator"] == "GreaterThanThreshold"
        assert alarm["Statistic"] == "Maximum"


def test_a_sweep_that_did_not_run_for_two_hours_raises_an_alarm_even_without_data(default: Synth) -> None:
    alarm = _only(default, "SweepRan", service="sweep")
    assert alarm["Namespace"] == "Comeback"
    assert (alarm["Period"], alarm["EvaluationPeriods"]) == (3600, 2)
    assert (alarm["Threshold"], alarm["ComparisonOperator"]) == (1, "LessThanThreshold")
    assert alarm["TreatMissingData"] == "breaching"  # no heartbeat at all is the failure


def test_sweep_units_that_keep_stopping_short_raise_an_alarm(default: Synth) -> None:
    alarm = _only(default, "SweepShardsUnfinished", service="sweep")
    assert (alarm["Period"], alarm["EvaluationPeriods"], alarm["Threshold"]) == (3600, 3, 1)
    assert alarm["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"


def test_the_sweep_counts_its_heartbeat_and_its_unfinished_units() -> None:
    """The metrics the two sweep alarms watch are the ones the sweep counts."""
    from collections import Counter
    from datetime import UTC, datetime

    from comeback.app import observability
    from comeback.app.sweep import Sweep

    class Work:
        def __init__(self) -> None:
            self.sent: list[dict[str, Any]] = []

        def send(self, bodies: Any) -> None:
            self.sent += list(bodies)

    class Clock:
        def now(self) -> datetime:
            return datetime(2026, 11, 24, tzinfo=UTC)

    saved, observability.local_counts = observability.local_counts, Counter()
    try:
        sweep = Sweep(None, None, None, None, None, Clock(), 2, work=Work())  # type: ignore[arg-type]
        sweep._sweep_shard = lambda *args: "next-page"  # type: ignore[method-assign]
        sweep.fan_out()
        sweep.run_unit({"shard": "0", "now": None, "cursor": None})
        assert observability.local_counts == Counter({"SweepRan": 1, "SweepShardsUnfinished": 1})
    finally:
        observability.local_counts = saved


@pytest.mark.parametrize(
    ("function", "metric", "threshold"),
    [("sender", "MessagesNeedReview", 1), ("sender", "SendingPaused", 1), ("ingest", "ShopRefused", 50)],
)
def test_business_failures_raise_an_alarm(default: Synth, function: str, metric: str, threshold: int) -> None:
    alarm = _only(default, metric, service=function)
    assert alarm["Namespace"] == "Comeback"
    assert alarm["Statistic"] == "Sum"
    assert (alarm["Threshold"], alarm["ComparisonOperator"]) == (threshold, "GreaterThanOrEqualToThreshold")


def test_a_function_running_near_its_timeout_raises_an_alarm(default: Synth) -> None:
    for spec in TOPOLOGY.functions:
        (alarm,) = [
            a
            for a in _alarms(default).values()
            if a.get("MetricName") == "Duration"
            and ref_id(a["Dimensions"][0]["Value"]) == function_id(default, spec.name)
        ]
        assert alarm["ExtendedStatistic"] == "p99"
        # the sweep stops its units 20 s before the end on purpose: watched past that point
        wanted = (
            (spec.timeout_seconds - 10) * 1000 if spec.name == "sweep" else 0.8 * spec.timeout_seconds * 1000
        )
        assert alarm["Threshold"] == wanted, spec.name
        assert alarm["ComparisonOperator"] == "GreaterThanThreshold"


def test_dynamodb_throttled_reads_or_writes_raise_an_alarm(default: Synth) -> None:
    (table,) = default.of_type("AWS::DynamoDB::Table")
    (alarm,) = [
        a
        for a in _alarms(default).values()
        if any(
            m.get("MetricStat", {}).get("Metric", {}).get("MetricName") == "WriteThrottleEvents"
            for m in a.get("Metrics", [])
        )
    ]
    watched = {
        m["MetricStat"]["Metric"]["MetricName"]: m["MetricStat"]["Metric"]["Dimensions"]
        for m in alarm["Metrics"]
        if "MetricStat" in m
    }
    assert set(watched) == {"ReadThrottleEvents", "WriteThrottleEvents"}
    for dimensions in watched.values():
        assert [(d["Name"], ref_id(d["Value"])) for d in dimensions] == [("TableName", table)]
    assert (alarm["Threshold"], alarm["ComparisonOperator"]) == (1, "GreaterThanOrEqualToThreshold")


def test_the_cost_model_counts_the_alarms_and_their_metrics_the_stack_creates(default: Synth) -> None:
    from bench import cost

    alarms = list(default.of_type("AWS::CloudWatch::Alarm").values())
    assert len(alarms) == cost.ALARMS
    # an alarm is billed per metric it evaluates: one, or each metric of its expression
    metrics = sum(
        len([m for m in a["Properties"].get("Metrics", []) if "MetricStat" in m]) or 1 for a in alarms
    )
    assert metrics == cost.ALARM_METRICS


def test_the_cost_model_counts_the_kms_keys_the_stack_creates(default: Synth) -> None:
    from bench import cost

    assert len(default.of_type("AWS::KMS::Key")) == cost.KMS_KEYS
