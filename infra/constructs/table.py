"""The single DynamoDB table, declared from `comeback.keys.table_definition`.

The key schema, attribute types and the sparse `due` index come from the package, the same
definition the local runtime creates, so the two cannot drift. On top of it the production
settings: on-demand capacity, point-in-time recovery, deletion protection, TTL, retained on delete.
"""

from __future__ import annotations

from typing import Any

from aws_cdk import RemovalPolicy
from aws_cdk import aws_dynamodb as dynamodb
from constructs import Construct

from comeback.aws import keys

_TYPES = {
    "S": dynamodb.AttributeType.STRING,
    "N": dynamodb.AttributeType.NUMBER,
    "B": dynamodb.AttributeType.BINARY,
}
_PROJECTIONS = {
    "ALL": dynamodb.ProjectionType.ALL,
    "KEYS_ONLY": dynamodb.ProjectionType.KEYS_ONLY,
    "INCLUDE": dynamodb.ProjectionType.INCLUDE,
}


def _key(definition: dict[str, Any], schema: list[dict[str, str]], kind: str) -> dynamodb.Attribute | None:
    types = {a["AttributeName"]: a["AttributeType"] for a in definition["AttributeDefinitions"]}
    name = next((k["AttributeName"] for k in schema if k["KeyType"] == kind), None)
    return dynamodb.Attribute(name=name, type=_TYPES[types[name]]) if name else None


class Table(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, table_name: str) -> None:
        super().__init__(scope, construct_id)
        definition = keys.table_definition(table_name)
        self.table = dynamodb.Table(
            self,
            "Table",
            table_name=str(definition["TableName"]),
            partition_key=_key(definition, definition["KeySchema"], "HASH"),  # type: ignore[arg-type]
            sort_key=_key(definition, definition["KeySchema"], "RANGE"),
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            deletion_protection=True,
            time_to_live_attribute=keys.TTL,
            # encrypted at rest with an AWS owned key (no KMS requests billed per read and write)
            encryption=dynamodb.TableEncryption.DEFAULT,
            removal_policy=RemovalPolicy.RETAIN,
        )
        for index in definition["GlobalSecondaryIndexes"]:  # type: ignore[attr-defined]
            projection = index["Projection"]
            self.table.add_global_secondary_index(
                index_name=index["IndexName"],
                partition_key=_key(definition, index["KeySchema"], "HASH"),  # type: ignore[arg-type]
                sort_key=_key(definition, index["KeySchema"], "RANGE"),
                projection_type=_PROJECTIONS[projection["ProjectionType"]],
                non_key_attributes=projection.get("NonKeyAttributes"),
            )

    @property
    def table_arn(self) -> str:
        return self.table.table_arn

    def index_arn(self, index: str) -> str:
        return f"{self.table.table_arn}/index/{index}"

    @property
    def table_name(self) -> str:
        return self.table.table_name
