"""EventBridge Scheduler schedules of the topology (the hourly sweep ...).

Each schedule invokes its function in the configured time zone (cron schedules follow local
time and daylight saving), exactly at the time (no flexible window), retries a failed invocation
for up to an hour and then leaves it in a dead-letter queue that raises an alarm. One role for
all schedules may invoke the scheduled functions and nothing else.

Scheduler invokes asynchronously, so its retries and DLQ cover the delivery of the invocation only;
what the function then does with it is Lambda's asynchronous invocation config, set here for every
scheduled function: no retry (Lambda would run a failed sweep twice more, blindly, and then drop
it), events older than an hour discarded, and a failed or discarded invocation sent to
`<stack>-sweep-invoke-dlq`, which raises an alarm like every other dead-letter queue.
"""

from __future__ import annotations

import json

from aws_cdk import Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_scheduler as scheduler
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from comeback.app.topology import Topology

from .functions import ComebackFunction
from .queues import dead_letter_queue

RETRY_ATTEMPTS = 3
MAX_EVENT_AGE_SECONDS = 3600  # an hourly sweep older than the next one is pointless
# A failed sweep is not retried by Lambda: its units are idempotent, but a blind retry of a fan-out
# that failed for a reason (a throttled queue, a bad deploy) fails the same way; the next hourly run
# and the failure queue (an alarm, the runbook) are the retry.
ASYNC_RETRY_ATTEMPTS = 0


class Schedules(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        topology: Topology,
        functions: dict[str, ComebackFunction],
        timezone: str,
        prefix: str,
    ) -> None:
        super().__init__(scope, construct_id)
        stack = Stack.of(self)
        self.dlq: sqs.Queue = dead_letter_queue(
            self, "Dlq", f"{prefix}-schedules-dlq", used_by="EventBridge Scheduler"
        )
        self.role = iam.Role(
            self,
            "Role",
            assumed_by=iam.ServicePrincipal(
                "scheduler.amazonaws.com", conditions={"StringEquals": {"aws:SourceAccount": stack.account}}
            ),
            description="comeback: EventBridge Scheduler invokes the scheduled functions",
        )
        scheduled = {spec.function for spec in topology.schedules}
        self.role.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["lambda:InvokeFunction"],
                resources=[functions[name].function.function_arn for name in sorted(scheduled)],
            )
        )
        self.role.add_to_principal_policy(
            iam.PolicyStatement(actions=["sqs:SendMessage"], resources=[self.dlq.queue_arn])
        )
        self.invoke_failures: sqs.Queue = dead_letter_queue(
            self,
            "InvokeFailures",
            f"{prefix}-sweep-invoke-dlq",
            used_by="Lambda (the OnFailure destination of the scheduled functions' asynchronous invocations)",
        )
        for name in sorted(scheduled):
            self._configure_async_invoke(functions[name])
        self.schedules: dict[str, scheduler.CfnSchedule] = {}
        for spec in topology.schedules:
            self.schedules[spec.name] = scheduler.CfnSchedule(
                self,
                f"Schedule-{spec.name}",
                name=f"{prefix}-{spec.name}",
                description=spec.description or f"comeback: {spec.name}",
                schedule_expression=spec.expression,
                schedule_expression_timezone=timezone,
                flexible_time_window=scheduler.CfnSchedule.FlexibleTimeWindowProperty(mode="OFF"),
                state="ENABLED",
                target=scheduler.CfnSchedule.TargetProperty(
                    arn=functions[spec.function].function.function_arn,
                    role_arn=self.role.role_arn,
                    input=json.dumps({"schedule": spec.name}),
                    retry_policy=scheduler.CfnSchedule.RetryPolicyProperty(
                        maximum_retry_attempts=RETRY_ATTEMPTS,
                        maximum_event_age_in_seconds=MAX_EVENT_AGE_SECONDS,
                    ),
                    dead_letter_config=scheduler.CfnSchedule.DeadLetterConfigProperty(arn=self.dlq.queue_arn),
                ),
            )

    def _configure_async_invoke(self, function: ComebackFunction) -> None:
        """No retries, an hour at most, failures into the invoke DLQ (sent with the function's role)."""
        # Only sqs:SendMessage (a destination needs no more; SqsDestination would also grant
        # GetQueueAttributes and GetQueueUrl, which nothing uses).
        function.role.add_to_principal_policy(
            iam.PolicyStatement(actions=["sqs:SendMessage"], resources=[self.invoke_failures.queue_arn])
        )
        config = lambda_.CfnEventInvokeConfig(
            self,
            f"AsyncInvoke-{function.spec.name}",
            function_name=function.function.function_name,
            qualifier="$LATEST",
            maximum_retry_attempts=ASYNC_RETRY_ATTEMPTS,
            maximum_event_age_in_seconds=MAX_EVENT_AGE_SECONDS,
            destination_config=lambda_.CfnEventInvokeConfig.DestinationConfigProperty(
                on_failure=lambda_.CfnEventInvokeConfig.OnFailureProperty(
                    destination=self.invoke_failures.queue_arn
                )
            ),
        )
        # Lambda checks the role may send to the destination when the config is created.
        config.node.add_dependency(function.role)
