"""The one place that reads the environment.

Every Lambda function and the local runtime build a `Settings` once (at cold start) and pass it on;
nothing else in the package reads `os.environ`. In AWS the CDK stack sets these variables; locally
`comeback local serve` builds the model directly.
"""

from __future__ import annotations

import os
from functools import cache
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

PREFIX = "COMEBACK_"

NonEmpty = Annotated[str, Field(min_length=1)]


class Settings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    table_name: NonEmpty = "comeback"
    bus_name: NonEmpty = "comeback"
    # Queue URLs by topology name (contacts, outbox, ses_events ...); producers look theirs up here.
    queue_urls: dict[str, str] = Field(default_factory=dict)
    region: NonEmpty = "us-east-1"
    # Set only by the local runtime: every AWS client is pointed at the embedded emulator
    # (`aws_endpoints` per service where the emulator runs a service in a process of its own).
    aws_endpoint_url: str | None = None
    aws_endpoints: dict[str, str] = Field(default_factory=dict)

    def endpoint_for(self, service: str) -> str | None:
        return self.aws_endpoints.get(service, self.aws_endpoint_url)

    # SSM Parameter Store: shop signing secrets are SecureString parameters under this path, one
    # per shop (a path per stack: `/<stack>/shops/`; the IAM grant is scoped to it).
    shop_secret_prefix: Annotated[str, Field(pattern=r"^/[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)*/$")] = (
        "/comeback/shops/"
    )
    # The key that signs unsubscribe tokens (a SecureString parameter, outside the shops' path).
    token_key_secret: Annotated[str, Field(pattern=r"^/[A-Za-z0-9_./-]+$")] = "/comeback/unsubscribe-key"
    secret_cache_seconds: Annotated[int, Field(ge=0)] = 300
    # Public base URL of the HTTP API, used for unsubscribe links and the preference centre.
    public_base_url: NonEmpty = "http://127.0.0.1:8080"
    ses_configuration_set: NonEmpty = "comeback"
    # The SNS topic new follow-up tasks (NPS detractors) are published to; None: none (email and bus only).
    task_topic_arn: str | None = None
    # SES account send rate (messages/s); the sender never goes above it.
    ses_max_send_rate: Annotated[float, Field(gt=0)] = 14.0
    # How many sender containers may run at once (the event source's MaximumConcurrency); each
    # one keeps to ses_max_send_rate / sender_concurrency.
    sender_concurrency: Annotated[int, Field(ge=2, le=1000)] = 2
    # Number of write shards of the due index; the sweep queries each one.
    due_shards: Annotated[int, Field(ge=1, le=256)] = 8
    max_body_bytes: Annotated[int, Field(gt=0)] = 256 * 1024
    signature_tolerance_seconds: Annotated[int, Field(gt=0)] = 300
    # "local" switches nothing in the domain; it only names where we run, for logs and the CLI.
    stage: NonEmpty = "local"

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> Settings:
        """Read `COMEBACK_*` variables (queue_urls as JSON). Unknown COMEBACK_ variables are errors."""
        env = os.environ if environ is None else environ
        values: dict[str, object] = {}
        for key, raw in env.items():
            if not key.startswith(PREFIX):
                continue
            name = key[len(PREFIX) :].lower()
            if name in ("queue_urls", "aws_endpoints"):
                import json

                values[name] = json.loads(raw)
            else:
                values[name] = raw
        return cls.model_validate(values)

    def queue_url(self, name: str) -> str:
        try:
            return self.queue_urls[name]
        except KeyError:
            raise LookupError(f"no URL configured for queue {name!r}; set COMEBACK_QUEUE_URLS") from None


@cache
def settings_from_env() -> Settings:
    """Cold-start settings of a Lambda function (validated once per container)."""
    return Settings.from_env()
