"""Synthesis of the stack for tests, and small readers of the synthesized template."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
os.environ.setdefault("JSII_SILENCE_WARNING_UNTESTED_NODE_VERSION", "1")

ROOT = Path(__file__).resolve().parents[2]
CDK_CONTEXT: dict[str, Any] = json.loads((ROOT / "cdk.json").read_text(encoding="utf-8"))["context"]

ACCOUNT_REGION = ("123456789012", "ap-northeast-1")
# A second stage deployed beside the default stack, in the same account and region.
STAGING = "comeback-staging"
# An identity verified elsewhere, imported rather than created.
IMPORTED_IDENTITY = "arn:aws:ses:us-east-1:123456789012:identity/news.shop.example.com"

# The second deployment shape: custom API domain, a sending domain to create (with every email
# authentication option), an alarm e-mail and a faster SES account.
VARIANT = {
    "api_domain": "api.shop.example.com",
    "certificate_arn": "arn:aws:acm:ap-northeast-1:123456789012:certificate/0f0e0d0c-0000-4000-8000-00000000",
    "sender_domain": "mail.shop.example.com",
    "alarm_email": "ops@shop.example.com",
    "ses_max_send_rate": "100",  # as `-c ses_max_send_rate=100` passes it: a string
    "timezone": "Europe/Berlin",
    # email authentication and delivery options, all on
    "mail_from_domain": "bounce.mail.shop.example.com",
    "click_tracking_domain": "click.shop.example.com",
    "vdm": "true",
    "vdm_account": "true",
    "dmarc_policy": "quarantine",
    "dmarc_report_email": "dmarc@shop.example.com",
    "traced_functions": "ingest,sender",  # as `-c traced_functions=ingest,sender` passes it
}


@dataclass
class Synth:
    template: dict[str, Any]
    outdir: Path
    context: dict[str, Any]
    error: str | None = None
    stack: Any = field(default=None, repr=False)

    @property
    def resources(self) -> dict[str, dict[str, Any]]:
        return self.template["Resources"]

    def of_type(self, kind: str) -> dict[str, dict[str, Any]]:
        return {k: r for k, r in self.resources.items() if r["Type"] == kind}

    def props(self, logical_id: str) -> dict[str, Any]:
        return self.resources[logical_id].get("Properties", {})

    def metadata(self) -> dict[str, list[dict[str, Any]]]:
        return json.loads((self.outdir / "Comeback.metadata.json").read_text(encoding="utf-8"))

    def validation_report(self) -> dict[str, Any] | None:
        path = self.outdir / "validation-report.json"
        return json.loads(path.read_text(encoding="utf-8")) if path.exists() else None


def synthesize(
    outdir: Path,
    layer_dir: Path,
    overrides: dict[str, Any] | None = None,
    extra: Any = None,
    environment: tuple[str, str] | None = None,
) -> Synth:
    """Synthesize into `outdir`; `environment` (account, region) binds the stack as the CDK CLI does."""
    from infra.app import build

    context = {**CDK_CONTEXT, "layer_dir": str(layer_dir), "aws:cdk:disable-stack-trace": True}
    context.update(overrides or {})
    saved = {k: os.environ.pop(k, None) for k in ("CDK_DEFAULT_ACCOUNT", "CDK_DEFAULT_REGION")}
    try:
        if environment:
            os.environ["CDK_DEFAULT_ACCOUNT"], os.environ["CDK_DEFAULT_REGION"] = environment
        app, stack = build(context, outdir=str(outdir))
    finally:
        for key, value in saved.items():
            os.environ.pop(key, None)
            if value is not None:
                os.environ[key] = value
    if extra:
        extra(stack)
    error = None
    try:
        app.synth()
    except RuntimeError as exc:  # cdk-nag findings stop the synthesis; the template is written anyway
        error = str(exc)
    template = json.loads((outdir / "Comeback.template.json").read_text(encoding="utf-8"))
    return Synth(template=template, outdir=outdir, context=context, error=error, stack=stack)


def ref_id(value: Any) -> str:
    """The logical id a {"Ref": ...} or {"Fn::GetAtt": [...]} points at."""
    if isinstance(value, dict):
        if "Ref" in value:
            return str(value["Ref"])
        if "Fn::GetAtt" in value:
            return str(value["Fn::GetAtt"][0])
    raise AssertionError(f"not a reference: {value!r}")


def flat(value: Any) -> str:
    """A CloudFormation value as text: literals kept, intrinsics as <LogicalId> (for Fn::Join)."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and "Fn::Join" in value:
        separator, parts = value["Fn::Join"]
        return separator.join(flat(p) for p in parts)
    if isinstance(value, dict) and ("Ref" in value or "Fn::GetAtt" in value):
        return f"<{ref_id(value)}>"
    return json.dumps(value, sort_keys=True)


def statements(synth: Synth, role_id: str) -> list[dict[str, Any]]:
    """Every IAM statement of a role: inline policies and AWS::IAM::Policy resources attached to it."""
    found = []
    for policy in synth.of_type("AWS::IAM::Policy").values():
        if any(ref_id(r) == role_id for r in policy["Properties"]["Roles"]):
            found.extend(policy["Properties"]["PolicyDocument"]["Statement"])
    for inline in synth.props(role_id).get("Policies", []):
        found.extend(inline["PolicyDocument"]["Statement"])
    return found


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def function_id(synth: Synth, name: str) -> str:
    """The logical id of the topology function `name`."""
    wanted = f"{synth.context['stack_name']}-{name}"
    found = [
        k
        for k, r in synth.of_type("AWS::Lambda::Function").items()
        if r["Properties"].get("FunctionName") == wanted
    ]
    assert len(found) == 1, f"function {wanted}: {found}"
    return found[0]


def queue_id(synth: Synth, name: str) -> str:
    """The logical id of the queue named `{stack}-{name}`."""
    wanted = f"{synth.context['stack_name']}-{name}"
    found = [
        k for k, r in synth.of_type("AWS::SQS::Queue").items() if r["Properties"].get("QueueName") == wanted
    ]
    assert len(found) == 1, f"queue {wanted}: {found}"
    return found[0]
