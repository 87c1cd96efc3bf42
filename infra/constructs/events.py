"""The event bus, its archive and the topology's rules into the SQS queues.

Shop events go on the custom bus (archived, so they can be replayed into the contacts queue);
SES publishes its events to the account's default bus, so the `ses-events` rule lives there. The
default bus is shared by every stack of the account: that rule also matches the stack's own
configuration set (the `ses:configuration-set` tag SES puts on every event), so a staging stack
beside production never applies production's bounces. The custom bus and its archive are named
after the stack (the topology's bus `comeback` is the stack's own bus).
Every rule targets its queue through the queue's resource policy, which lets
events.amazonaws.com send only on behalf of that rule (aws:SourceArn); what EventBridge cannot
deliver after its retries lands in a delivery DLQ instead of being dropped.
"""

from __future__ import annotations

from aws_cdk import Duration, Stack
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from comeback.app.topology import BUS_NAME, DEFAULT_BUS, SES_SOURCE, Rule, Topology

from .queues import Queues, dead_letter_queue


def event_pattern(pattern: dict[str, list[object]]) -> events.EventPattern:
    """A topology pattern ({"source": [...], "detail-type": [...]}) as the CDK's EventPattern."""
    fields = {"source": "source", "detail-type": "detail_type", "account": "account", "detail": "detail"}
    unknown = set(pattern) - set(fields)
    if unknown:
        raise ValueError(f"event pattern fields not mapped yet: {sorted(unknown)}")
    return events.EventPattern(**{fields[key]: value for key, value in pattern.items()})  # type: ignore[arg-type]


def stack_pattern(spec: Rule, configuration_set: str) -> dict[str, object]:
    """The rule's topology pattern as this stack deploys it: SES events of its configuration set only.

    (The local runtime has one configuration set, so its rules keep the topology pattern as is.)"""
    pattern: dict[str, object] = dict(spec.pattern)
    if spec.bus == DEFAULT_BUS and SES_SOURCE in spec.pattern.get("source", ()):
        pattern["detail"] = {"mail": {"tags": {"ses:configuration-set": [configuration_set]}}}
    return pattern


def bus_physical_name(name: str, prefix: str) -> str:
    """The stack's name for a topology bus: the main bus is the stack's own name."""
    return prefix if name == BUS_NAME else f"{prefix}-{name}"


class EventRouting(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        topology: Topology,
        queues: Queues,
        prefix: str,
        configuration_set: str,
        archive_retention: Duration,
    ) -> None:
        super().__init__(scope, construct_id)
        stack = Stack.of(self)
        self.buses: dict[str, events.IEventBus] = {
            DEFAULT_BUS: events.EventBus.from_event_bus_name(self, "DefaultBus", DEFAULT_BUS)
        }
        for name in topology.buses:
            if name == DEFAULT_BUS:
                continue
            physical = bus_physical_name(name, prefix)
            bus = events.EventBus(
                self, f"Bus-{name}", event_bus_name=physical, description="comeback: shop events"
            )
            bus.archive(
                "Archive",
                archive_name=f"{physical}-events",
                description="Every shop event, for replay into the contacts queue",
                event_pattern=events.EventPattern(account=[stack.account]),
                retention=archive_retention,
            )
            self.buses[name] = bus
        self.delivery_dlq: sqs.Queue = dead_letter_queue(
            self, "DeliveryDlq", f"{prefix}-event-delivery-dlq", used_by="EventBridge (rule targets)"
        )
        self.rules: dict[str, events.Rule] = {}
        for spec in topology.rules:
            self.rules[spec.name] = events.Rule(
                self,
                f"Rule-{spec.name}",
                rule_name=f"{prefix}-{spec.name}",
                description=f"comeback: {spec.name} into the {spec.queue} queue",
                event_bus=self.buses[spec.bus],
                event_pattern=event_pattern(stack_pattern(spec, configuration_set)),  # type: ignore[arg-type]
                targets=[
                    targets.SqsQueue(
                        queues.queue(spec.queue),
                        dead_letter_queue=self.delivery_dlq,
                        retry_attempts=185,
                        max_event_age=Duration.hours(24),
                    )
                ],
            )

    @property
    def bus(self) -> events.IEventBus:
        """The custom bus the ingest function puts shop events on."""
        return self.buses[BUS_NAME]
