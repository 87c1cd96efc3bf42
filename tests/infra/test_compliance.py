"""cdk-nag (AWS Solutions) finds nothing unacknowledged, every acknowledgment has a reason, and
cfn-lint finds no error in the template CloudFormation will receive."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.infra.helpers import Synth, synthesize

# W3005 (DependsOn already implied by a GetAtt) is how the CDK orders a function after its role's policy.
ACCEPTED_LINT_WARNINGS = {"W3005"}


def _acknowledged(synth: Synth) -> dict[str, dict[str, str]]:
    found: dict[str, dict[str, str]] = {}
    for path, entries in synth.metadata().items():
        for entry in entries:
            if entry["type"] == "aws:cdk:acknowledged-rules":
                found.setdefault(path, {}).update(entry["data"])
    return found


SHAPES = ["default", "deployed", "variant", "imported"]


@pytest.mark.parametrize("shape", SHAPES)
def test_cdk_nag_reports_no_unacknowledged_finding(shape: str, request: pytest.FixtureRequest) -> None:
    synth: Synth = request.getfixturevalue(shape)
    assert synth.error is None, synth.error
    report = synth.validation_report()
    violations = [
        v for plugin in (report or {}).get("pluginReports", []) for v in plugin.get("violations", [])
    ]
    assert violations == []


@pytest.mark.parametrize("shape", SHAPES)
def test_every_acknowledged_rule_names_a_real_reason(shape: str, request: pytest.FixtureRequest) -> None:
    acknowledged = _acknowledged(request.getfixturevalue(shape))
    assert acknowledged, "cdk-nag acknowledgments are recorded in the cloud assembly"
    for path, rules in acknowledged.items():
        for rule, reason in rules.items():
            assert "AwsSolutions-" in rule, (path, rule)
            assert len(reason.split()) >= 8, (path, rule, reason)


def test_the_acknowledged_rules_are_the_expected_few(default: Synth) -> None:
    rules = {rule.split("::", 1)[-1] for rules in _acknowledged(default).values() for rule in rules}
    assert {r.split("[", 1)[0] for r in rules} == {
        "AwsSolutions-IAM5",  # X-Ray '*', shop secrets by parameter path, SES identity/* without an identity
        "AwsSolutions-L1",  # python3.13, the layer's ABI
        "AwsSolutions-SQS3",  # DLQs fed by EventBridge and Scheduler, not by a redrive
        "AwsSolutions-APIG4",  # HMAC signatures and signed tokens instead of an authorizer
    }


def test_cdk_nag_stops_a_synthesis_with_an_unacceptable_resource(tmp_path: Path, layer_dir: Path) -> None:
    """The check is live in the app: a plain queue (no DLQ, no TLS-only policy) fails the synthesis."""
    from aws_cdk import aws_sqs as sqs

    synth = synthesize(tmp_path, layer_dir, extra=lambda stack: sqs.Queue(stack, "Careless"))
    assert synth.error is not None and "ValidationFailed" in synth.error
    report = synth.validation_report()
    assert report is not None
    flagged = {
        (v["ruleName"], c["constructPath"])
        for plugin in report["pluginReports"]
        for v in plugin["violations"]
        for c in v["violatingConstructs"]
    }
    assert ("AwsSolutions-SQS3", "Comeback/Careless/Resource") in flagged
    assert ("AwsSolutions-SQS4", "Comeback/Careless/Resource") in flagged
    assert {path for _, path in flagged} == {"Comeback/Careless/Resource"}


@pytest.mark.parametrize("shape", SHAPES)
def test_cfn_lint_finds_no_error(shape: str, request: pytest.FixtureRequest) -> None:
    from cfnlint.api import ManualArgs, lint_file

    synth: Synth = request.getfixturevalue(shape)
    matches = lint_file(
        synth.outdir / "Comeback.template.json",
        config=ManualArgs(regions=["us-east-1", "ap-northeast-1", "eu-central-1"]),
    )
    problems = [
        f"{m.rule.id} {m.message} ({m.path})" for m in matches if m.rule.id not in ACCEPTED_LINT_WARNINGS
    ]
    assert problems == []
    assert not [m for m in matches if m.rule.id.startswith("E")]
