"""Alarms to an SNS topic, and a dashboard of what the engine does for the shops.

Every alarm is named `<stack>-<what>-<what to do>` and its description says what it means, what to
do and where the runbook section is (`<runbook_url>#<name without the stack>`, docs/runbook.md):
- any message in any dead-letter queue (work queues, event delivery, schedules, the sweep's failed
  asynchronous invocations);
- the oldest message of a work queue older than its consumer should ever let it get;
- any error of a function a queue or a schedule invokes; a function's p99 duration near its
  timeout (throttles have no alarm of their own: each shows as one of these or as queue age);
- the sweep did not run for two hours (its `SweepRan` heartbeat; missing data is breaching), or its
  units keep stopping before the end of their shard three hours in a row (`SweepShardsUnfinished`);
- a message needs review (`MessagesNeedReview`), SES refused sending (`SendingPaused`), a flood of
  refused shop requests (`ShopRefused`);
- DynamoDB throttled reads or writes on the table;
- SES account reputation: bounce rate over 2 %, complaint rate over 0.05 % (SES reviews an account
  at 5 % / 0.1 % and pauses sending at 10 % / 0.5 %; these fire well before);
- any API 5xx answer (the error and throttle alarm of the functions only the API invokes).

The topic (`<stack>-alarms`) is encrypted with the stack's key, which CloudWatch may use for this
topic's messages only; it refuses anything but TLS and, with context `alarm_email`, mails its
alarms (the address must confirm the subscription).

The dashboard graphs the business metrics the functions emit through Powertools (namespace
`Comeback`, dimension `service`), next to the queues and SES reputation.
"""

from __future__ import annotations

from collections.abc import Mapping

from aws_cdk import ArnFormat, Duration, Stack
from aws_cdk import aws_apigatewayv2 as apigwv2
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as actions
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from comeback.app.observability import CLOUDWATCH_METRICS
from comeback.app.sweep import RESERVE_SECONDS
from comeback.messaging.ses_feedback import METRICS

from .functions import METRICS_NAMESPACE, ComebackFunction

PERIOD = Duration.minutes(5)
HOUR = Duration.hours(1)
AT_LEAST = cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD
ABOVE = cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD
BOUNCE_RATE_THRESHOLD = 0.02
# Half of the 0.1 % at which SES puts an account under review: time to act before the review.
COMPLAINT_RATE_THRESHOLD = 0.0005
# per 5 minutes: a single one pages. It is the error and throttle alarm of the functions only the
# API invokes (ingest, preferences): each failure of theirs is a 5xx answer to a shop or a reader.
API_5XX_THRESHOLD = 1
# Seconds the oldest message of a work queue may wait. Contacts, outbox and SES events are drained
# in seconds (a throttled send is re-queued as a new message, held messages wait in the table);
# sweep units queue behind each other during the hourly fan-out, so they get half an hour.
OLDEST_MESSAGE_SECONDS: dict[str, int] = {"contacts": 900, "outbox": 900, "ses_events": 900, "sweep": 1800}
# A function's p99 duration above this share of its timeout: the next busier day times out.
NEAR_TIMEOUT = 0.8
# Refused shop requests (unknown shop, bad signature) per 5 minutes: a shop's misconfigured signer
# makes a few, a flood or a scan makes this many.
SHOP_REFUSED_THRESHOLD = 50
SWEEP_HEARTBEAT = "SweepRan"  # counted by every fan-out of the hourly sweep (comeback.app.sweep)
SWEEP_UNFINISHED = "SweepShardsUnfinished"  # a unit that stopped before the end of its shard
SWEEP_HEARTBEAT_HOURS = 2
SWEEP_UNFINISHED_HOURS = 3


def ses_feedback_metric(event_type: str) -> str:
    """The metric the ses_events function counts for an SES event type (ses_feedback.Feedback.handle)."""
    return METRICS[event_type]


# What each function counts (comeback.observability.count), as graphed on the dashboard.
NOT_SENT_METRICS = (
    "MessagesSkipped", "MessagesDeferred", "MessagesDropped", "MessagesThrottled", "MessagesFailed",
    "MessagesNeedReview",
)  # fmt: skip
BUSINESS_METRICS: dict[str, dict[str, tuple[str, ...]]] = {
    "Shop events": {
        "ingest": ("EventsAccepted", "EventsRejected"),
        "contacts": ("EventsApplied", "EventsDuplicate"),
    },
    "Sweeps": {
        "sweep": (
            "ContactsDue",
            "MessagesRequested",
            "HeldMessagesReleased",
            SWEEP_HEARTBEAT,
            SWEEP_UNFINISHED,
        )
    },
    "Emails sent": {"sender": ("EmailsSent", "WinbackEmailsSent")},
    "Messages not sent (yet)": {"sender": NOT_SENT_METRICS},
    "SES feedback": {
        "ses_events": tuple(
            ses_feedback_metric(t) for t in ("Delivery", "Open", "Click", "Bounce", "Complaint")
        )
    },
    "Preferences": {"preferences": ("ContactsUnsubscribed", "PreferencesUpdated")},
}


def metric_service(function: str) -> str:
    """The `service` dimension Powertools puts on a function's metrics: POWERTOOLS_SERVICE_NAME,
    which the stack sets to the function's name (comeback/observability.py names no service)."""
    return function


# Names that do not say what they count on their own ("Email Complaint Received" -> EmailsReceived).
LABELS: dict[str, str] = {}


def service_metric(function: str, name: str, period: Duration = PERIOD) -> cloudwatch.Metric:
    """A metric a function counts, summed (no label: an alarm on it stays a plain metric alarm)."""
    return cloudwatch.Metric(
        namespace=METRICS_NAMESPACE,
        metric_name=name,
        dimensions_map={"service": metric_service(function)},
        statistic="Sum",
        period=period,
    )


def business_metric(function: str, name: str) -> cloudwatch.Metric:
    return service_metric(function, name).with_(label=LABELS.get(name, name))


def business_query(per_function: Mapping[str, tuple[str, ...]]) -> list[str]:
    """Logs Insights lines summing a graph's counts per 5 minutes: each is the `count_<Name>` field
    of the function's log (comeback.app.observability); those that are CloudWatch metrics are
    graphed from the metric instead (an EMF value is a list, which Logs Insights does not sum)."""
    names = [n for names in per_function.values() for n in names if n not in CLOUDWATCH_METRICS]
    sums = ", ".join(f"sum(count_{n}) as {LABELS.get(n, n)}" for n in names)
    return ["fields @timestamp", f"stats {sums} by bin(5m)"]


def near_timeout_ms(function: ComebackFunction) -> float:
    """The p99 duration (ms) at which a function is said to run near its timeout.

    The sweep stops a unit RESERVE_SECONDS before its timeout by design (and continues it in a new
    one), so its long units sit near the timeout on a normal day: it is watched above that point."""
    timeout = function.spec.timeout_seconds
    if function.spec.name == "sweep":
        return (timeout - RESERVE_SECONDS / 2) * 1000
    return NEAR_TIMEOUT * timeout * 1000


class Monitoring(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        prefix: str,
        functions: Mapping[str, ComebackFunction],
        dead_letter_queues: Mapping[str, sqs.IQueue],
        work_queues: Mapping[str, sqs.IQueue],
        http_api: apigwv2.HttpApi,
        table: dynamodb.ITable,
        runbook_url: str,
        key: kms.IKey,
        api_only: frozenset[str] = frozenset(),
        alarm_email: str | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        self._prefix = prefix
        self._runbook = runbook_url
        # The topic is encrypted with the stack's one customer-managed key (the secrets key:
        # CloudWatch cannot publish to a topic under the AWS managed SNS key, and a second key
        # would cost $1 a month). CloudWatch may use it only for this topic's messages: SNS asks
        # KMS with the topic's ARN as encryption context, Parameter Store with the parameter's, so
        # this grant decrypts no secret. The topic is named so its ARN is known without a
        # reference to it (the key policy referring to the topic that refers to the key is a cycle).
        stack = Stack.of(self)
        topic_name = f"{prefix}-alarms"
        topic_arn = stack.format_arn(service="sns", resource=topic_name)
        key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="CloudWatchPublishesAlarmsToTheTopic",
                actions=["kms:Decrypt", "kms:GenerateDataKey*"],
                principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
                resources=["*"],  # in a key policy, "*" is this key
                conditions={
                    "StringEquals": {
                        "aws:SourceAccount": stack.account,
                        "kms:EncryptionContext:aws:sns:topicArn": topic_arn,
                    },
                    "ArnLike": {
                        "aws:SourceArn": stack.format_arn(
                            service="cloudwatch",
                            resource="alarm",
                            resource_name=f"{prefix}-*",
                            arn_format=ArnFormat.COLON_RESOURCE_NAME,
                        )
                    },
                },
            )
        )
        self.topic = sns.Topic(
            self,
            "Topic",
            topic_name=topic_name,
            display_name=f"{prefix} alarms",
            master_key=key,
            enforce_ssl=True,
        )
        if alarm_email:
            self.topic.add_subscription(subscriptions.EmailSubscription(alarm_email))
        self.alarms: dict[str, cloudwatch.Alarm] = {}

        for name, queue in dead_letter_queues.items():
            self._alarm(
                f"{name}-dlq-inspect-and-redrive",
                queue.metric_approximate_number_of_messages_visible(
                    period=Duration.minutes(1), statistic="Maximum"
                ),
                threshold=1,
                description=f"A message is in the dead-letter queue {name}",
                action="read why it failed, fix the cause, redrive it",
            )
        for name, queue in work_queues.items():
            seconds = OLDEST_MESSAGE_SECONDS.get(name, 900)
            self._alarm(
                f"{name}-queue-stuck-check-consumer",
                queue.metric_approximate_age_of_oldest_message(period=PERIOD, statistic="Maximum"),
                threshold=seconds,
                comparison=ABOVE,
                description=f"The oldest message of the {name} queue is over {seconds // 60} minutes old",
                action="check its consumer's errors, throttles and concurrency",
                runbook="queue-stuck-check-consumer",
            )
        for name, function in functions.items():
            # No throttle alarm: a throttle loses nothing and shows where it hurts. A throttled
            # queue consumer leaves its messages on the queue (its oldest-message alarm), a
            # throttled sweep is retried by Lambda for an hour and then lands in its failure queue
            # (a DLQ alarm, and the heartbeat), a throttled API function answers 500 (the API's
            # 5xx alarm). The same alarm watches the errors of the API-only functions.
            if name not in api_only:
                self._alarm(
                    f"{name}-errors-read-logs",
                    function.function.metric_errors(period=PERIOD, statistic="Sum"),
                    threshold=1,
                    description=f"The {name} function failed",
                    action="read its logs for the exception",
                    runbook="function-errors-read-logs",
                )
            limit = near_timeout_ms(function)
            self._alarm(
                f"{name}-near-timeout-raise-timeout",
                function.function.metric_duration(period=PERIOD, statistic="p99"),
                threshold=limit,
                comparison=ABOVE,
                description=f"The {name} function's p99 duration is over {limit / 1000:g} s "
                f"(timeout {function.spec.timeout_seconds} s)",
                action="find what got slow; raise its timeout or memory in the topology",
                runbook="function-near-timeout-raise-timeout",
            )
        self._alarm(
            "sweep-did-not-run-check-schedule",
            service_metric("sweep", SWEEP_HEARTBEAT, HOUR),
            threshold=1,
            comparison=cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
            periods=SWEEP_HEARTBEAT_HOURS,
            # no heartbeat at all is exactly what this alarm is for
            missing=cloudwatch.TreatMissingData.BREACHING,
            description=f"The hourly sweep did not run in the last {SWEEP_HEARTBEAT_HOURS} hours",
            action="check the schedule, the schedules DLQ and the sweep's errors",
        )
        self._alarm(
            "sweep-unfinished-add-shards",
            service_metric("sweep", SWEEP_UNFINISHED, HOUR),
            threshold=1,
            periods=SWEEP_UNFINISHED_HOURS,
            description=f"Sweep units stopped before the end of their shard every hour for "
            f"{SWEEP_UNFINISHED_HOURS} hours",
            action="raise due_shards or the sweep's memory",
        )
        self._alarm(
            "messages-need-review-check-sender",
            service_metric("sender", "MessagesNeedReview"),
            threshold=1,
            description="A message was claimed but its send cannot be confirmed",
            action="check in SES whether it went out, then settle the claim",
        )
        self._alarm(
            "ses-sending-paused-check-account",
            service_metric("sender", "SendingPaused"),
            threshold=1,
            description="SES refused to send (sending paused, quota exceeded): messages are kept, not sent",
            action="read the SES account status and lift the pause",
        )
        self._alarm(
            "shops-refused-check-callers",
            service_metric("ingest", "ShopRefused"),
            threshold=SHOP_REFUSED_THRESHOLD,
            description=f"{SHOP_REFUSED_THRESHOLD} or more shop requests refused in 5 minutes "
            "(unknown shop ids, bad signatures)",
            action="find the caller in the access logs",
        )
        self._alarm(
            "table-throttled-check-capacity",
            cloudwatch.MathExpression(
                expression="FILL(reads, 0) + FILL(writes, 0)",
                using_metrics={
                    "reads": table.metric("ReadThrottleEvents", period=PERIOD, statistic="Sum"),
                    "writes": table.metric("WriteThrottleEvents", period=PERIOD, statistic="Sum"),
                },
                label="throttled reads and writes",
                period=PERIOD,
            ),
            threshold=1,
            description="DynamoDB throttled reads or writes of the table",
            action="find the hot partition or the table's on-demand limits",
        )
        self._alarm(
            "ses-bounce-rate-check-lists",
            _ses("Reputation.BounceRate"),
            threshold=BOUNCE_RATE_THRESHOLD,
            comparison=ABOVE,
            description="SES bounce rate over 2 % (SES reviews the account at 5 %)",
            action="find the shop whose addresses bounce",
        )
        self._alarm(
            "ses-complaint-rate-check-campaigns",
            _ses("Reputation.ComplaintRate"),
            threshold=COMPLAINT_RATE_THRESHOLD,
            comparison=ABOVE,
            description="SES complaint rate over 0.05 % (SES reviews the account at 0.1 %, pauses at 0.5 %)",
            action="find the campaign people complain about and slow or stop it",
        )
        self._alarm(
            "api-5xx-read-logs",
            http_api.metric_server_error(period=PERIOD, statistic="Sum"),
            threshold=API_5XX_THRESHOLD,
            description="The API answered 5xx: ingest or preferences failed, was throttled or timed out, "
            "or answered 503 (the bus or the secret store failed)",
            action="find the route in the access logs, then read that function's logs and throttles",
        )
        self.dashboard = self._dashboard(functions, dead_letter_queues, work_queues)

    def _alarm(
        self,
        name: str,
        metric: cloudwatch.IMetric,
        *,
        threshold: float,
        description: str,
        action: str,
        comparison: cloudwatch.ComparisonOperator = AT_LEAST,
        periods: int = 1,
        missing: cloudwatch.TreatMissingData = cloudwatch.TreatMissingData.NOT_BREACHING,
        runbook: str | None = None,
    ) -> None:
        """`name` says what and what to do; the runbook section `runbook` (default: the same name,
        one section for the alarms of every function or queue alike) says how."""
        alarm = cloudwatch.Alarm(
            self,
            f"Alarm-{name}",
            alarm_name=f"{self._prefix}-{name}",
            alarm_description=f"{description}. Do: {action}. Runbook: {self._runbook}#{runbook or name}",
            metric=metric,
            threshold=threshold,
            comparison_operator=comparison,
            evaluation_periods=periods,
            treat_missing_data=missing,
        )
        alarm.add_alarm_action(actions.SnsAction(self.topic))
        alarm.add_ok_action(actions.SnsAction(self.topic))
        self.alarms[name] = alarm

    def _dashboard(
        self,
        functions: Mapping[str, ComebackFunction],
        dead_letter_queues: Mapping[str, sqs.IQueue],
        work_queues: Mapping[str, sqs.IQueue],
    ) -> cloudwatch.Dashboard:
        dashboard = cloudwatch.Dashboard(self, "Dashboard", dashboard_name=self._prefix)
        # the business counts from the functions' logs (Logs Insights): a CloudWatch metric each
        # would cost $0.30 a month per function for a graph (comeback.app.observability)
        dashboard.add_widgets(
            *(
                cloudwatch.LogQueryWidget(
                    title=title,
                    width=8,
                    log_group_names=[functions[fn].log_group.log_group_name for fn in per_function],
                    query_lines=business_query(per_function),
                    view=cloudwatch.LogQueryVisualizationType.LINE,
                )
                for title, per_function in BUSINESS_METRICS.items()
            ),
            # the counts that are CloudWatch metrics anyway (their alarms watch them)
            cloudwatch.GraphWidget(
                title="Alarmed counts",
                width=8,
                left=[
                    business_metric(fn, name)
                    for name, spec in sorted(CLOUDWATCH_METRICS.items())
                    for fn in spec.functions
                ],
            ),
        )
        dashboard.add_widgets(
            _queue_depths("Queue depth", work_queues),
            _queue_depths("Dead letters", dead_letter_queues),
            cloudwatch.GraphWidget(
                title="SES reputation",
                width=8,
                left=[
                    _ses(name).with_(label=name)
                    for name in ("Reputation.BounceRate", "Reputation.ComplaintRate")
                ],
                left_annotations=[
                    cloudwatch.HorizontalAnnotation(value=BOUNCE_RATE_THRESHOLD, label="bounce alarm"),
                    cloudwatch.HorizontalAnnotation(value=COMPLAINT_RATE_THRESHOLD, label="complaint alarm"),
                ],
            ),
            cloudwatch.GraphWidget(
                title="Function errors",
                width=12,
                left=[f.function.metric_errors(label=name, period=PERIOD) for name, f in functions.items()],
            ),
            cloudwatch.GraphWidget(
                title="Function duration (p99)",
                width=12,
                left=[
                    f.function.metric_duration(label=name, period=PERIOD, statistic="p99")
                    for name, f in functions.items()
                ],
            ),
        )
        return dashboard


def _ses(name: str) -> cloudwatch.Metric:
    """Account-level SES reputation (AWS/SES, no dimensions), as published every few minutes."""
    return cloudwatch.Metric(namespace="AWS/SES", metric_name=name, statistic="Maximum", period=PERIOD)


def _queue_depths(title: str, queues: Mapping[str, sqs.IQueue]) -> cloudwatch.GraphWidget:
    return cloudwatch.GraphWidget(
        title=title,
        width=8,
        left=[
            q.metric_approximate_number_of_messages_visible(label=name, period=PERIOD, statistic="Maximum")
            for name, q in queues.items()
        ],
    )
