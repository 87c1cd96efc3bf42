"""SQS batch of message requests -> each sent through SES at most once (partial batch failures)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from comeback.app.observability import logger, metrics, tracer
from comeback.app.runtime import current
from comeback.domain.messages import MessageRequest


@tracer.capture_method
def send_record(record: SQSRecord) -> None:
    request = MessageRequest.model_validate_json(record.body)
    current().sender.handle(request)


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: Any) -> PartialItemFailureResponse:
    processor = BatchProcessor(event_type=EventType.SQS)
    return process_partial_response(
        event=event, record_handler=send_record, processor=processor, context=context
    )
