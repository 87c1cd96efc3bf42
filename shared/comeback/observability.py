"""Logger, Tracer and Metrics shared by every function (Powertools, configured by environment).

Service name, log level, sampling and the metrics namespace come from the standard POWERTOOLS_*
variables the stack sets per function. Logs never carry an email address in clear: the formatter
masks anything shaped like one, as a safety net behind the rule that code logs contact ids only.
"""

from __future__ import annotations

import re
from collections import Counter
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.logging.formatter import LambdaPowertoolsFormatter
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.metrics.functions import is_metrics_disabled

EMAIL = re.compile(r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+")


class RedactingFormatter(LambdaPowertoolsFormatter):
    def serialize(self, log: dict[str, Any]) -> str:
        return EMAIL.sub("<redacted-email>", super().serialize(log))


# Service names come from POWERTOOLS_SERVICE_NAME (the function's name in AWS), so each function's
# logs and metrics say which function they are from; the namespace is the same for all.
logger = Logger(logger_formatter=RedactingFormatter())
tracer = Tracer()
metrics = Metrics(namespace="Comeback")


# The local runtime counts here too, so `comeback demo` can show the same business metrics.
local_counts: Counter[str] | None = None


def count(name: str, value: float = 1) -> None:
    """A business metric, named for what the shop cares about: WinbackEmailsSent, EventsAccepted ..."""
    if local_counts is not None:
        local_counts[name] += int(value)
    # Powertools keeps adding values while POWERTOOLS_METRICS_DISABLED is set and prints them
    # anyway once 100 pile up; not adding them at all is the only way to keep them off stdout.
    if not is_metrics_disabled():
        metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)
