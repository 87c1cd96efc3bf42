"""EventBridge Scheduler schedules of the topology (the hourly sweep ...).

Each schedule invokes its function in the configured time zone (cron schedules follow local
time and daylight saving), exactly at the time (no flexible window), retries a failed invocation
for up to an hour and then leaves it in a dead-letter queue that raises an alarm. One role for
all schedules may invoke the scheduled functions and nothing else.
"""

from __future__ import annotations

import json

from aws_cdk import Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_scheduler as scheduler
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from comeback.app.topology import Topology

from .functions import ComebackFunction
from .queues import dead_letter_queue

RETRY_ATTEMPTS = 3
MAX_EVENT_AGE_SECONDS = 3600  # an hourly sweep older than the next one is pointless


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
