"""What a deployment may tune, read once from the CDK context (`cdk.json` or `-c key=value`).

Values given with `-c` arrive as strings; the model converts and validates them, so a typo fails
the synthesis instead of the deployment.
"""

from __future__ import annotations

from typing import Annotated, Any

from constructs import Node
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from comeback.app.settings import Settings

_DEFAULTS = Settings()

Positive = Annotated[int, Field(gt=0)]


class DeployConfig(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    stack_name: str = "comeback"
    # "prod", "staging" ... names where the functions run (COMEBACK_STAGE), for logs and metrics
    stage: str = "prod"
    # The finished dependency layer (`make layer`); synthesis reads it and never builds it.
    layer_dir: str = "build/layer"
    # Messages per second the account may send through SES (its "maximum send rate").
    ses_max_send_rate: Annotated[float, Field(gt=0)] = _DEFAULTS.ses_max_send_rate
    ses_configuration_set: str = _DEFAULTS.ses_configuration_set
    # Exactly one of these, or neither: the sending domain to create (Easy DKIM) or import.
    sender_domain: str | None = None
    sender_identity_arn: str | None = None
    timezone: str = "Asia/Tokyo"
    log_retention_days: Positive = 30
    log_level: str = "INFO"
    due_shards: Annotated[int, Field(ge=1, le=256)] = _DEFAULTS.due_shards
    throttle_rate: Positive = 100
    throttle_burst: Positive = 200
    # Optional custom domain of the API: both or neither.
    api_domain: str | None = None
    certificate_arn: str | None = None
    alarm_email: str | None = None
    archive_retention_days: Positive = 90

    @field_validator("*", mode="before")
    @classmethod
    def _empty_is_none(cls, value: Any) -> Any:
        return None if value == "" else value

    @model_validator(mode="after")
    def _pairs(self) -> DeployConfig:
        if bool(self.api_domain) != bool(self.certificate_arn):
            raise ValueError(
                "api_domain and certificate_arn go together (the certificate must cover the domain)"
            )
        if self.sender_domain and self.sender_identity_arn:
            raise ValueError(
                "give sender_domain (create the identity) or sender_identity_arn (import it), not both"
            )
        return self

    @classmethod
    def from_context(cls, node: Node) -> DeployConfig:
        values = {name: node.try_get_context(name) for name in cls.model_fields}
        return cls.model_validate({k: v for k, v in values.items() if v is not None})

    @property
    def token_key_secret(self) -> str:
        return _DEFAULTS.token_key_secret

    @property
    def shop_secret_prefix(self) -> str:
        return _DEFAULTS.shop_secret_prefix
