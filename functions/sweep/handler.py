"""Scheduled sweep: contacts due now (win-back steps ...) -> their message requests on the outbox."""

from __future__ import annotations

from typing import Any

from comeback.app.observability import logger, metrics, tracer
from comeback.app.runtime import current


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    # EventBridge Scheduler may name the shards to sweep (to split a large table across schedules)
    shards = event.get("shards") if isinstance(event, dict) else None
    remaining = getattr(context, "get_remaining_time_in_millis", None)
    report = current().sweep.run(
        shards=shards,
        time_left=(lambda: remaining() / 1000) if remaining else None,
    )
    return report.as_dict()
