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
from aws_lambda_powertools.logging.types import PowertoolsLogRecord
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.metrics.functions import is_metrics_disabled

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
