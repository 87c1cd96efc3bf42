"""Secrets: the customer-managed KMS key of every comeback secret, and who may read which.

The key is the stack's only one: the alarm topic is encrypted with it too, under a key-policy
grant to CloudWatch bounded by the topic's encryption context (infra/constructs/monitoring.py).

Shop signing secrets and the unsubscribe token key are SecureString parameters in SSM Parameter
Store (standard tier: no monthly charge), encrypted with this key. None is created here:
CloudFormation cannot create a SecureString parameter, and a key generated in the template would be
readable in it. The operator CLI creates them: `comeback shops create` writes the shop's parameter
under `/<stack>/shops/` and, the first time, the token key `/<stack>/unsubscribe-key` (no email is
sent, so no token is checked, before the first shop exists). Both outlive the stack, as the Secrets
Manager secrets they replace did (removal policy RETAIN).

Reads are scoped to the stack's paths (`ssm:GetParameter` only), and `kms:Decrypt` on the key only
when Parameter Store asks on the role's behalf for a parameter of those paths (its encryption
context names the parameter's ARN).
"""

from __future__ import annotations

from aws_cdk import ArnFormat, Duration, RemovalPolicy, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from constructs import Construct

from .nag import acknowledge, rendered_arn


class Secrets(Construct):
    def __init__(
        self, scope: Construct, construct_id: str, *, token_key_name: str, shop_secret_prefix: str
    ) -> None:
        super().__init__(scope, construct_id)
        if not (shop_secret_prefix.startswith("/") and shop_secret_prefix.endswith("/")):
            raise ValueError(
                f"shop_secret_prefix is a parameter path, /<stack>/shops/: {shop_secret_prefix!r}"
            )
        if token_key_name.startswith(shop_secret_prefix):
            raise ValueError("the token key must not be under the shops' path (ingest reads that path)")
        self.shop_secret_prefix = shop_secret_prefix
        self.token_key_name = token_key_name
        self.key = kms.Key(
            self,
            "Key",
            description="comeback: shop signing secrets and the unsubscribe token key (SSM SecureString)",
            enable_key_rotation=True,
            removal_policy=RemovalPolicy.RETAIN,
            pending_window=Duration.days(30),
        )

    def parameter_arn(self, name: str) -> str:
        """The ARN of a parameter, or of a path with a trailing `*` (`parameter/` + the name
        without its leading slash)."""
        return Stack.of(self).format_arn(
            service="ssm",
            resource="parameter",
            resource_name=name.removeprefix("/"),
            arn_format=ArnFormat.SLASH_RESOURCE_NAME,
        )

    @property
    def shop_secrets_arn(self) -> str:
        """Every shop's parameter: `{prefix}{shop_id}`."""
        return self.parameter_arn(f"{self.shop_secret_prefix}*")

    @property
    def token_key_arn(self) -> str:
        return self.parameter_arn(self.token_key_name)

    def grant_read_shop_secrets(self, role: iam.IRole) -> None:
        self._grant_read(role, self.shop_secrets_arn)
        nag_arn = rendered_arn(self, "ssm", f"parameter/{self.shop_secret_prefix.removeprefix('/')}*")
        acknowledge(
            role,
            f"AwsSolutions-IAM5[Resource::{nag_arn}]",
            "Shop secrets are created per shop at run time by the operator CLI, so the ingest "
            "function reads them by path; the path holds shop signing secrets only.",
        )

    def grant_read_token_key(self, role: iam.IRole) -> None:
        self._grant_read(role, self.token_key_arn)

    def _grant_read(self, role: iam.IRole, parameter_arn: str) -> None:
        """ssm:GetParameter on `parameter_arn`, and kms:Decrypt on this key only when Parameter
        Store asks on the role's behalf for a parameter matching it."""
        stack = Stack.of(self)
        role.add_to_principal_policy(
            iam.PolicyStatement(actions=["ssm:GetParameter"], resources=[parameter_arn])
        )
        role.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["kms:Decrypt"],
                resources=[self.key.key_arn],
                conditions={
                    "StringEquals": {"kms:ViaService": f"ssm.{stack.region}.{stack.url_suffix}"},
                    "StringLike": {"kms:EncryptionContext:PARAMETER_ARN": parameter_arn},
                },
            )
        )
