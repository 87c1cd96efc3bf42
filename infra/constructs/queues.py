"""The SQS queues of the topology, each with its dead-letter queue.

Every queue: SQS-managed server-side encryption, a policy refusing anything but TLS, and (for the
work queues) a visibility timeout of `Topology.visibility_timeout` (six times the consumer's
timeout) and a redrive to its DLQ after `max_receive_count` receives. DLQs keep messages 14 days.
"""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import Duration
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from comeback.app.topology import Topology

from .nag import acknowledge

DLQ_RETENTION = Duration.days(14)  # the SQS maximum: time to notice, fix and redrive


def dead_letter_queue(
    scope: Construct, construct_id: str, name: str, *, used_by: str | None = None
) -> sqs.Queue:
    """An encrypted, TLS-only queue that keeps what failed for 14 days.

    `used_by` names the service that sends to it directly (EventBridge, Scheduler) when it is not
    the redrive target of another queue, which cdk-nag cannot see."""
    queue = sqs.Queue(
        scope,
        construct_id,
        queue_name=name,
        encryption=sqs.QueueEncryption.SQS_MANAGED,
        enforce_ssl=True,
        retention_period=DLQ_RETENTION,
    )
    if used_by:
        acknowledge(
            queue,
            "AwsSolutions-SQS3",
            f"This queue is itself a dead-letter queue: {used_by} sends what it could not "
            "deliver here (its DeadLetterConfig), and an alarm fires on its first message.",
        )
    return queue


@dataclass(frozen=True)
class QueuePair:
    queue: sqs.Queue
    dlq: sqs.Queue


class Queues(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, topology: Topology, prefix: str) -> None:
        super().__init__(scope, construct_id)
        self.by_name: dict[str, QueuePair] = {}
        for spec in topology.queues:
            dlq = dead_letter_queue(self, f"{spec.name}-dlq", f"{prefix}-{spec.dlq_name}")
            queue = sqs.Queue(
                self,
                spec.name,
                queue_name=f"{prefix}-{spec.name}",
                encryption=sqs.QueueEncryption.SQS_MANAGED,
                enforce_ssl=True,
                visibility_timeout=Duration.seconds(topology.visibility_timeout(spec)),
                retention_period=Duration.days(4),
                dead_letter_queue=sqs.DeadLetterQueue(queue=dlq, max_receive_count=spec.max_receive_count),
            )
            self.by_name[spec.name] = QueuePair(queue, dlq)

    def queue(self, name: str) -> sqs.Queue:
        return self.by_name[name].queue

    @property
    def dead_letter_queues(self) -> dict[str, sqs.Queue]:
        return {name: pair.dlq for name, pair in self.by_name.items()}
