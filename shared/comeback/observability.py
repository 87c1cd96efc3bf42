"""Logger, Tracer and Metrics shared by every function (Powertools, configured by environment).

Service name, log level, sampling and the metrics namespace come from the standard POWERTOOLS_*
variables the stack sets per function. Logs never carry an email address in clear: the formatter
masks anything shaped like one, as a safety net behind the rule that code logs contact ids only.
"""

from __future__ import annotations

import re
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.logging.formatter import LambdaPowertoolsFormatter
from aws_lambda_powertools.metrics import MetricUnit

EMAIL = re.compile(r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+")


class RedactingFormatter(LambdaPowertoolsFormatter):
    def serialize(self, log: dict[str, Any]) -> str:
        return EMAIL.sub("<redacted-email>", super().serialize(log))


logger = Logger(service="comeback", logger_formatter=RedactingFormatter())
tracer = Tracer(service="comeback")
metrics = Metrics(namespace="Comeback", service="comeback")


def count(name: str, value: float = 1) -> None:
    """A business metric, named for what the shop cares about: WinbackEmailsSent, EventsAccepted ..."""
    metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)
