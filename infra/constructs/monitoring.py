"""Alarms to an SNS topic, and a dashboard of what the engine does for the shops.

Alarms (each notifies the topic when it fires and when it clears):
- any message in any dead-letter queue (work queues, event delivery, schedules);
- any error or throttle of any function;
- SES account reputation: bounce rate over 2 %, complaint rate over 0.1 % (SES reviews an account
  at 5 % / 0.1 % and pauses sending at 10 % / 0.5 %; these fire well before);
- API 5xx answers.

The topic is encrypted with a key CloudWatch may use, refuses anything but TLS and, with context
`alarm_email`, mails its alarms (the address must confirm the subscription).

The dashboard graphs the business metrics the functions emit through Powertools (namespace
`Comeback`, dimension `service`), next to the queues and SES reputation.
"""

from __future__ import annotations

from collections.abc import Mapping

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_apigatewayv2 as apigwv2
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as actions
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from comeback.messaging.ses_feedback import METRICS

from .functions import METRICS_NAMESPACE, ComebackFunction

PERIOD = Duration.minutes(5)
AT_LEAST = cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD
BOUNCE_RATE_THRESHOLD = 0.02
COMPLAINT_RATE_THRESHOLD = 0.001
API_5XX_THRESHOLD = 5  # per 5 minutes; a single one is already in the function's Errors alarm


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
    "Sweeps": {"sweep": ("ContactsDue", "MessagesRequested", "HeldMessagesReleased")},
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


def business_metric(function: str, name: str) -> cloudwatch.Metric:
    return cloudwatch.Metric(
        namespace=METRICS_NAMESPACE,
        metric_name=name,
        dimensions_map={"service": metric_service(function)},
        statistic="Sum",
        period=PERIOD,
        label=LABELS.get(name, name),
    )


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
        alarm_email: str | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        self._prefix = prefix
        key = kms.Key(
            self,
            "TopicKey",
            description="comeback: alarm topic (CloudWatch publishes with it)",
            enable_key_rotation=True,
            removal_policy=RemovalPolicy.DESTROY,
            pending_window=Duration.days(7),
        )
        key.add_to_resource_policy(
            iam.PolicyStatement(
                actions=["kms:Decrypt", "kms:GenerateDataKey*"],
                principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
                resources=["*"],  # in a key policy, "*" is this key
                conditions={"StringEquals": {"aws:SourceAccount": Stack.of(self).account}},
            )
        )
        self.topic = sns.Topic(
            self, "Topic", display_name="comeback alarms", master_key=key, enforce_ssl=True
        )
        if alarm_email:
            self.topic.add_subscription(subscriptions.EmailSubscription(alarm_email))
        self.alarms: dict[str, cloudwatch.Alarm] = {}

        for name, queue in dead_letter_queues.items():
            self._alarm(
                f"dlq-{name}",
                queue.metric_approximate_number_of_messages_visible(
                    period=Duration.minutes(1), statistic="Maximum"
                ),
                threshold=1,
                description=f"A message is in the dead-letter queue {name}: inspect it, fix, redrive",
            )
        for name, function in functions.items():
            self._alarm(
                f"{name}-errors",
                function.function.metric_errors(period=PERIOD, statistic="Sum"),
                threshold=1,
                description=f"The {name} function failed",
            )
            self._alarm(
                f"{name}-throttles",
                function.function.metric_throttles(period=PERIOD, statistic="Sum"),
                threshold=1,
                description=f"The {name} function was throttled (account or reserved concurrency)",
            )
        self._alarm(
            "ses-bounce-rate",
            _ses("Reputation.BounceRate"),
            threshold=BOUNCE_RATE_THRESHOLD,
            comparison=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
            description="SES bounce rate over 2 % (SES reviews the account at 5 %)",
        )
        self._alarm(
            "ses-complaint-rate",
            _ses("Reputation.ComplaintRate"),
            threshold=COMPLAINT_RATE_THRESHOLD,
            comparison=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
            description="SES complaint rate over 0.1 % (SES reviews the account at 0.1 %, pauses at 0.5 %)",
        )
        self._alarm(
            "api-5xx",
            http_api.metric_server_error(period=PERIOD, statistic="Sum"),
            threshold=API_5XX_THRESHOLD,
            description="The API answered 5xx (function errors, or 503: the bus refused events)",
        )
        self.dashboard = self._dashboard(functions, dead_letter_queues, work_queues)

    def _alarm(
        self,
        name: str,
        metric: cloudwatch.IMetric,
        *,
        threshold: float,
        description: str,
        comparison: cloudwatch.ComparisonOperator = AT_LEAST,
    ) -> None:
        alarm = cloudwatch.Alarm(
            self,
            f"Alarm-{name}",
            alarm_name=f"{self._prefix}-{name}",
            alarm_description=description,
            metric=metric,
            threshold=threshold,
            comparison_operator=comparison,
            evaluation_periods=1,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
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
        dashboard.add_widgets(
            *(
                cloudwatch.GraphWidget(
                    title=title,
                    width=8,
                    left=[
                        business_metric(fn, metric) for fn, names in per_function.items() for metric in names
                    ],
                )
                for title, per_function in BUSINESS_METRICS.items()
            )
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
