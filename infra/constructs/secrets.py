"""Secrets: the customer-managed KMS key of every comeback secret, and the unsubscribe token key.

Shop signing secrets are not created here: the operator CLI (`comeback shops create`) creates one
per shop under `shop_secret_prefix`, encrypted with this key (its ARN is a stack output).
"""

from __future__ import annotations

from aws_cdk import ArnFormat, Duration, RemovalPolicy, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from .nag import acknowledge, rendered_arn


class Secrets(Construct):
    def __init__(
        self, scope: Construct, construct_id: str, *, token_key_name: str, shop_secret_prefix: str
    ) -> None:
        super().__init__(scope, construct_id)
        self.shop_secret_prefix = shop_secret_prefix
        self.key = kms.Key(
            self,
            "Key",
            description="comeback: shop signing secrets and the unsubscribe token key",
            enable_key_rotation=True,
            removal_policy=RemovalPolicy.RETAIN,
            pending_window=Duration.days(30),
        )
        self.token_key = secretsmanager.Secret(
            self,
            "TokenKey",
            secret_name=token_key_name,
            description="comeback: HMAC key that signs unsubscribe tokens",
            encryption_key=self.key,
            generate_secret_string=secretsmanager.SecretStringGenerator(
                password_length=64, exclude_punctuation=True
            ),
            removal_policy=RemovalPolicy.RETAIN,
        )
        acknowledge(
            self.token_key,
            "AwsSolutions-SMG4",
            "The unsubscribe token key is not rotated automatically: every link in an email "
            "already sent (valid for a year) would stop working. It is rotated by hand when needed.",
        )

    @property
    def shop_secrets_arn(self) -> str:
        """Every shop's secret: `{prefix}{shop_id}` plus the random suffix Secrets Manager appends."""
        return Stack.of(self).format_arn(
            service="secretsmanager",
            resource="secret",
            resource_name=f"{self.shop_secret_prefix}*",
            arn_format=ArnFormat.COLON_RESOURCE_NAME,
        )

    def grant_read_shop_secrets(self, role: iam.IRole) -> None:
        role.add_to_principal_policy(
            iam.PolicyStatement(actions=["secretsmanager:GetSecretValue"], resources=[self.shop_secrets_arn])
        )
        self.grant_decrypt_via_secrets_manager(role)
        nag_arn = rendered_arn(self, "secretsmanager", f"secret:{self.shop_secret_prefix}*")
        acknowledge(
            role,
            f"AwsSolutions-IAM5[Resource::{nag_arn}]",
            "Shop secrets are created per shop at run time by the operator CLI, so the ingest "
            "function reads them by name prefix; the prefix holds shop signing secrets only.",
        )

    def grant_read_token_key(self, role: iam.IRole) -> None:
        role.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["secretsmanager:GetSecretValue"], resources=[self.token_key.secret_arn]
            )
        )
        self.grant_decrypt_via_secrets_manager(role)

    def grant_decrypt_via_secrets_manager(self, role: iam.IRole) -> None:
        """kms:Decrypt on this key, only when Secrets Manager asks on the role's behalf."""
        stack = Stack.of(self)
        role.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["kms:Decrypt"],
                resources=[self.key.key_arn],
                conditions={
                    "StringEquals": {"kms:ViaService": f"secretsmanager.{stack.region}.{stack.url_suffix}"}
                },
            )
        )
