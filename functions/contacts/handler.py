"""SQS batch of bus events -> each applied to its contact (partial batch failures reported).

Privacy requests (source `comeback.privacy`: a customer's export, a shop's erasure) arrive on the
same queue and go to `comeback.privacy`.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.event_bridge_event import EventBridgeEvent
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from comeback.app import privacy
from comeback.app.observability import count, logger, metrics, tracer
from comeback.app.runtime import current
from comeback.aws.contact_store import Outcome
from comeback.domain.events import EventEnvelope

METRIC = {
    Outcome.APPLIED: "EventsApplied",
    Outcome.APPLIED_SLOW: "EventsApplied",
    Outcome.DUPLICATE: "EventsDuplicate",
    Outcome.IGNORED: "EventsIgnored",
    Outcome.ERASED: "ContactsErased",
}


@tracer.capture_method
def apply_record(record: SQSRecord) -> None:
    bus_event = EventBridgeEvent(record.json_body)
    runtime = current()
    if bus_event.detail_type in privacy.DETAIL_TYPES:
        privacy.from_runtime(runtime).handle(bus_event.detail_type, bus_event.detail)
        return
    envelope = EventEnvelope.model_validate(bus_event.detail)
    applied = runtime.events.apply(envelope.shop_id, envelope.event)
    count(METRIC[applied.outcome])
    logger.debug(
        "event applied",
        extra={
            "shop_id": envelope.shop_id,
            "contact_id": applied.contact_id,
            "outcome": applied.outcome.value,
        },
    )


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: Any) -> PartialItemFailureResponse:
    # a processor per invocation: it keeps per-batch state, and the local runtime shares this module
    processor = BatchProcessor(event_type=EventType.SQS)
    return process_partial_response(
        event=event, record_handler=apply_record, processor=processor, context=context
    )
