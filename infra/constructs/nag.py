"""Acknowledging cdk-nag findings: the finding ids name resources as cdk-nag renders them."""

from __future__ import annotations

from aws_cdk import Acknowledgment, Stack, Token, Validations
from constructs import IConstruct


def rendered_arn(scope: IConstruct, service: str, resource: str) -> str:
    """An ARN of this stack as it appears in an AwsSolutions-IAM5 finding id.

    Unresolved parts appear as `<AWS::Region>`; under the CDK CLI the stack has a concrete account
    and region, which appear as they are."""
    stack = Stack.of(scope)
    region = "<AWS::Region>" if Token.is_unresolved(stack.region) else stack.region
    account = "<AWS::AccountId>" if Token.is_unresolved(stack.account) else stack.account
    return f"arn:<AWS::Partition>:{service}:{region}:{account}:{resource}"


def acknowledge(scope: IConstruct, rule: str, reason: str) -> None:
    Validations.of(scope).acknowledge(Acknowledgment(id=rule, reason=reason))
