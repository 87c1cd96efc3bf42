"""Logger, Tracer and Metrics shared by every function (Powertools, configured by environment).

Service name, log level, sampling and the metrics namespace come from the standard POWERTOOLS_*
variables the stack sets per function.

Only the counts in `CLOUDWATCH_METRICS` become CloudWatch metrics (EMF): those an alarm watches or
the dashboard graphs. Each costs $0.30 a month per function and dimension value, so every other
`count()` is written as a field of the invocation's log instead (in the EMF document when there is
one, else in one "counts" line), where Logs Insights sums it. The dashboard, the alarms and the
cost model (bench/cost.py) all read that one list. Logs never carry an email address in clear: the formatter
masks anything shaped like one, as a safety net behind the rule that code logs contact ids only.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.logging.formatter import LambdaPowertoolsFormatter
from aws_lambda_powertools.logging.types import PowertoolsLogRecord
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.metrics.functions import is_metrics_disabled
from aws_lambda_powertools.metrics.provider.cloudwatch_emf.cloudwatch import AmazonCloudWatchEMFProvider

NAMESPACE = "Comeback"


@dataclass(frozen=True)
class CloudWatchMetric:
    """A count that is a CloudWatch metric: the functions that emit it (its `service` dimension),
    the values of its one extra dimension if it has one, and whether it is emitted every hour
    (`steady`) or only when something is wrong (billed only for the hours it is emitted)."""

    functions: tuple[str, ...]
    dimension: str | None = None
    values: tuple[str, ...] = ()
    steady: bool = True

    @property
    def series(self) -> int:
        """How many CloudWatch metrics (name x dimensions) this is: what is billed."""
        return len(self.functions) * (len(self.values) if self.dimension else 1)


# Why each one is a metric: (A) an alarm watches it, (G) the dashboard graphs it.
CLOUDWATCH_METRICS: dict[str, CloudWatchMetric] = {
    # Only what an alarm watches (infra/constructs/monitoring.py): the dashboard graphs every
    # business count from the functions' logs with Logs Insights, which costs nothing a month.
    # refused requests (a flood of unknown shops, a store outage answered 503); why, as log fields
    "ShopRefused": CloudWatchMetric(("ingest",)),
    "SweepRan": CloudWatchMetric(("sweep",)),  # every hourly fan-out: the heartbeat
    "SweepShardsUnfinished": CloudWatchMetric(("sweep",), steady=False),  # units that stopped short
    "MessagesNeedReview": CloudWatchMetric(("sender",), steady=False),  # above zero
    "SendingPaused": CloudWatchMetric(("sender",), steady=False),  # SES paused the account or a shop
}

# An address in any script: \w is Unicode-aware on str patterns, so `ユーザー@例え.jp` and
# `user@bücher.de` are caught as well as their `\uXXXX` forms (a logged value dumped to JSON text).
_LOCAL = r"(?:[\w.!#$%&'*+/=?^`{|}~-]|\\u[0-9a-fA-F]{4})"
_LABEL = r"(?:[\w-]|\\u[0-9a-fA-F]{4})"
# Found from the domain side (it starts at an @, so the scan is linear), then the mailbox name is
# looked for just before it, at most 64 characters (RFC 5321) of up to 6 text characters each.
_DOMAIN = re.compile(rf"@{_LABEL}{{1,63}}(?:\.{_LABEL}{{1,63}})+")
_MAILBOX = re.compile(rf"{_LOCAL}{{1,64}}$")


def redact(text: str) -> str:
    """`text` with every email address (any script) replaced by `<redacted-email>`."""
    parts: list[str] = []
    done = 0
    for domain in _DOMAIN.finditer(text):
        at = domain.start()
        if at < done:
            continue
        mailbox = _MAILBOX.search(text, max(done, at - 6 * 64), at)
        if mailbox is None:
            continue
        parts += [text[done : mailbox.start()], "<redacted-email>"]
        done = domain.end()
    parts.append(text[done:])
    return "".join(parts)


class RedactingFormatter(LambdaPowertoolsFormatter):
    def serialize(self, log: dict[str, Any] | PowertoolsLogRecord) -> str:
        return redact(super().serialize(log))


# Service names come from POWERTOOLS_SERVICE_NAME (the function's name in AWS), so each function's
# logs and metrics say which function they are from; the namespace is the same for all.
logger = Logger(logger_formatter=RedactingFormatter())
tracer = Tracer()

# Counts that are not CloudWatch metrics, since the last flush (one invocation's).
log_counts: dict[str, float] = {}


class _Provider(AmazonCloudWatchEMFProvider):
    """Powertools' EMF provider, which also writes the invocation's log counts when it flushes."""

    def flush_metrics(self, raise_on_empty_metrics: bool = False) -> None:
        if log_counts:
            counts = {f"count_{name}": value for name, value in sorted(log_counts.items())}
            log_counts.clear()
            if self.metric_set:  # fields of the EMF document: no line of their own
                for key, value in counts.items():
                    self.add_metadata(key, value)
            else:
                logger.info("counts", extra=counts)
        super().flush_metrics(raise_on_empty_metrics)


metrics = Metrics(provider=_Provider(namespace=NAMESPACE, metric_set=Metrics._metrics,
                                     dimension_set=Metrics._dimensions, metadata_set=Metrics._metadata,
                                     default_dimensions=Metrics._default_dimensions))  # fmt: skip


# The local runtime counts here too, so `comeback demo` can show the same business metrics.
local_counts: Counter[str] | None = None


def count(name: str, value: float = 1, **dimension: str) -> None:
    """A business count, named for what the shop cares about: EmailsSent, EventsAccepted ...

    A metric when `name` is in CLOUDWATCH_METRICS (`dimension`: its extra one, if it declares one),
    otherwise a field of the invocation's log; a breakdown (reason="shape") of a metric without a
    dimension is a log field beside it (`ShopRefused_shape`).
    """
    if local_counts is not None:
        local_counts[name] += int(value)
    known = CLOUDWATCH_METRICS.get(name)
    if known is None:
        label = "_".join([name, *dimension.values()])
        log_counts[label] = log_counts.get(label, 0) + value
        return
    # Powertools keeps adding values while POWERTOOLS_METRICS_DISABLED is set and prints them
    # anyway once 100 pile up; not adding them at all is the only way to keep them off stdout.
    if is_metrics_disabled():
        return
    if not known.dimension:
        metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)
        if dimension:  # a breakdown nothing alarms on: a log field (ShopRefused_shape ...)
            label = "_".join([name, *dimension.values()])
            log_counts[label] = log_counts.get(label, 0) + value
        return
    # a dimension of its own: its own EMF document, so the other counts keep only `service`
    from aws_lambda_powertools.metrics import single_metric

    with single_metric(
        name=name, unit=MetricUnit.Count, value=value, namespace=NAMESPACE,
        default_dimensions=metrics.default_dimensions,
    ) as metric:  # fmt: skip
        if metrics.provider.service:
            metric.add_dimension(name="service", value=str(metrics.provider.service))
        for key, dim_value in dimension.items():
            metric.add_dimension(name=key, value=dim_value)
