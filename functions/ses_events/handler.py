"""SQS batch of SES events (via EventBridge) -> suppression, unsubscribes, engagement."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.event_bridge_event import EventBridgeEvent
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from comeback.app.observability import logger, metrics, tracer
from comeback.app.runtime import current
from comeback.messaging.ses_feedback import SesEvent


@tracer.capture_method
def apply_record(record: SQSRecord) -> None:
    event = SesEvent.model_validate(EventBridgeEvent(record.json_body).detail)
    current().feedback.handle(event)


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: Any) -> PartialItemFailureResponse:
    processor = BatchProcessor(event_type=EventType.SQS)
    return process_partial_response(
        event=event, record_handler=apply_record, processor=processor, context=context
    )
