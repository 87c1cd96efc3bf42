"""The local runtime: the whole engine on one machine, against an embedded AWS emulator (moto)."""

from __future__ import annotations

import os


def offline_environment(service: str, log_level: str = "WARNING") -> None:
    """Defaults for running the handlers outside Lambda (local runtime, tests, benchmarks).

    Logs at `log_level`, no EMF metric documents or X-Ray on the console, and credentials the
    emulator accepts so boto3 never looks for real ones. Powertools reads these when the handler
    modules are imported, so call this first; what the environment already says wins."""
    for name, value in {
        "POWERTOOLS_LOG_LEVEL": log_level,
        "POWERTOOLS_SERVICE_NAME": service,
        "POWERTOOLS_METRICS_DISABLED": "true",
        "POWERTOOLS_TRACE_DISABLED": "true",
        "POWERTOOLS_DEV": "false",
        "AWS_ACCESS_KEY_ID": "local",
        "AWS_SECRET_ACCESS_KEY": "local",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        os.environ.setdefault(name, value)
