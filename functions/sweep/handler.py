"""The sweep: the hourly schedule fans out one unit of work per shard of the due index; each unit,
from the `sweep` queue, finds who is due in its shard and asks their recipes (partial batch failures
reported: a unit that fails comes back alone). The daily `segments` schedule fans out one unit per
shop on the same queue: its buyers' RFM cut points."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from comeback.app.observability import logger, metrics, tracer
from comeback.app.runtime import current
from comeback.app.segments import JOB as SEGMENTS
from comeback.app.segments import is_segments_unit
from comeback.app.sweep import SweepReport, combined, unit_of


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: Any) -> Any:
    remaining = getattr(context, "get_remaining_time_in_millis", None)
    time_left = (lambda: remaining() / 1000) if remaining else None
    runtime = current()
    sweep = runtime.sweep
    if isinstance(event, dict) and "Records" in event:
        reports: list[SweepReport] = []

        def run(record: SQSRecord) -> None:
            unit = unit_of(record.body)
            if is_segments_unit(unit):
                runtime.segments.run_unit(unit)
            else:
                reports.append(sweep.run_unit(unit, time_left))

        processor = BatchProcessor(event_type=EventType.SQS)
        answer = dict(
            process_partial_response(event=event, record_handler=run, processor=processor, context=context)
        )
        # beside batchItemFailures (all the event source reads): what the units did, for logs and tests
        answer["sweep"] = combined(reports).as_dict()
        return answer
    if isinstance(event, dict) and event.get("schedule") == SEGMENTS:
        return runtime.segments.fan_out()
    # EventBridge Scheduler may name the shards to sweep (to split a large table across schedules)
    shards = event.get("shards") if isinstance(event, dict) else None
    return sweep.fan_out(shards)
