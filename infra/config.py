"""What a deployment may tune, read once from the CDK context (`cdk.json` or `-c key=value`).

Values given with `-c` arrive as strings; the model converts and validates them, so a typo fails
the synthesis instead of the deployment.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from constructs import Node
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from comeback.app.settings import Settings
from comeback.app.topology import TOPOLOGY, TRACED_BY_DEFAULT

_DEFAULTS = Settings()

Positive = Annotated[int, Field(gt=0)]


class DeployConfig(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    # Every physical name (bus, archive, configuration set, secrets, queues, table, log groups,
    # schedules, alarms) starts with it, so two stacks side by side in one account share nothing.
    stack_name: Annotated[str, Field(pattern=r"^[A-Za-z][A-Za-z0-9-]{0,39}$")] = "comeback"
    # "prod", "staging" ... names where the functions run (COMEBACK_STAGE), for logs and metrics
    stage: str = "prod"
    # The finished dependency layer (`make layer`); synthesis reads it and never builds it.
    layer_dir: str = "build/layer"
    # Messages per second the account may send through SES (its "maximum send rate").
    ses_max_send_rate: Annotated[float, Field(gt=0)] = _DEFAULTS.ses_max_send_rate
    # None: named after the stack (two stacks must not share one: each filters its SES events by it)
    ses_configuration_set: str | None = None
    # Exactly one of these, or neither: the sending domain to create (Easy DKIM) or import.
    sender_domain: str | None = None
    sender_identity_arn: str | None = None
    # A subdomain of sender_domain as the MAIL FROM (envelope sender) domain: SPF aligned with From.
    mail_from_domain: str | None = None
    # A domain of yours for open and click tracking links (HTTPS), instead of SES's shared one.
    click_tracking_domain: str | None = None
    # Virtual Deliverability Manager on the configuration set; vdm_account also enables it for the
    # account (account-wide: let one stack of the account own it).
    vdm: bool = False
    vdm_account: bool = False
    # The DMARC policy of the DMARC record output (p=): start at none, read the reports, tighten.
    dmarc_policy: Literal["none", "quarantine", "reject"] = "none"
    dmarc_report_email: str | None = None
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
    # Where on-call reads docs/runbook.md (every alarm's description ends with `<this>#<alarm>`):
    # the repository's web address of the file, or the path as it is in a checkout.
    runbook_url: str = "docs/runbook.md"
    # Reserved concurrency of ingest: a flood of shop requests (or of unknown shop ids) takes at most
    # this many of the account's concurrent executions and cannot starve the other functions; the
    # surplus is throttled (an alarm). 0: no reservation (an account whose concurrency quota is
    # still the new-account 10 cannot reserve any: Lambda keeps 100 unreserved).
    ingest_reserved_concurrency: Annotated[int, Field(ge=0)] = 20
    archive_retention_days: Positive = 90
    # Functions with X-Ray active tracing (`-c traced_functions=sender,sweep,ingest`; `none`: no
    # function): the others run with POWERTOOLS_TRACE_DISABLED and no X-Ray grant.
    traced_functions: tuple[str, ...] = TRACED_BY_DEFAULT

    @field_validator("traced_functions", mode="before")
    @classmethod
    def _function_list(cls, value: Any) -> Any:
        if isinstance(value, str):
            names = [n.strip() for n in value.split(",") if n.strip()]
            return () if names == ["none"] else tuple(names)
        return value

    @field_validator("traced_functions")
    @classmethod
    def _known_functions(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        known = {f.name for f in TOPOLOGY.functions}
        unknown = sorted(set(value) - known)
        if unknown:
            raise ValueError(
                f"traced_functions: no function {', '.join(unknown)} (one of {', '.join(sorted(known))})"
            )
        return value

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
        if self.mail_from_domain and not (
            self.sender_domain and self.mail_from_domain.endswith(f".{self.sender_domain}")
        ):
            raise ValueError(
                "mail_from_domain must be a subdomain of sender_domain (SPF alignment: "
                "bounce.mail.example.com for mail.example.com)"
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

    # Derived names: the default stack `comeback` keeps the names the settings default to (what the
    # local runtime uses and what an existing deployment has), any other stack gets its own.
    @property
    def configuration_set(self) -> str:
        return self.ses_configuration_set or self.stack_name

    @property
    def token_key_secret(self) -> str:
        """The unsubscribe token key's SSM parameter (a SecureString the operator CLI creates)."""
        return f"/{self.stack_name}/unsubscribe-key"

    @property
    def shop_secret_prefix(self) -> str:
        """The path of the shops' SecureString parameters: one path per stack."""
        return f"/{self.stack_name}/shops/"
