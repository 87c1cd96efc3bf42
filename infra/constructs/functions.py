"""The function factory: every comeback Lambda function with the same production defaults.

python3.13 on arm64 with the shared dependency layer, handler code as an asset of
`functions/<name>/` with its CPython 3.13 bytecode (compiled at synthesis, no Docker), memory and
timeout from the topology, X-Ray active tracing where the deployment asks for it (context
`traced_functions`; elsewhere POWERTOOLS_TRACE_DISABLED and no X-Ray grant), JSON logs to a log
group with a retention, Powertools configured by environment, and a role of its own that starts
with nothing but writing to its own log group; `infra/constructs/access.py` adds what each needs.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path
from typing import Any, cast

import jsii
from aws_cdk import (
    AssetHashType,
    BundlingOptions,
    DockerImage,
    Duration,
    ILocalBundling,
    RemovalPolicy,
    Stack,
)
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from comeback.app import topology

from .. import packaging
from .nag import acknowledge

ROOT = Path(__file__).resolve().parents[2]
METRICS_NAMESPACE = "Comeback"
RUNTIME = lambda_.Runtime.PYTHON_3_13
ARCHITECTURE = lambda_.Architecture.ARM_64

_LEVELS = {
    "DEBUG": lambda_.ApplicationLogLevel.DEBUG,
    "INFO": lambda_.ApplicationLogLevel.INFO,
    "WARNING": lambda_.ApplicationLogLevel.WARN,
    "WARN": lambda_.ApplicationLogLevel.WARN,
    "ERROR": lambda_.ApplicationLogLevel.ERROR,
}


def dependency_layer(scope: Construct, construct_id: str, layer_dir: Path) -> lambda_.LayerVersion:
    """The layer infra/packaging.py built (infra/app.py builds it when stale): dependencies and `comeback`."""
    if not (layer_dir / "python").is_dir():
        raise FileNotFoundError(
            f"no dependency layer in {layer_dir}: run `make layer` (or pass -c layer_dir=<dir>)"
        )
    return lambda_.LayerVersion(
        scope,
        construct_id,
        description="comeback: runtime dependencies (manylinux aarch64, cp313) and the comeback package",
        # the stamp only says what the directory was built from; Lambda has no use for it
        code=lambda_.Code.from_asset(str(layer_dir), exclude=[packaging.STAMP]),
        compatible_runtimes=[RUNTIME],
        compatible_architectures=[ARCHITECTURE],
        removal_policy=RemovalPolicy.RETAIN,  # older versions stay usable during a rollback
    )


class ComebackFunction(Construct):
    """One function of the topology, its log group and its own role."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        spec: topology.Function,
        layer: lambda_.ILayerVersion,
        environment: dict[str, str],
        log_retention_days: int,
        log_level: str,
        functions_root: Path = ROOT,
        reserved_concurrency: int | None = None,
        traced: bool = True,
    ) -> None:
        super().__init__(scope, construct_id)
        self.spec = spec
        self.traced = traced
        self.log_group = logs.LogGroup(
            self,
            "Logs",
            log_group_name=f"/aws/lambda/{Stack.of(self).stack_name}-{spec.name}",
            retention=log_retention(log_retention_days),
            # named like Lambda's own group, so a redeploy after a stack deletion must find it gone
            removal_policy=RemovalPolicy.DESTROY,
        )
        self.role = iam.Role(
            self,
            "Role",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description=f"comeback {spec.name}: least privilege for its own work",
        )
        # No AWSLambdaBasicExecutionRole: the log group exists, so the function only writes to it.
        self.role.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["logs:CreateLogStream", "logs:PutLogEvents"],
                resources=[self.log_group.log_group_arn],
            )
        )
        code_dir = functions_root / "functions" / spec.name
        self.function = lambda_.Function(
            self,
            "Function",
            function_name=f"{Stack.of(self).stack_name}-{spec.name}",
            description=f"comeback: {spec.description}",
            runtime=RUNTIME,
            architecture=ARCHITECTURE,
            handler=spec.lambda_handler,
            code=handler_code(code_dir),
            layers=[layer],
            memory_size=spec.memory_mb,
            timeout=Duration.seconds(spec.timeout_seconds),
            reserved_concurrent_executions=reserved_concurrency,
            tracing=lambda_.Tracing.ACTIVE if traced else lambda_.Tracing.DISABLED,
            role=self.role,
            log_group=self.log_group,
            logging_format=lambda_.LoggingFormat.JSON,
            application_log_level_v2=_LEVELS[log_level.upper()],
            system_log_level_v2=lambda_.SystemLogLevel.WARN,
            environment={
                **environment,
                "POWERTOOLS_SERVICE_NAME": spec.name,
                "POWERTOOLS_METRICS_NAMESPACE": METRICS_NAMESPACE,
                "POWERTOOLS_LOG_LEVEL": log_level.upper(),
                # without active tracing the Tracer must not try to send segments either
                **({} if traced else {"POWERTOOLS_TRACE_DISABLED": "true"}),
            },
        )
        acknowledge(
            self.function,
            "AwsSolutions-L1",
            "python3.13 on purpose: the dependency layer is built for CPython 3.13 (cp313 "
            "wheels, infra/packaging.py); moving to a newer runtime means rebuilding it, a decision.",
        )
        if traced:
            # Active tracing adds xray:PutTraceSegments/PutTelemetryRecords to the role's policy.
            acknowledge(
                self.role,
                "AwsSolutions-IAM5[Resource::*]",
                "X-Ray PutTraceSegments and PutTelemetryRecords support no resource-level "
                "permissions; '*' is the only resource they accept (added by Tracing.ACTIVE).",
            )


@jsii.implements(ILocalBundling)
class _CompiledHandler:
    """Bundles a function folder on this machine: its sources and their CPython 3.13 bytecode.

    /var/task is read-only in Lambda, so without the bytecode every cold start compiles the handler
    again. Without a CPython 3.13 here (only possible in tests: the layer build itself needs one)
    the sources alone are staged, with a warning."""

    def __init__(self, source: Path) -> None:
        self.source = source

    def try_bundle(self, output_dir: str, _options: Any) -> bool:
        shutil.copytree(self.source, output_dir, dirs_exist_ok=True, ignore=_NO_BYTECODE)
        try:
            packaging.compile_tree(Path(output_dir), "/var/task")
        except packaging.LayerBuildError as error:
            sys.stderr.write(f"WARNING: {self.source.name} staged without bytecode: {error}\n")
        return True


_NO_BYTECODE = shutil.ignore_patterns("__pycache__", "*.pyc")


def handler_code(code_dir: Path) -> lambda_.Code:
    """`functions/<name>/` as Lambda runs it from /var/task, with its bytecode."""
    return lambda_.Code.from_asset(
        str(code_dir),
        # no `exclude`: it would apply to the bundled output too and drop the bytecode (the bundler
        # copies the sources without any stale __pycache__ of this machine)
        # hashed on what is staged, so code staged with bytecode never shares a hash with code without
        asset_hash_type=AssetHashType.OUTPUT,
        bundling=BundlingOptions(
            image=DockerImage.from_registry("unused-local-bundling-only"),  # never pulled: local succeeds
            # jsii hands the options over as one positional struct, unlike the keyword-only stub
            local=cast(ILocalBundling, _CompiledHandler(code_dir)),
        ),
    )


# CloudWatch Logs accepts these retentions only (days -> the CDK's names for them).
_DAYS = "1 3 5 7 14 30 60 90 120 150 180 365 400 545 731 1096 1827 2192 2557 2922 3288 3653"
RETENTION_DAYS = dict(
    zip(
        (int(d) for d in _DAYS.split()),
        [r for r in logs.RetentionDays if r is not logs.RetentionDays.INFINITE],
        strict=True,
    )
)


def log_retention(days: int) -> logs.RetentionDays:
    try:
        return RETENTION_DAYS[days]
    except KeyError:
        raise ValueError(f"log_retention_days must be one of {sorted(RETENTION_DAYS)}, got {days}") from None
